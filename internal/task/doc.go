// Package task runs one task — one document through one pipeline — end to
// end on the runtime, in this order: private workspace → pages → estimate →
// admission (a memory reservation, perhaps on the fallback device) →
// pipeline semaphore → model lease → per page: pool lane → runner → result.
// Everything taken is given back in defers that run on success, failure,
// cancellation, timeout and panic, and each run returns what it cost
// (Resources).
package task
