package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a Clock that moves only when Advance is called. Timers due during an
// Advance run synchronously, in due order, in the goroutine that called
// Advance, so a test knows that their effects have happened when Advance
// returns. Tickers receive at most one buffered tick, like time.Ticker.
type Fake struct {
	mu      sync.Mutex // guards all fields below
	now     time.Time
	seq     int
	timers  []*fakeTimer
	tickers []*fakeTicker
	waiters []chan struct{}
}

var _ Clock = (*Fake)(nil)

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc schedules fn for now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	t := &fakeTimer{clock: f, when: f.now.Add(d), fn: fn, seq: f.seq}
	f.timers = append(f.timers, t)
	f.notifyLocked()
	return t
}

// NewTicker returns a ticker driven by Advance.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{clock: f, every: d, next: f.now.Add(d), c: make(chan time.Time, 1)}
	f.tickers = append(f.tickers, t)
	f.notifyLocked()
	return t
}

// Pending returns how many timers and tickers are active.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers) + len(f.tickers)
}

// WaitPending blocks until at least n timers and tickers are active, so a test
// can advance time only after the code under test has armed its timer. It
// returns false if done is closed first.
func (f *Fake) WaitPending(n int, done <-chan struct{}) bool {
	for {
		f.mu.Lock()
		if len(f.timers)+len(f.tickers) >= n {
			f.mu.Unlock()
			return true
		}
		ch := make(chan struct{})
		f.waiters = append(f.waiters, ch)
		f.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

func (f *Fake) notifyLocked() {
	for _, w := range f.waiters {
		close(w)
	}
	f.waiters = nil
}

// Advance moves the clock forward by d, firing due timers and ticks.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		sort.SliceStable(f.timers, func(i, j int) bool {
			if f.timers[i].when.Equal(f.timers[j].when) {
				return f.timers[i].seq < f.timers[j].seq
			}
			return f.timers[i].when.Before(f.timers[j].when)
		})
		if len(f.timers) == 0 || f.timers[0].when.After(end) {
			break
		}
		t := f.timers[0]
		f.timers = f.timers[1:]
		if t.when.After(f.now) {
			f.now = t.when
		}
		f.mu.Unlock()
		t.fn()
		f.mu.Lock()
	}
	f.now = end
	for _, tk := range f.tickers {
		if !tk.next.After(end) {
			select {
			case tk.c <- end:
			default:
			}
			for !tk.next.After(end) {
				tk.next = tk.next.Add(tk.every)
			}
		}
	}
	f.mu.Unlock()
}

type fakeTimer struct {
	clock *Fake
	when  time.Time
	fn    func()
	seq   int
}

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}

type fakeTicker struct {
	clock *Fake
	every time.Duration
	next  time.Time
	c     chan time.Time
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.tickers {
		if x == t {
			f.tickers = append(f.tickers[:i], f.tickers[i+1:]...)
			return
		}
	}
}
