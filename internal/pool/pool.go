// Package pool is the service pool: one service per device, each with a
// number of lanes (how many pages it works on at once). Acquire returns a
// lane on an eligible device or waits in a bounded queue; tasks take turns
// for freed lanes, so a long document does not starve a short one.
package pool

import (
	"context"
	"sync"
	"time"

	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/obs"
)

// Service configures one device's service.
type Service struct {
	Device string
	Lanes  int
}

// Request asks for a lane.
type Request struct {
	// Task groups the requests of one task: waiting tasks take turns.
	Task string
	// Devices are the eligible devices, in order of preference.
	Devices []string
}

// Lane is one unit of work capacity on a device, held until Release.
type Lane struct {
	Device string
	Index  int
	// Wait is how long Acquire waited for this lane.
	Wait time.Duration

	p    *Pool
	once sync.Once
}

// Release gives the lane back, handing it to the next waiter if any. It is
// idempotent.
func (l *Lane) Release() {
	l.once.Do(func() { l.p.release(l.Device, l.Index) })
}

type waiter struct {
	req  Request
	lane chan *Lane // buffered 1; receives the lane handed over
	done bool       // handed a lane or gone; guarded by Pool.mu
}

type taskQueue struct {
	task    string
	waiters []*waiter
}

// Pool is the service pool. Its zero value is not usable; use New.
type Pool struct {
	clock   clock.Clock
	maxWait int

	mu     sync.Mutex // guards everything below
	lanes  map[string]int
	free   map[string][]int // free lane indices per device
	order  []string         // devices in configuration order
	tasks  []*taskQueue     // waiting tasks, in turn order
	turn   int              // index into tasks of the task whose turn is next
	queued int

	onEnqueue func() // test signal: a waiter joined the queue (called with mu held)
}

// Defaults of `lector serve`'s pool.
const (
	DefaultQueueLength = 256 // pages waiting for a lane, all devices together
	DefaultGPULanes    = 1   // pages each GPU works on at once
)

// New returns a pool of services with a queue bounded at queueLength.
func New(services []Service, queueLength int, c clock.Clock) *Pool {
	p := &Pool{clock: obs.Clock(c), maxWait: queueLength, lanes: map[string]int{}, free: map[string][]int{}}
	for _, s := range services {
		p.order = append(p.order, s.Device)
		p.lanes[s.Device] = s.Lanes
		for i := s.Lanes - 1; i >= 0; i-- {
			p.free[s.Device] = append(p.free[s.Device], i)
		}
	}
	return p
}

// Lanes returns how many lanes device has (0 when it has no service).
func (p *Pool) Lanes(device string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lanes[device]
}

// Acquire returns a free lane on one of req's devices, or waits for one. A
// full queue answers queue_full at once; a caller whose ctx ends leaves the
// queue at once with ctx's error.
func (p *Pool) Acquire(ctx context.Context, req Request) (*Lane, error) {
	start := p.clock.Now()
	p.mu.Lock()
	eligible := false
	for _, d := range req.Devices {
		if _, ok := p.lanes[d]; ok {
			eligible = true
		}
		if f := p.free[d]; len(f) > 0 {
			idx := f[len(f)-1]
			p.free[d] = f[:len(f)-1]
			p.mu.Unlock()
			return &Lane{Device: d, Index: idx, p: p}, nil
		}
	}
	if !eligible {
		p.mu.Unlock()
		return nil, errcode.New(errcode.InvalidArgument, "no service for devices %v", req.Devices)
	}
	if p.queued >= p.maxWait {
		p.mu.Unlock()
		return nil, errcode.New(errcode.QueueFull, "all %d queue places are taken", p.maxWait)
	}
	w := &waiter{req: req, lane: make(chan *Lane, 1)}
	p.enqueueLocked(w)
	if p.onEnqueue != nil {
		p.onEnqueue()
	}
	p.mu.Unlock()

	select {
	case l := <-w.lane:
		l.Wait = p.clock.Now().Sub(start)
		return l, nil
	case <-ctx.Done():
		p.mu.Lock()
		if !w.done {
			p.removeLocked(w)
			p.mu.Unlock()
			return nil, ctx.Err()
		}
		p.mu.Unlock()
		(<-w.lane).Release() // handed a lane as we gave up: pass it on
		return nil, ctx.Err()
	}
}

func (p *Pool) enqueueLocked(w *waiter) {
	p.queued++
	for _, tq := range p.tasks {
		if tq.task == w.req.Task {
			tq.waiters = append(tq.waiters, w)
			return
		}
	}
	// A new task joins the rotation just before the task whose turn is next,
	// so it is served after every task already waiting has had a turn.
	tq := &taskQueue{task: w.req.Task, waiters: []*waiter{w}}
	p.tasks = append(p.tasks, nil)
	copy(p.tasks[p.turn+1:], p.tasks[p.turn:])
	p.tasks[p.turn] = tq
	p.turn++
	if p.turn >= len(p.tasks) {
		p.turn = 0
	}
}

func (p *Pool) removeLocked(w *waiter) {
	w.done = true
	p.queued--
	for i, tq := range p.tasks {
		for j, x := range tq.waiters {
			if x == w {
				tq.waiters = append(tq.waiters[:j], tq.waiters[j+1:]...)
				if len(tq.waiters) == 0 {
					p.dropTaskLocked(i)
				}
				return
			}
		}
	}
}

func (p *Pool) dropTaskLocked(i int) {
	p.tasks = append(p.tasks[:i], p.tasks[i+1:]...)
	if i < p.turn {
		p.turn--
	}
	if p.turn >= len(p.tasks) {
		p.turn = 0
	}
}

// release hands lane idx of device to the first eligible waiter of the next
// task in turn, or marks it free.
func (p *Pool) release(device string, idx int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.tasks)
	for k := 0; k < n; k++ {
		i := (p.turn + k) % n
		tq := p.tasks[i]
		for j, w := range tq.waiters {
			if !eligibleFor(w.req, device) {
				continue
			}
			tq.waiters = append(tq.waiters[:j], tq.waiters[j+1:]...)
			w.done = true
			p.queued--
			w.lane <- &Lane{Device: device, Index: idx, p: p}
			if len(tq.waiters) == 0 {
				p.dropTaskLocked(i)
				if len(p.tasks) > 0 {
					p.turn = i % len(p.tasks) // the task that followed i
				}
			} else {
				p.turn = (i + 1) % len(p.tasks)
			}
			return
		}
	}
	p.free[device] = append(p.free[device], idx)
}

func eligibleFor(r Request, device string) bool {
	for _, d := range r.Devices {
		if d == device {
			return true
		}
	}
	return false
}

// ServiceStats is one device's service at a moment.
type ServiceStats struct {
	Device string `json:"device"`
	Lanes  int    `json:"lanes"`
	Busy   int    `json:"busy"`
	Free   int    `json:"free"`
	Queued int    `json:"queued"` // waiters eligible for this device
}

// Snapshot returns every service's lanes and queue.
func (p *Pool) Snapshot() []ServiceStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ServiceStats, 0, len(p.order))
	for _, d := range p.order {
		s := ServiceStats{Device: d, Lanes: p.lanes[d], Free: len(p.free[d])}
		s.Busy = s.Lanes - s.Free
		for _, tq := range p.tasks {
			for _, w := range tq.waiters {
				if eligibleFor(w.req, d) {
					s.Queued++
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// Queued returns the total number of waiters.
func (p *Pool) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queued
}
