// Package task runs one task — one document through one pipeline — end to
// end on the runtime, in this order: private workspace → pages → estimate →
// admission (a memory reservation, perhaps on the fallback device) →
// pipeline semaphore → model lease → per page: pool lane → runner → result.
// A model already loaded on the device is leased before admission instead,
// so that no admission can evict it between the estimate that counted it as
// resident and its use. Everything taken is given back in defers that run on
// success, failure, cancellation, timeout and panic, and each run returns
// what it cost (Resources).
package task
