// Package testsignal lets a test wait for something that happened inside a
// running part — a model loaded, a task given its lane — without reading
// its logs or sleeping (River's internal/testsignal is the model). A
// Signal does nothing until a test calls Init; production code sends on it
// unconditionally.
package testsignal

import (
	"testing"
	"time"
)

// bufferSize is how many unread values a signal keeps (the newest).
const bufferSize = 256

// Signal carries values of one kind from the code under test to a test.
type Signal[T any] struct {
	ch chan T
}

// Init enables the signal (tests only; call it before the code that sends
// starts).
func (s *Signal[T]) Init() { s.ch = make(chan T, bufferSize) }

// Send records v for a test that called Init, and does nothing otherwise.
// It never blocks the code under test: when bufferSize values are unread,
// the oldest is dropped (a test waits for what happens next, not for
// history).
func (s *Signal[T]) Send(v T) {
	if s.ch == nil {
		return
	}
	for {
		select {
		case s.ch <- v:
			return
		default:
			select {
			case <-s.ch:
			default:
			}
		}
	}
}

// WaitBound is how long Wait waits before it fails the test: a bound on a
// bug (a signal that never comes), not a measure of anything.
const WaitBound = 2 * time.Minute

// Wait returns the first value sent (now or later) that match accepts (nil
// accepts any), discarding the others; it fails the test after WaitBound.
func (s *Signal[T]) Wait(t testing.TB, match func(T) bool) T {
	t.Helper()
	if s.ch == nil {
		t.Fatal("testsignal: Wait on a signal that was never Init'ed")
	}
	bound := time.NewTimer(WaitBound)
	defer bound.Stop()
	for {
		select {
		case v := <-s.ch:
			if match == nil || match(v) {
				return v
			}
		case <-bound.C:
			var zero T
			t.Fatalf("testsignal: no matching %T within %s", zero, WaitBound)
		}
	}
}
