// Package clock provides the time source that every timed part of Lector takes
// by injection: keep-alive expiry, idle timeouts, hysteresis and polling are
// tested by advancing a Fake clock instead of sleeping.
package clock

import "time"

// Clock is what timed code needs from time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, unless the
	// returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker returns a ticker that sends the time on C every d.
	NewTicker(d time.Duration) Ticker
}

// Timer is a stoppable pending call.
type Timer interface {
	// Stop prevents the call; it reports whether it stopped a pending call.
	Stop() bool
}

// Ticker delivers ticks on a channel until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
