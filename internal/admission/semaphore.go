package admission

import (
	"context"
	"sync"
)

// Semaphores caps concurrent work per pipeline with FIFO semaphores; a
// pipeline without a limit is not capped. They are built here rather than on
// x/sync's semaphore so that a waiter is counted in the same critical
// section that queues it: Snapshot's waiting count is then exact, and an
// observer that saw n waiters knows their order.
type Semaphores struct {
	mu      sync.Mutex // guards everything below
	changed chan struct{}
	limits  map[string]int64
	inUse   map[string]int64
	peak    map[string]int64           // most units in use at once since start
	queue   map[string][]chan struct{} // waiters in arrival order
}

// NewSemaphores returns semaphores with the given limits per pipeline.
func NewSemaphores(limits map[string]int64) *Semaphores {
	s := &Semaphores{changed: make(chan struct{}), limits: map[string]int64{}, inUse: map[string]int64{}, peak: map[string]int64{}, queue: map[string][]chan struct{}{}}
	for p, n := range limits {
		if n > 0 {
			s.limits[p] = n
		}
	}
	return s
}

// Acquire takes one unit of pipeline's semaphore, waiting in FIFO order
// until one is free or ctx ends. The returned release is idempotent.
func (s *Semaphores) Acquire(ctx context.Context, pipeline string) (release func(), err error) {
	s.mu.Lock()
	limit, capped := s.limits[pipeline]
	if !capped {
		s.mu.Unlock()
		return func() {}, nil
	}
	var once sync.Once
	release = func() { once.Do(func() { s.release(pipeline) }) }
	if s.inUse[pipeline] < limit && len(s.queue[pipeline]) == 0 {
		s.inUse[pipeline]++
		s.peak[pipeline] = max(s.peak[pipeline], s.inUse[pipeline])
		s.signalLocked()
		s.mu.Unlock()
		return release, nil
	}
	ch := make(chan struct{})
	s.queue[pipeline] = append(s.queue[pipeline], ch)
	s.signalLocked()
	s.mu.Unlock()
	select {
	case <-ch: // handed a unit by release
		return release, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for i, w := range s.queue[pipeline] {
		if w == ch {
			s.queue[pipeline] = append(s.queue[pipeline][:i:i], s.queue[pipeline][i+1:]...)
			s.signalLocked()
			s.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	s.mu.Unlock()
	release() // handed a unit while giving up: pass it on
	return nil, ctx.Err()
}

// release hands the unit to the first waiter, or frees it.
func (s *Semaphores) release(pipeline string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queue[pipeline]; len(q) > 0 {
		s.queue[pipeline] = q[1:]
		close(q[0])
	} else {
		s.inUse[pipeline]--
	}
	s.signalLocked()
}

func (s *Semaphores) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of any count: a
// signal for observers (tests, metrics) instead of polling.
func (s *Semaphores) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// SemaphoreStats is one pipeline's semaphore.
type SemaphoreStats struct {
	Pipeline string `json:"pipeline"`
	Limit    int64  `json:"limit"`
	InUse    int64  `json:"in_use"`
	Waiting  int64  `json:"waiting"`
	Peak     int64  `json:"peak"` // most in use at once since the process started
}

// Snapshot returns every capped pipeline's semaphore.
func (s *Semaphores) Snapshot() []SemaphoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SemaphoreStats
	for p, n := range s.limits {
		out = append(out, SemaphoreStats{Pipeline: p, Limit: n, InUse: s.inUse[p], Waiting: int64(len(s.queue[p])), Peak: s.peak[p]})
	}
	return out
}
