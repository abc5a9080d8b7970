package admission

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
)

// fraction is a settable probe of a device with 1000 bytes.
type fraction struct {
	mu   sync.Mutex
	used uint64
}

func (f *fraction) set(used uint64) { f.mu.Lock(); f.used = used; f.mu.Unlock() }
func (f *fraction) Read() (memory.Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return memory.Usage{Total: 1000, Used: f.used}, nil
}

// fakeEvictor frees `frees` bytes on the device per idle instance it has.
type fakeEvictor struct {
	mu     sync.Mutex
	idle   map[string]int
	probes map[string]*fraction
	frees  uint64
	calls  []string
	done   chan string
}

func (e *fakeEvictor) EvictIdle(_ context.Context, device string, reason model.Reason, enough func() bool) (int, error) {
	n := 0
	for !enough() {
		e.mu.Lock()
		if e.idle[device] == 0 {
			e.mu.Unlock()
			break
		}
		e.idle[device]--
		p := e.probes[device]
		e.mu.Unlock()
		p.mu.Lock()
		p.used -= e.frees
		p.mu.Unlock()
		n++
	}
	e.mu.Lock()
	e.calls = append(e.calls, device+":"+string(reason))
	e.mu.Unlock()
	if e.done != nil {
		e.done <- device
	}
	return n, nil
}

type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

type bundle struct {
	c       *Controller
	mon     *memory.Monitor
	cpu     *fraction
	gpu     *fraction
	ev      *fakeEvictor
	clock   *clock.Fake
	logs    *logCounter
	decided chan Decision
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{cpu: &fraction{}, gpu: &fraction{}, clock: clock.NewFake(time.Unix(0, 0)), logs: &logCounter{}, decided: make(chan Decision, 100)}
	log := slog.New(b.logs)
	b.mon = memory.NewMonitor(memory.MonitorOptions{
		Probes:     []memory.DeviceProbe{{Device: "cpu", Probe: b.cpu}, {Device: "cuda:0", Probe: b.gpu}},
		Thresholds: memory.Thresholds{Warning: 0.80, Critical: 0.95, Emergency: 0.98, Hysteresis: 0.05},
		Clock:      b.clock, Log: log,
	})
	b.ev = &fakeEvictor{idle: map[string]int{}, probes: map[string]*fraction{"cpu": b.cpu, "cuda:0": b.gpu}, frees: 100}
	b.c = New(Options{Monitor: b.mon, Evictor: b.ev, Clock: b.clock, Log: log, Critical: 0.95, Wait: time.Minute,
		OnDecision: func(d Decision, _, _ string) { b.decided <- d }})
	t.Cleanup(func() { _ = b.c.Stop(context.Background()) })
	if err := b.mon.Poll(); err != nil {
		t.Fatal(err)
	}
	return b
}

// fixed is a demand of n bytes on whatever device, nothing on the host.
func fixed(n uint64) func(string) Demand {
	return func(d string) Demand { return Demand{Device: d, Bytes: n} }
}

func (b *bundle) admitAsync(t *testing.T, req Request) chan admitResult {
	t.Helper()
	ch := make(chan admitResult, 1)
	go func() {
		r, err := b.c.Admit(t.Context(), req)
		ch <- admitResult{r, err}
	}()
	return ch
}

type admitResult struct {
	r   *Reservation
	err error
}

func TestWarningLogsAndDefersBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cpu.set(850)
	_ = b.mon.Poll()
	_ = b.mon.Poll() // still warning: no second log line
	if n := b.logs.count("deferring batch"); n != 1 {
		t.Fatalf("%d warning log lines, want exactly 1 per level change", n)
	}
	ch := b.admitAsync(t, Request{Task: "batch", Device: "cpu", Estimate: fixed(10), Priority: Batch})
	if d := <-b.decided; d != Deferred {
		t.Fatalf("batch task: %s, want deferred", d)
	}
	// Normal work still runs at warning when it fits.
	r, err := b.c.Admit(t.Context(), Request{Task: "normal", Device: "cpu", Estimate: fixed(10), Priority: Normal})
	if err != nil {
		t.Fatalf("normal task at warning: %v", err)
	}
	r.Release()
	<-b.decided
	if err := b.c.AllowPreload("cpu"); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("preload at warning: %v", err)
	}
	select {
	case res := <-ch:
		t.Fatalf("batch admitted at warning: %+v", res)
	default:
	}
	b.cpu.set(500)
	_ = b.mon.Poll() // level falls: the batch task is admitted
	res := <-ch
	if res.err != nil || res.r.Device != "cpu" {
		t.Fatalf("batch after the level fell: %+v", res)
	}
	res.r.Release()
}

func TestCriticalFallsBackToCPU(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gpu.set(960) // 96 %
	_ = b.mon.Poll()
	r, err := b.c.Admit(t.Context(), Request{Task: "t", Device: "cuda:0", FallbackDevice: "cpu", Estimate: fixed(100), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if r.Device != "cpu" || !r.Fallback || b.c.Reserved("cpu") != 100 || b.c.Reserved("cuda:0") != 0 {
		t.Fatalf("reservation %+v, reserved cpu=%d gpu=%d", r, b.c.Reserved("cpu"), b.c.Reserved("cuda:0"))
	}
	if d := <-b.decided; d != Fallback {
		t.Fatalf("decision %s", d)
	}
}

// A GPU whose level is fine but which cannot take the task beside what it
// holds (used + reserved + estimate over the critical line) does not admit
// it: the task falls back to the CPU at once instead of waiting.
func TestFullGPUFallsBackToCPU(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gpu.set(600) // 60 %: level ok
	_ = b.mon.Poll()
	r, err := b.c.Admit(t.Context(), Request{Task: "t", Device: "cuda:0", FallbackDevice: "cpu", Estimate: fixed(400)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if r.Device != "cpu" || !r.Fallback {
		t.Fatalf("reservation %+v, want a fallback to the CPU", r)
	}
	r2, err := b.c.Admit(t.Context(), Request{Task: "small", Device: "cuda:0", FallbackDevice: "cpu", Estimate: fixed(300)})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Release()
	if r2.Device != "cuda:0" || r2.Fallback {
		t.Fatalf("a task that fits went to %+v", r2)
	}
}

func TestCriticalRejectsWithoutFallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gpu.set(790)
	_ = b.mon.Poll()
	held, err := b.c.Admit(t.Context(), Request{Task: "running", Device: "cuda:0", Estimate: fixed(100), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	<-b.decided
	if _, err := b.c.Admit(t.Context(), Request{Task: "sync", Device: "cuda:0", Estimate: fixed(100), Sync: true}); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("sync beside a reservation that leaves no room: %v", err)
	}
	<-b.decided
	// A queued task waits for the other's reservation, bounded, then fails
	// with the same code and the numbers: what it needs, what is in use,
	// what the other task holds, the critical line.
	ch := b.admitAsync(t, Request{Task: "queued", Device: "cuda:0", Estimate: fixed(100)})
	done := make(chan struct{})
	defer close(done)
	if !b.clock.WaitPending(2, done) { // its deadline and recheck ticker
		t.Fatal("never waited")
	}
	select {
	case res := <-ch:
		t.Fatalf("answered before the wait bound: %+v", res)
	default:
	}
	b.clock.Advance(time.Minute)
	res := <-ch
	if errcode.Of(res.err) != errcode.InsufficientMemory {
		t.Fatalf("after the bound: %+v", res)
	}
	if !errors.Is(res.err, ErrBusy) {
		t.Errorf("refused after waiting behind another task's reservation, not marked ErrBusy (the service would not put it back): %v", res.err)
	}
	for _, want := range []string{"within 1m0s", "needs about", "in use", "other tasks' reservations hold", "critical line"} {
		if msg := errcode.Message(res.err); !strings.Contains(msg, want) {
			t.Errorf("the refusal after the wait says %q, without %q", msg, want)
		}
	}
}

func TestEmergencyEvictsIdle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ev.done = make(chan string, 1)
	b.ev.idle["cpu"] = 3
	b.ev.frees = 0 // the idle instances were small: still at emergency after
	b.cpu.set(990)
	_ = b.mon.Poll()
	if dev := <-b.ev.done; dev != "cpu" {
		t.Fatalf("evicted on %s", dev)
	}
	b.ev.mu.Lock()
	defer b.ev.mu.Unlock()
	if b.ev.idle["cpu"] != 0 || len(b.ev.calls) != 1 || b.ev.calls[0] != "cpu:pressure" {
		t.Fatalf("after emergency: idle=%d calls=%v, want every idle instance evicted", b.ev.idle["cpu"], b.ev.calls)
	}
	// Nothing new is admitted while at emergency.
	if _, err := b.c.Admit(t.Context(), Request{Task: "t", Device: "cpu", Estimate: fixed(1), Sync: true}); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("admitted at emergency: %v", err)
	}
}

func TestEvictsIdleToMakeRoom(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ev.idle["cpu"] = 2
	b.cpu.set(900)
	_ = b.mon.Poll()
	r, err := b.c.Admit(t.Context(), Request{Task: "t", Device: "cpu", Estimate: fixed(100), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if b.ev.idle["cpu"] != 1 {
		t.Fatalf("evicted %d instances, want just enough (1)", 2-b.ev.idle["cpu"])
	}
}

// TestReservationsPreventOvershoot: twenty tasks of 100 bytes race for a
// device of 1000 at a 0.95 critical threshold: at most nine may hold a
// reservation at once, though each fits alone.
func TestReservationsPreventOvershoot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	held, peak, rejected := 0, 0, 0
	var wg sync.WaitGroup
	var rs []*Reservation
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := b.c.Admit(context.Background(), Request{Task: "t", Device: "cpu", Estimate: fixed(100), Sync: true})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rejected++
				return
			}
			held++
			peak = max(peak, held)
			rs = append(rs, r)
		}()
	}
	wg.Wait()
	if peak != 9 || rejected != 11 || b.c.Reserved("cpu") != 900 {
		t.Fatalf("peak %d admitted, %d rejected, %d reserved; want 9, 11, 900", peak, rejected, b.c.Reserved("cpu"))
	}
	for _, r := range rs {
		r.Release()
		r.Release()
	}
	if b.c.Reserved("cpu") != 0 {
		t.Fatalf("reserved after release: %d", b.c.Reserved("cpu"))
	}
}

// TestNeverFitsIsRejectedAtOnce: a task larger than the device could ever
// hold is refused at once, and no idle model is evicted for it.
func TestNeverFitsIsRejectedAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cpu.set(300)
	b.ev.idle["cpu"] = 2
	if err := b.mon.Poll(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Admit(t.Context(), Request{Task: "t", Device: "cpu", Estimate: fixed(2000)}); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("err = %v", err)
	}
	if len(b.ev.calls) != 0 || b.ev.idle["cpu"] != 2 {
		t.Fatalf("evicted for a task that can never fit: calls %v, %d idle left", b.ev.calls, b.ev.idle["cpu"])
	}
}

func TestEstimateUsesLearnedCoefficients(t *testing.T) {
	t.Parallel()
	learner := &Fitter{}
	e := Estimator{Documented: func(string, device.Kind) (Footprint, error) {
		return Footprint{Host: Coefficients{Load: 100, PerPage: 5, PerMegapixel: 10}}, nil
	}, Learner: learner}
	got, _ := e.Estimate(Shape{Model: "m", Device: "cpu", MaxMegapixels: 2, Concurrent: 3})
	if got.Bytes != 100+(5+10*2)*3 || got.Host != 0 {
		t.Fatalf("documented estimate %+v", got)
	}
	got, _ = e.Estimate(Shape{Model: "m", Device: "cpu", Resident: true, MaxMegapixels: 2, Concurrent: 3})
	if got.Bytes != 75 {
		t.Fatalf("resident estimate %+v, want the working set only", got)
	}
	// A load of 200 and pages of 1 MP costing 50 (two at once: 100): the
	// slope stays documented (no pages of other sizes yet), the fixed part
	// is 50 − 10 = 40.
	learner.Observe("m", "cpu", Observation{Host: Sample{Load: 200, Working: 100, Pages: 2, Megapixels: 1}})
	got, _ = e.Estimate(Shape{Model: "m", Device: "cpu", MaxMegapixels: 1, Concurrent: 1})
	if got.Bytes != 200+40+10 {
		t.Fatalf("learned estimate %+v, want 250", got)
	}
}

// On a GPU the estimate has two parts, each from its own coefficients, and
// each learns from its own figure.
func TestEstimateSplitsHostAndDevice(t *testing.T) {
	t.Parallel()
	learner := &Fitter{}
	e := Estimator{Documented: func(_ string, k device.Kind) (Footprint, error) {
		if k == device.CUDA {
			return Footprint{Host: Coefficients{Load: 50, PerMegapixel: 1}, Device: Coefficients{Load: 300, PerMegapixel: 20}}, nil
		}
		return Footprint{Host: Coefficients{Load: 100, PerMegapixel: 10}}, nil
	}, Learner: learner}
	got, _ := e.Estimate(Shape{Model: "m", Device: "cuda:0", MaxMegapixels: 2, Concurrent: 1})
	if got != (Demand{Device: "cuda:0", Bytes: 300 + 40, Host: 50 + 2, Load: 300, HostLoad: 50}) {
		t.Fatalf("GPU demand %+v", got)
	}
	learner.Observe("m", "cuda:0", Observation{Device: Sample{Load: 400}})
	got, _ = e.Estimate(Shape{Model: "m", Device: "cuda:0", MaxMegapixels: 2, Concurrent: 1})
	if got.Bytes != 400+40 || got.Host != 52 {
		t.Fatalf("after learning the device load: %+v", got)
	}
	if res, _ := e.Estimate(Shape{Model: "m", Device: "cuda:0", Resident: true, MaxMegapixels: 2, Concurrent: 1}); res != (Demand{Device: "cuda:0", Bytes: 40, Host: 2}) {
		t.Fatalf("resident, no load: %+v", res)
	}
	if cpu, _ := e.Estimate(Shape{Model: "m", Device: "cpu", MaxMegapixels: 1, Concurrent: 1}); cpu != (Demand{Device: "cpu", Bytes: 110, Load: 100}) {
		t.Fatalf("the GPU's figures leaked into the CPU's: %+v", cpu)
	}
}

// A GPU task is admitted only when its device part fits on the GPU and its
// host part on the CPU; both are reserved and both released.
func TestGPUDemandReservesBothDevices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cpu.set(900) // 50 bytes left under the critical line (950)
	_ = b.mon.Poll()
	demand := func(host uint64) func(string) Demand {
		return func(d string) Demand { return Demand{Device: d, Bytes: 100, Host: host} }
	}
	if _, err := b.c.Admit(t.Context(), Request{Task: "big-host", Device: "cuda:0", Estimate: demand(60), Sync: true}); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("host part over the CPU's line: err = %v", err)
	}
	if b.c.Reserved("cuda:0") != 0 || b.c.Reserved("cpu") != 0 {
		t.Fatalf("a refused task left reservations: gpu %d, cpu %d", b.c.Reserved("cuda:0"), b.c.Reserved("cpu"))
	}
	r, err := b.c.Admit(t.Context(), Request{Task: "fits", Device: "cuda:0", Estimate: demand(40), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Device != "cuda:0" || r.Bytes != 100 || r.HostBytes != 40 || b.c.Reserved("cuda:0") != 100 || b.c.Reserved("cpu") != 40 {
		t.Fatalf("reservation %+v; reserved gpu %d, cpu %d", r, b.c.Reserved("cuda:0"), b.c.Reserved("cpu"))
	}
	r.Release()
	if b.c.Reserved("cuda:0") != 0 || b.c.Reserved("cpu") != 0 {
		t.Fatalf("after release: gpu %d, cpu %d", b.c.Reserved("cuda:0"), b.c.Reserved("cpu"))
	}
}

func TestSemaphoreCapsAndOrders(t *testing.T) {
	t.Parallel()
	s := NewSemaphores(map[string]int64{"structure": 2})
	r1, _ := s.Acquire(t.Context(), "structure")
	r2, _ := s.Acquire(t.Context(), "structure")
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(ctx, "structure"); err == nil {
		t.Fatal("a third structure prediction got in")
	}
	free, err := s.Acquire(t.Context(), "ocr")
	if err != nil {
		t.Fatal(err)
	}
	free()
	r1()
	r1()
	r2()
	if st := s.Snapshot(); len(st) != 1 || st[0].InUse != 0 || st[0].Waiting != 0 {
		t.Fatalf("snapshot %+v", st)
	}
}

func BenchmarkAdmitDecision(b *testing.B) {
	mon := memory.NewMonitor(memory.MonitorOptions{
		Probes:     []memory.DeviceProbe{{Device: "cpu", Probe: memory.NewCPUProbe("")}},
		Thresholds: memory.Thresholds{Warning: 0.8, Critical: 0.95, Emergency: 0.98},
	})
	_ = mon.Poll()
	c := New(Options{Monitor: mon, Evictor: &fakeEvictor{}, Critical: 0.95, Wait: time.Minute})
	defer c.Stop(context.Background())
	req := Request{Task: "t", Device: "cpu", Estimate: fixed(1 << 20), Sync: true}
	for b.Loop() {
		r, err := c.Admit(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
}
