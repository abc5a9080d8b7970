package model

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/result"
)

// fakeRunner is a runner without a process: Stop and crash close done.
type fakeRunner struct {
	pid      int
	model    string
	done     chan struct{}
	doneOnce sync.Once
	l        *fakeLauncher
}

func (r *fakeRunner) Pid() int              { return r.pid }
func (r *fakeRunner) Done() <-chan struct{} { return r.done }
func (r *fakeRunner) exit()                 { r.doneOnce.Do(func() { close(r.done) }) }
func (r *fakeRunner) Stop(context.Context) error {
	r.l.mu.Lock()
	r.l.stopped = append(r.l.stopped, r.model)
	r.l.mu.Unlock()
	r.exit()
	return nil
}
func (r *fakeRunner) Process(ctx context.Context, im engine.Image, _ engine.Options) (*result.Page, error) {
	return &result.Page{Number: im.Number}, nil
}

// fakeLauncher counts launches; when gate is set each launch waits for it.
type fakeLauncher struct {
	mu       sync.Mutex
	launches int
	gate     chan struct{}
	started  chan struct{} // receives once per launch start, if set
	fail     error
	runners  []*fakeRunner
	stopped  []string // models, in the order their runners were asked to stop
	nextPid  atomic.Int64
	sawAbort atomic.Bool // a launch saw its context end
}

func (f *fakeLauncher) Launch(ctx context.Context, model, device string) (Runner, error) {
	f.mu.Lock()
	f.launches++
	gate, started, fail := f.gate, f.started, f.fail
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			f.sawAbort.Store(true)
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	r := &fakeRunner{pid: int(f.nextPid.Add(1)), model: model, done: make(chan struct{}), l: f}
	f.mu.Lock()
	f.runners = append(f.runners, r)
	f.mu.Unlock()
	return r, nil
}

func (f *fakeLauncher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.launches
}

type bundle struct {
	m       *Manager
	l       *fakeLauncher
	clock   *clock.Fake
	unloads chan UnloadRecord
}

func setup(t *testing.T, mod func(*Options)) *bundle {
	t.Helper()
	b := &bundle{l: &fakeLauncher{}, clock: clock.NewFake(time.Unix(1_700_000_000, 0)), unloads: make(chan UnloadRecord, 64)}
	o := Options{
		Launcher: b.l, Clock: b.clock, KeepAlive: 5 * time.Minute,
		LoadCooldown: 10 * time.Second, MaxLoadCooldown: 40 * time.Second,
		Estimate: func(model, _ string) uint64 { return uint64(len(model)) },
		OnUnload: func(r UnloadRecord) { b.unloads <- r },
	}
	if mod != nil {
		mod(&o)
	}
	b.m = NewManager(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.m.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func (b *bundle) acquire(t *testing.T, model string) *Lease {
	t.Helper()
	l, err := b.m.Acquire(t.Context(), model, "cpu", AcquireOptions{})
	if err != nil {
		t.Fatalf("Acquire(%s): %v", model, err)
	}
	return l
}

// waitUnload waits for the next unload record.
func (b *bundle) waitUnload(t *testing.T) UnloadRecord {
	t.Helper()
	select {
	case r := <-b.unloads:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no unload within 10s")
		return UnloadRecord{}
	}
}

func (b *bundle) noUnload(t *testing.T) {
	t.Helper()
	select {
	case r := <-b.unloads:
		t.Fatalf("unexpected unload %+v", r)
	default:
	}
}

func (b *bundle) info(t *testing.T, model string) (InstanceInfo, bool) {
	t.Helper()
	for _, i := range b.m.List() {
		if i.Model == model {
			return i, true
		}
	}
	return InstanceInfo{}, false
}

var errBoom = errors.New("boom")

func dur(d time.Duration) *time.Duration { return &d }
