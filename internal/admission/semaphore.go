package admission

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Semaphores caps concurrent work per pipeline with weighted FIFO
// semaphores; a pipeline without a limit is not capped.
type Semaphores struct {
	mu      sync.Mutex // guards inUse, waiting and changed
	changed chan struct{}
	sems    map[string]*semaphore.Weighted
	limits  map[string]int64
	inUse   map[string]int64
	waiting map[string]int64
}

// NewSemaphores returns semaphores with the given limits per pipeline.
func NewSemaphores(limits map[string]int64) *Semaphores {
	s := &Semaphores{changed: make(chan struct{}), sems: map[string]*semaphore.Weighted{}, limits: map[string]int64{}, inUse: map[string]int64{}, waiting: map[string]int64{}}
	for p, n := range limits {
		if n > 0 {
			s.sems[p] = semaphore.NewWeighted(n)
			s.limits[p] = n
		}
	}
	return s
}

// Acquire takes one unit of pipeline's semaphore, waiting in FIFO order
// until one is free or ctx ends. The returned release is idempotent.
func (s *Semaphores) Acquire(ctx context.Context, pipeline string) (release func(), err error) {
	sem := s.sems[pipeline]
	if sem == nil {
		return func() {}, nil
	}
	s.add(s.waiting, pipeline, 1)
	err = sem.Acquire(ctx, 1)
	s.add(s.waiting, pipeline, -1)
	if err != nil {
		return nil, err
	}
	s.add(s.inUse, pipeline, 1)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.add(s.inUse, pipeline, -1)
			sem.Release(1)
		})
	}, nil
}

func (s *Semaphores) add(m map[string]int64, p string, d int64) {
	s.mu.Lock()
	m[p] += d
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
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
}

// Snapshot returns every capped pipeline's semaphore.
func (s *Semaphores) Snapshot() []SemaphoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SemaphoreStats
	for p, n := range s.limits {
		out = append(out, SemaphoreStats{Pipeline: p, Limit: n, InUse: s.inUse[p], Waiting: s.waiting[p]})
	}
	return out
}
