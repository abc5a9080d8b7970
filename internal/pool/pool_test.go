package pool

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/lector-ocr/lector/internal/errcode"
)

type bundle struct {
	p        *Pool
	enqueued chan struct{}
}

func setup(t *testing.T, services []Service, queue int) *bundle {
	t.Helper()
	b := &bundle{p: New(services, queue, nil), enqueued: make(chan struct{}, 1000)}
	b.p.onEnqueue = func() { b.enqueued <- struct{}{} }
	return b
}

func cpu(task string) Request { return Request{Task: task, Devices: []string{"cpu"}} }

// acquireAsync starts an Acquire and returns once it is waiting in the queue.
func (b *bundle) acquireAsync(t *testing.T, ctx context.Context, req Request) chan result {
	t.Helper()
	ch := make(chan result, 1)
	go func() {
		l, err := b.p.Acquire(ctx, req)
		ch <- result{l, err}
	}()
	<-b.enqueued
	return ch
}

type result struct {
	lane *Lane
	err  error
}

func (b *bundle) quiescent(t *testing.T) {
	t.Helper()
	for _, s := range b.p.Snapshot() {
		if s.Busy != 0 || s.Queued != 0 || s.Free != s.Lanes {
			t.Fatalf("not quiescent: %+v", s)
		}
	}
}

func TestAcquireReturnsAvailableService(t *testing.T) {
	t.Parallel()
	b := setup(t, []Service{{"cuda:0", 1}, {"cpu", 2}}, 10)
	l, err := b.p.Acquire(t.Context(), Request{Task: "a", Devices: []string{"cuda:0", "cpu"}})
	if err != nil || l.Device != "cuda:0" {
		t.Fatalf("got %+v, %v; want the preferred GPU", l, err)
	}
	l2, err := b.p.Acquire(t.Context(), Request{Task: "a", Devices: []string{"cuda:0", "cpu"}})
	if err != nil || l2.Device != "cpu" {
		t.Fatalf("got %+v, %v; want the CPU once the GPU is busy", l2, err)
	}
	snap := b.p.Snapshot()
	if snap[0].Busy != 1 || snap[1].Busy != 1 || snap[1].Free != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	l.Release()
	l2.Release()
	b.quiescent(t)
}

func TestAcquireQueuesWhenAllBusy(t *testing.T) {
	t.Parallel()
	b := setup(t, []Service{{"cpu", 1}}, 10)
	held, _ := b.p.Acquire(t.Context(), cpu("a"))
	ch := b.acquireAsync(t, t.Context(), cpu("b"))
	select {
	case r := <-ch:
		t.Fatalf("acquired %+v while all lanes were busy", r)
	default:
	}
	if s := b.p.Snapshot()[0]; s.Queued != 1 {
		t.Fatalf("queued = %d", s.Queued)
	}
	held.Release()
	r := <-ch
	if r.err != nil || r.lane.Device != "cpu" {
		t.Fatal(r.err)
	}
	r.lane.Release()
	b.quiescent(t)
}

func TestReleaseMakesServiceAvailableInFIFOOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, []Service{{"cpu", 1}}, 10)
	held, _ := b.p.Acquire(t.Context(), cpu("t"))
	var chans []chan result
	for range 5 {
		chans = append(chans, b.acquireAsync(t, t.Context(), cpu("t")))
	}
	held.Release()
	for i, ch := range chans {
		r := <-ch
		for j := i + 1; j < len(chans); j++ {
			select {
			case <-chans[j]:
				t.Fatalf("waiter %d served before waiter %d released", j, i)
			default:
			}
		}
		r.lane.Release()
		r.lane.Release() // idempotent: must not free a second lane
	}
	b.quiescent(t)
	if s := b.p.Snapshot()[0]; s.Free != 1 {
		t.Fatalf("double release freed extra lanes: %+v", s)
	}
}

func TestQueueFullRejectsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, []Service{{"cpu", 1}}, 2)
	held, _ := b.p.Acquire(t.Context(), cpu("a"))
	c1 := b.acquireAsync(t, t.Context(), cpu("a"))
	c2 := b.acquireAsync(t, t.Context(), cpu("a"))
	if _, err := b.p.Acquire(t.Context(), cpu("a")); errcode.Of(err) != errcode.QueueFull {
		t.Fatalf("err = %v, want queue_full", err)
	}
	held.Release()
	(<-c1).lane.Release()
	(<-c2).lane.Release()
	b.quiescent(t)
}

func TestCancelledWaiterLeavesQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, []Service{{"cpu", 1}}, 10)
	held, _ := b.p.Acquire(t.Context(), cpu("a"))
	ctx, cancel := context.WithCancel(t.Context())
	ch := b.acquireAsync(t, ctx, cpu("b"))
	next := b.acquireAsync(t, t.Context(), cpu("c"))
	cancel()
	if r := <-ch; errcode.Of(r.err) != errcode.Canceled {
		t.Fatalf("cancelled waiter got %+v", r)
	}
	if s := b.p.Snapshot()[0]; s.Queued != 1 {
		t.Fatalf("queued = %d after the cancelled waiter left, want 1", s.Queued)
	}
	held.Release()
	r := <-next
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.lane.Release()
	b.quiescent(t)
}

// TestTasksTakeTurns: a 6-page task queued first and a 1-page task queued
// after it: the short task gets the second freed lane, not the seventh.
func TestTasksTakeTurns(t *testing.T) {
	t.Parallel()
	b := setup(t, []Service{{"cpu", 1}}, 100)
	held, _ := b.p.Acquire(t.Context(), cpu("other"))
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := func(task string, n int) {
		for range n {
			ch := b.acquireAsync(t, t.Context(), cpu(task))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := <-ch
				mu.Lock()
				order = append(order, task)
				mu.Unlock()
				r.lane.Release()
			}()
		}
	}
	start("long", 6)
	start("short", 1)
	start("mid", 2)
	held.Release()
	wg.Wait()
	got := fmt.Sprint(order)
	if want := "[long short mid long mid long long long long]"; got != want {
		t.Fatalf("service order %s, want %s", got, want)
	}
	b.quiescent(t)
}

func BenchmarkAcquireRelease(b *testing.B) {
	p := New([]Service{{"cpu", 4}}, 100, nil)
	ctx := context.Background()
	req := cpu("t")
	for b.Loop() {
		l, err := p.Acquire(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) {
	p := New([]Service{{"cpu", 64}}, 1000, nil)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		req := cpu("t")
		for pb.Next() {
			l, err := p.Acquire(ctx, req)
			if err != nil {
				b.Error(err)
				return
			}
			l.Release()
		}
	})
}
