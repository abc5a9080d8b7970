// Package model is the model manager: it loads model instances (one model
// on one device, living in one runner process) on first use, shares them by
// reference count, unloads them after their keep-alive, evicts idle ones
// under memory pressure, and replaces those that crash.
//
// Invariants, guarded by Manager.mu:
//   - at most one instance per (model, device) key is in the map; a loading
//     one is loaded exactly once however many callers wait for it;
//   - refs > 0 ⇒ the instance is never expired or evicted;
//   - a draining or stopping instance takes no new leases; callers wait until
//     it is gone and then load afresh;
//   - every instance leaves the map in one place (watch), when its runner
//     process has exited, with one recorded reason.
package model
