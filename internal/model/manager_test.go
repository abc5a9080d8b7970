package model

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/errcode"
)

func TestLoadsOnFirstUse(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if n := len(b.m.List()); n != 0 || b.l.count() != 0 {
		t.Fatalf("before first use: %d instances, %d launches", n, b.l.count())
	}
	l := b.acquire(t, "m:a")
	defer l.Release()
	info, ok := b.info(t, "m:a")
	if !ok || info.State != StateReady || info.Refs != 1 || b.l.count() != 1 {
		t.Fatalf("after first use: %+v launches=%d", info, b.l.count())
	}
}

func TestReusesLoadedInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l1 := b.acquire(t, "m:a")
	l2 := b.acquire(t, "m:a")
	if l1.Pid() != l2.Pid() || b.l.count() != 1 {
		t.Fatalf("two leases on different runners (%d, %d) or %d launches", l1.Pid(), l2.Pid(), b.l.count())
	}
	if info, _ := b.info(t, "m:a"); info.Refs != 2 {
		t.Fatalf("refs = %d, want 2", info.Refs)
	}
	l1.Release()
	l1.Release() // idempotent
	if info, _ := b.info(t, "m:a"); info.Refs != 1 {
		t.Fatalf("refs after double release = %d, want 1", info.Refs)
	}
	l2.Release()
}

func TestConcurrentAcquiresLoadOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.l.gate = make(chan struct{})
	b.l.started = make(chan struct{}, 1)
	const n = 50
	leases := make(chan *Lease, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := b.m.Acquire(t.Context(), "m:a", "cpu", AcquireOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			leases <- l
		}()
	}
	<-b.l.started
	close(b.l.gate)
	wg.Wait()
	close(leases)
	pids := map[int]bool{}
	for l := range leases {
		pids[l.Pid()] = true
		defer l.Release()
	}
	if b.l.count() != 1 || len(pids) != 1 {
		t.Fatalf("%d launches, %d runners; want one", b.l.count(), len(pids))
	}
	if info, _ := b.info(t, "m:a"); info.Refs != n {
		t.Fatalf("refs = %d, want %d", info.Refs, n)
	}
}

func TestUnloadsAfterKeepAlive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.acquire(t, "m:a").Release()
	info, _ := b.info(t, "m:a")
	if want := b.clock.Now().Add(5 * time.Minute); !info.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at = %v, want %v", info.ExpiresAt, want)
	}
	b.clock.Advance(5*time.Minute - time.Second)
	b.noUnload(t)
	b.clock.Advance(time.Second)
	if r := b.waitUnload(t); r.Reason != ReasonIdle || r.Model != "m:a" {
		t.Fatalf("unload = %+v, want idle", r)
	}
	if len(b.m.List()) != 0 {
		t.Fatalf("still listed: %+v", b.m.List())
	}
}

func TestKeepAliveRestartsOnUse(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.acquire(t, "m:a").Release()
	b.clock.Advance(4 * time.Minute)
	l := b.acquire(t, "m:a") // used again: the countdown stops
	if info, _ := b.info(t, "m:a"); !info.ExpiresAt.IsZero() {
		t.Fatalf("in use but expires at %v", info.ExpiresAt)
	}
	b.clock.Advance(10 * time.Minute)
	b.noUnload(t)
	l.Release() // and starts again in full
	b.clock.Advance(4 * time.Minute)
	b.noUnload(t)
	b.clock.Advance(time.Minute)
	if r := b.waitUnload(t); r.Reason != ReasonIdle {
		t.Fatalf("unload = %+v", r)
	}
	if b.l.count() != 1 {
		t.Fatalf("%d launches, want 1", b.l.count())
	}
}

func TestKeepAliveZeroUnloadsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l, err := b.m.Acquire(t.Context(), "m:a", "cpu", AcquireOptions{KeepAlive: dur(0)})
	if err != nil {
		t.Fatal(err)
	}
	b.noUnload(t)
	l.Release()
	if r := b.waitUnload(t); r.Reason != ReasonIdle {
		t.Fatalf("unload = %+v", r)
	}
}

func TestPinnedNeverExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if err := b.m.Load(t.Context(), "m:a", "cpu", -1); err != nil {
		t.Fatal(err)
	}
	b.acquire(t, "m:a").Release() // a later use without an override keeps the pin
	info, _ := b.info(t, "m:a")
	if !info.Pinned || !info.ExpiresAt.IsZero() {
		t.Fatalf("pinned instance: %+v", info)
	}
	b.clock.Advance(1000 * time.Hour)
	b.noUnload(t)
	if _, ok := b.info(t, "m:a"); !ok {
		t.Fatal("pinned instance unloaded")
	}
}

func TestNeverEvictsInUse(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	busy := b.acquire(t, "m:busy")
	defer busy.Release()
	n, err := b.m.EvictIdle(t.Context(), "cpu", ReasonPressure, func() bool { return false })
	if err != nil || n != 0 {
		t.Fatalf("EvictIdle = %d, %v; want nothing evicted", n, err)
	}
	b.noUnload(t)
	if info, _ := b.info(t, "m:busy"); info.State != StateReady {
		t.Fatalf("in-use instance is %s", info.State)
	}
}

func TestEvictsIdleLeastRecentlyUsedFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.acquire(t, "m:old").Release()
	b.clock.Advance(time.Second)
	// Two used at the same moment: the larger goes first.
	small, big := b.acquire(t, "m:s"), b.acquire(t, "m:bigger")
	small.Release()
	big.Release()
	b.clock.Advance(time.Second)
	b.acquire(t, "m:new").Release()
	pinned := b.m.Load(t.Context(), "m:pinned", "cpu", -1)
	if pinned != nil {
		t.Fatal(pinned)
	}
	// Enough once m:new, the most recently used, is gone.
	n, err := b.m.EvictIdle(t.Context(), "cpu", ReasonPressure, func() bool { return !b.m.Resident("m:new", "cpu") })
	if err != nil || n != 4 {
		t.Fatalf("EvictIdle = %d, %v", n, err)
	}
	for range n {
		if r := b.waitUnload(t); r.Reason != ReasonPressure {
			t.Fatalf("reason %s", r.Reason)
		}
	}
	// The order of the stops, not of the unload records: each record is
	// written by its runner's watcher, which may run after the next stop.
	b.l.mu.Lock()
	order := slices.Clone(b.l.stopped)
	b.l.mu.Unlock()
	want := []string{"m:old", "m:bigger", "m:s", "m:new"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("eviction order %v, want %v", order, want)
		}
	}
	if _, ok := b.info(t, "m:pinned"); !ok {
		t.Fatal("the pinned instance was evicted before it was needed")
	}
}

func TestEvictIdleStopsWhenEnough(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.acquire(t, "m:a").Release()
	b.acquire(t, "m:b").Release()
	n, _ := b.m.EvictIdle(t.Context(), "cpu", ReasonPressure, func() bool { return len(b.m.List()) <= 1 })
	b.waitUnload(t)
	if n != 1 || len(b.m.List()) != 1 {
		t.Fatalf("evicted %d, %d left; want 1 and 1", n, len(b.m.List()))
	}
}

func TestCancelledCallerDoesNotAbortSharedLoad(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.l.gate = make(chan struct{})
	b.l.started = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := b.m.Acquire(ctx, "m:a", "cpu", AcquireOptions{})
		first <- err
	}()
	<-b.l.started
	second := make(chan *Lease, 1)
	go func() {
		l, err := b.m.Acquire(t.Context(), "m:a", "cpu", AcquireOptions{})
		if err != nil {
			t.Error(err)
		}
		second <- l
	}()
	cancel()
	if err := <-first; errcode.Of(err) != errcode.Canceled {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(b.l.gate)
	l := <-second
	if l == nil {
		t.Fatal("the other caller got no lease")
	}
	defer l.Release()
	if b.l.sawAbort.Load() || b.l.count() != 1 {
		t.Fatalf("load aborted=%v launches=%d", b.l.sawAbort.Load(), b.l.count())
	}
	if info, _ := b.info(t, "m:a"); info.Refs != 1 {
		t.Fatalf("refs = %d, want 1 (the cancelled caller must not hold one)", info.Refs)
	}
}

func TestLoadFailureCoolsDown(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.l.fail = errBoom
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		_, err := b.m.Acquire(t.Context(), "m:bad", "cpu", AcquireOptions{})
		if errcode.Of(err) != errcode.ModelLoadFailed {
			t.Fatalf("attempt %d: %v, want model_load_failed", i, err)
		}
		launches := b.l.count()
		// Within the cooldown: refused without a launch.
		b.clock.Advance(wait - time.Second)
		if _, err := b.m.Acquire(t.Context(), "m:bad", "cpu", AcquireOptions{}); errcode.Of(err) != errcode.ModelLoadFailed || b.l.count() != launches {
			t.Fatalf("attempt %d in cooldown: %v, launches %d→%d", i, err, launches, b.l.count())
		}
		b.clock.Advance(time.Second)
	}
	if len(b.m.List()) != 0 {
		t.Fatalf("a failed load left an instance: %+v", b.m.List())
	}
	b.l.fail = nil
	b.acquire(t, "m:bad").Release()
}

func TestDrainingTakesNoNewLeases(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	held := b.acquire(t, "m:a")
	firstPid := held.Pid()
	draining := make(chan struct{})
	b.m.testDraining = func() { close(draining) }
	unloaded := make(chan error, 1)
	go func() { unloaded <- b.m.Unload(context.Background(), "m:a", "cpu") }()
	select {
	case <-draining:
	case err := <-unloaded:
		t.Fatalf("Unload returned %v while a lease was held", err)
	}
	if info, _ := b.info(t, "m:a"); info.State != StateDraining {
		t.Fatalf("state = %s, want draining", info.State)
	}
	acquired := make(chan *Lease, 1)
	go func() {
		l, err := b.m.Acquire(t.Context(), "m:a", "cpu", AcquireOptions{})
		if err != nil {
			t.Error(err)
		}
		acquired <- l
	}()
	select {
	case l := <-acquired:
		t.Fatalf("draining instance gave a lease on pid %d", l.Pid())
	default:
	}
	held.Release()
	if err := <-unloaded; err != nil {
		t.Fatal(err)
	}
	if r := b.waitUnload(t); r.Reason != ReasonExplicit || r.Pid != firstPid {
		t.Fatalf("unload = %+v", r)
	}
	l := <-acquired
	defer l.Release()
	if l.Pid() == firstPid || b.l.count() != 2 {
		t.Fatalf("the waiting caller got pid %d (first %d), launches %d; want a fresh instance", l.Pid(), firstPid, b.l.count())
	}
}

// An unload whose caller stops waiting (an HTTP client gone, a deadline)
// must not stop the runner under the task that holds it: the instance stays
// draining and stops when that task releases it.
func TestUnloadNeverStopsARunnerUnderItsTask(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	held := b.acquire(t, "m:a")
	pid := held.Pid()
	draining := make(chan struct{})
	b.m.testDraining = func() { close(draining) }
	ctx, cancel := context.WithCancel(t.Context())
	unloaded := make(chan error, 1)
	go func() { unloaded <- b.m.Unload(ctx, "m:a", "cpu") }()
	<-draining
	cancel()
	if err := <-unloaded; !errors.Is(err, context.Canceled) {
		t.Fatalf("Unload = %v, want context.Canceled once its caller gave up", err)
	}
	b.noUnload(t)
	if info, ok := b.info(t, "m:a"); !ok || info.State != StateDraining || info.Refs != 1 {
		t.Fatalf("instance = %+v (present %v), want draining with the task's reference", info, ok)
	}
	held.Release()
	if r := b.waitUnload(t); r.Reason != ReasonExplicit || r.Pid != pid {
		t.Fatalf("unload = %+v, want the explicit unload of pid %d once released", r, pid)
	}
}

func TestCrashedIdleInstanceIsRemovedAndReloaded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l := b.acquire(t, "m:a")
	pid := l.Pid()
	l.Release()
	b.l.runners[0].exit()
	if r := b.waitUnload(t); r.Reason != ReasonCrash || r.Pid != pid {
		t.Fatalf("unload = %+v, want crash", r)
	}
	l2 := b.acquire(t, "m:a")
	defer l2.Release()
	if l2.Pid() == pid {
		t.Fatal("reused the crashed runner")
	}
}

func TestCrashInUseReleasesCleanly(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l := b.acquire(t, "m:a")
	b.l.runners[0].exit()
	if r := b.waitUnload(t); r.Reason != ReasonCrash {
		t.Fatalf("unload = %+v", r)
	}
	l.Release() // must not panic or resurrect anything
	if len(b.m.List()) != 0 {
		t.Fatalf("listed after crash: %+v", b.m.List())
	}
}

func TestStopUnloadsEverythingAndRefusesNewWork(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.acquire(t, "m:a").Release()
	if err := b.m.Load(t.Context(), "m:b", "cpu", -1); err != nil {
		t.Fatal(err)
	}
	if err := b.m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r := b.waitUnload(t); r.Reason != ReasonShutdown {
			t.Fatalf("unload = %+v", r)
		}
	}
	if _, err := b.m.Acquire(t.Context(), "m:a", "cpu", AcquireOptions{}); errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("Acquire after Stop: %v", err)
	}
}

func TestValidateRejectsUnknownModelWithoutLaunching(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) {
		o.Validate = func(string) error { return errcode.New(errcode.UnknownModel, "no such model") }
	})
	if _, err := b.m.Acquire(t.Context(), "x:y", "cpu", AcquireOptions{}); errcode.Of(err) != errcode.UnknownModel || b.l.count() != 0 {
		t.Fatalf("err = %v, launches %d", err, b.l.count())
	}
}
