package task

import (
	"context"
	"errors"
	"fmt"
	"image"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/result"
)

// pagesDoc is a document of blank pages of the given sizes.
type pagesDoc [][2]int

func (d pagesDoc) NumPages() int             { return len(d) }
func (d pagesDoc) PageSize(i int) (int, int) { return d[i][0], d[i][1] }
func (d pagesDoc) Page(_ context.Context, i int, _ string) (engine.Image, error) {
	return engine.Image{Number: i + 1, Width: d[i][0], Height: d[i][1]}, nil
}

func onePage() pagesDoc { return pagesDoc{{1000, 1000}} }

// gatedRunner is a runner without a process that counts pages in flight and
// can hold them at a gate.
type gatedRunner struct {
	pid  int
	done chan struct{}
	once sync.Once
	env  *fakeEnv
}

func (r *gatedRunner) Pid() int              { return r.pid }
func (r *gatedRunner) Done() <-chan struct{} { return r.done }
func (r *gatedRunner) Stop(context.Context) error {
	r.once.Do(func() {
		if r.env.onStop != nil {
			r.env.onStop(r.pid)
		}
		close(r.done)
	})
	return nil
}

func (r *gatedRunner) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	e := r.env
	n := e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	for {
		old := e.maxInFlight.Load()
		if n <= old || e.maxInFlight.CompareAndSwap(old, n) {
			break
		}
	}
	if e.started != nil {
		e.started <- opts.Param("id")
	}
	if e.onText != nil {
		e.onText(im)
	}
	if e.gate != nil {
		select {
		case <-e.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if opts.Param("fail") != "" {
		return nil, errcode.New(errcode.InvalidDocument, "bad page")
	}
	return &result.Page{Number: im.Number, Width: im.Width, Height: im.Height}, nil
}

type fakeEnv struct {
	inFlight, maxInFlight atomic.Int64
	started               chan string
	gate                  chan struct{}
	nextPid               atomic.Int64
	onStop                func(pid int)      // called as a runner stops (its memory is returned)
	onText                func(engine.Image) // sees each page given to a runner
}

func (e *fakeEnv) Launch(ctx context.Context, m, d string) (model.Runner, error) {
	return &gatedRunner{pid: 1<<30 + int(e.nextPid.Add(1)), done: make(chan struct{}), env: e}, nil
}

type level struct {
	mu   sync.Mutex
	used uint64
}

func (l *level) set(u uint64) { l.mu.Lock(); l.used = u; l.mu.Unlock() }
func (l *level) Read() (memory.Usage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return memory.Usage{Total: 1 << 30, Used: l.used}, nil
}

type bundle struct {
	rt      *Runtime
	env     *fakeEnv
	cpu     *level
	gpu     *level
	mon     *memory.Monitor
	models  *model.Manager
	unloads chan model.UnloadRecord
	nvml    *fakeNVML
	clock   *clock.Fake
}

// reservedWhenAdmitted records each device's reservations at the moment a
// task is admitted (read it after Run returns).
func (b *bundle) reservedWhenAdmitted() map[string]uint64 {
	got := map[string]uint64{}
	b.rt.o.testHook = func(stage string) {
		if stage == "admitted" {
			for _, d := range []string{"cpu", "cuda:0"} {
				got[d] = b.rt.o.Admission.Reserved(d)
			}
		}
	}
	return got
}

// deviceKinds: "gpu:" models run on GPUs and the CPU, the others (like
// Tesseract) on the CPU only.
func deviceKinds(m string) ([]device.Kind, error) {
	if strings.HasPrefix(m, "gpu:") {
		return []device.Kind{device.CUDA, device.CPU}, nil
	}
	return []device.Kind{device.CPU}, nil
}

// documented: on the CPU 100 MiB + 10 MiB/MP; on a GPU 200 MiB + 20 MiB/MP
// of GPU memory and 50 MiB + 5 MiB/MP of host memory.
func documented(_ string, k device.Kind) (admission.Footprint, error) {
	if k == device.CUDA {
		return admission.Footprint{
			Host:   admission.Coefficients{Load: 50 << 20, PerMegapixel: 5 << 20},
			Device: admission.Coefficients{Load: 200 << 20, PerMegapixel: 20 << 20},
		}, nil
	}
	return admission.Footprint{Host: admission.Coefficients{Load: 100 << 20, PerMegapixel: 10 << 20}}, nil
}

// fakeNVML is the GPU probe's per-process side: each pid's GPU memory, as
// a test sets it; sampled says when a sample was taken.
type fakeNVML struct {
	mu      sync.Mutex
	used    map[int]uint64
	sampled chan struct{}
}

func (f *fakeNVML) Devices() []memory.GPUInfo      { return []memory.GPUInfo{{Index: 0, UUID: "GPU-0"}} }
func (f *fakeNVML) Read(int) (memory.Usage, error) { return memory.Usage{}, nil }
func (f *fakeNVML) ProcessUsed(int) (map[int]uint64, error) {
	f.mu.Lock()
	out := maps.Clone(f.used)
	ch := f.sampled
	f.mu.Unlock()
	if ch != nil {
		ch <- struct{}{}
	}
	return out, nil
}
func (f *fakeNVML) set(pid int, b uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.used == nil {
		f.used = map[int]uint64{}
	}
	f.used[pid] = b
}

// setup builds a runtime on fake runners and scripted memory: a 1 GiB CPU
// with 6 lanes and a 1 GiB GPU with 1 lane.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{env: &fakeEnv{}, cpu: &level{}, gpu: &level{}, unloads: make(chan model.UnloadRecord, 16), nvml: &fakeNVML{}}
	fc := clock.NewFake(time.Unix(0, 0))
	b.clock = fc
	b.mon = memory.NewMonitor(memory.MonitorOptions{
		Probes:     []memory.DeviceProbe{{Device: "cpu", Probe: b.cpu}, {Device: "cuda:0", Probe: b.gpu}},
		Thresholds: memory.Thresholds{Warning: 0.8, Critical: 0.95, Emergency: 0.98, Hysteresis: 0.05},
		Clock:      fc,
	})
	_ = b.mon.Poll()
	b.models = model.NewManager(model.Options{Launcher: b.env, Clock: fc, KeepAlive: time.Minute,
		OnUnload: func(r model.UnloadRecord) {
			select {
			case b.unloads <- r:
			default:
			}
		}})
	adm := admission.New(admission.Options{Monitor: b.mon, Evictor: b.models, Clock: fc, Critical: 0.95, Wait: time.Minute})
	b.rt = New(Config{
		Models:      b.models,
		Pool:        pool.New([]pool.Service{{Device: "cpu", Lanes: 6}, {Device: "cuda:0", Lanes: 1}}, 100, fc),
		Admission:   adm,
		Semaphores:  admission.NewSemaphores(map[string]int64{"structure": 2}),
		Estimator:   admission.Estimator{Documented: documented},
		Devices:     []device.Device{{ID: "cpu", Kind: device.CPU}, {ID: "cuda:0", Kind: device.CUDA}},
		DeviceKinds: deviceKinds,
		GPUs:        b.nvml,
		WorkDir:     t.TempDir(),
		Clock:       fc,
	})
	t.Cleanup(func() {
		adm.Stop(context.Background())
		_ = b.models.Stop(context.Background())
	})
	return b
}

// quiescent is the shared end of every cleanup scenario.
func (b *bundle) quiescent(t *testing.T) {
	t.Helper()
	if err := b.rt.Quiescent(); err != nil {
		t.Fatalf("runtime not quiescent: %v", err)
	}
}

func TestCleanupOnSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.rt.Run(t.Context(), pagesDoc{{1000, 1000}, {2000, 1000}, {1000, 1000}}, Options{Model: "m:a", Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pages) != 3 || res.Pages[1].Number != 2 || res.Pages[1].Width != 2000 {
		t.Fatalf("pages %+v", res.Pages)
	}
	r := res.Resources
	// Not resident: load 100 MiB + 3 pages at once × 2 MP × 10 MiB.
	if r.Device != "cpu" || r.Fallback || r.EstimatedBytes != 160<<20 {
		t.Fatalf("resources %+v", r)
	}
	b.quiescent(t)
}

func TestCleanupOnFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.rt.Run(t.Context(), pagesDoc{{10, 10}, {10, 10}}, Options{Model: "m:a", Device: "cpu", EngineOptions: engine.Options{Params: map[string]string{"fail": "1"}}})
	if errcode.Of(err) != errcode.InvalidDocument {
		t.Fatalf("err = %v, want invalid_document", err)
	}
	b.quiescent(t)
}

func TestCleanupOnCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.gate = make(chan struct{})
	b.env.started = make(chan string, 10)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := b.rt.Run(ctx, pagesDoc{{10, 10}, {10, 10}, {10, 10}}, Options{Model: "m:a", Device: "cpu"})
		errc <- err
	}()
	<-b.env.started
	cancel()
	if err := <-errc; errcode.Of(err) != errcode.Canceled {
		t.Fatalf("err = %v, want canceled", err)
	}
	b.quiescent(t)
}

func TestCleanupOnTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.gate = make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := b.rt.Run(ctx, onePage(), Options{Model: "m:a", Device: "cpu"})
	if errcode.Of(err) != errcode.Timeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	b.quiescent(t)
}

func TestCleanupOnPanic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rt.o.testHook = func(stage string) {
		if stage == "leased" {
			panic("boom")
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		_, _ = b.rt.Run(t.Context(), onePage(), Options{Model: "m:a", Device: "cpu"})
	}()
	b.quiescent(t)
	// A panic inside a page's goroutine becomes the task's error.
	b.rt.o.testHook = func(stage string) {
		if stage == "page" {
			panic("boom")
		}
	}
	if _, err := b.rt.Run(t.Context(), onePage(), Options{Model: "m:a", Device: "cpu"}); errcode.Of(err) != errcode.Internal {
		t.Fatalf("err = %v, want internal", err)
	}
	b.quiescent(t)
}

// TestStructureLimitedToTwo: six one-page structure tasks, six free lanes:
// never more than two predictions at once, and the rest start in the order
// they arrived.
func TestStructureLimitedToTwo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.gate = make(chan struct{})
	b.env.started = make(chan string, 10)
	if err := b.models.Load(t.Context(), "m:s", "cpu", time.Minute); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	run := func(id string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.rt.Run(t.Context(), onePage(), Options{TaskID: id, Model: "m:s", Pipeline: "structure", Device: "cpu", EngineOptions: engine.Options{Params: map[string]string{"id": id}}})
			errs <- err
		}()
	}
	run("1")
	run("2")
	first := map[string]bool{<-b.env.started: true, <-b.env.started: true}
	if !first["1"] || !first["2"] {
		t.Fatalf("first predictions %v", first)
	}
	for i, id := range []string{"3", "4", "5", "6"} {
		run(id)
		waitSemaphoreWaiters(t, b.rt.o.Semaphores.(*admission.Semaphores), int64(i+1))
	}
	var order []string
	for range 4 {
		b.env.gate <- struct{}{} // one prediction finishes, the next may start
		order = append(order, <-b.env.started)
	}
	close(b.env.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := b.env.maxInFlight.Load(); m != 2 {
		t.Fatalf("%d structure predictions at once, want at most (and here exactly) 2", m)
	}
	if got := strings.Join(order, ","); got != "3,4,5,6" {
		t.Fatalf("waiting tasks started in order %s, want 3,4,5,6", got)
	}
	b.quiescent(t)
}

// waitSemaphoreWaiters waits, on the semaphores' change signal, until the
// structure semaphore has n waiters.
func waitSemaphoreWaiters(t *testing.T, s *admission.Semaphores, n int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		changed := s.Changed()
		for _, st := range s.Snapshot() {
			if st.Pipeline == "structure" && st.Waiting >= n {
				return
			}
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("structure semaphore never had %d waiters", n)
		}
	}
}

// TestGPUTaskFallsBackToCPUAtCritical: with the GPU at critical a task
// meant for it runs on the CPU for real (a CPU runner, CPU lanes, a CPU
// reservation), recorded as a fallback.
func TestGPUTaskFallsBackToCPUAtCritical(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gpu.set(96 * (1 << 30) / 100)
	_ = b.mon.Poll()
	reserved := b.reservedWhenAdmitted()
	res, err := b.rt.Run(t.Context(), onePage(), Options{Model: "gpu:a", Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Resources; r.Device != "cpu" || !r.Fallback || r.GPUEstimatedBytes != 0 || r.EstimatedBytes != 110<<20 {
		t.Fatalf("resources %+v, want a fallback to the CPU with the CPU's estimate (110 MiB)", r)
	}
	if reserved["cuda:0"] != 0 || reserved["cpu"] != 110<<20 {
		t.Fatalf("reserved %v, want the CPU's estimate on the CPU only", reserved)
	}
	if !b.models.Resident("gpu:a", "cpu") || b.models.Resident("gpu:a", "cuda:0") {
		t.Fatalf("the model was not loaded on the CPU (and only there): %+v", b.models.List())
	}
	b.quiescent(t)
}

// TestAutoKeepsCPUOnlyModelOnCPU: with a GPU present and idle, a model that
// runs on the CPU only (Tesseract) gets the CPU: its lanes, its memory.
func TestAutoKeepsCPUOnlyModelOnCPU(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reserved := b.reservedWhenAdmitted()
	res, err := b.rt.Run(t.Context(), onePage(), Options{Model: "m:a", Device: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Resources; r.Device != "cpu" || r.Fallback {
		t.Fatalf("resources %+v, want cpu without fallback", r)
	}
	if reserved["cuda:0"] != 0 || reserved["cpu"] != 110<<20 {
		t.Fatalf("reserved %v, want CPU memory only", reserved)
	}
	if dev, fb, err := b.rt.Place("m:a", ""); dev != "cpu" || fb != "" || err != nil {
		t.Fatalf("Place = %q, %q, %v", dev, fb, err)
	}
	if _, _, err := b.rt.Place("m:a", "cuda:0"); errcode.Of(err) != errcode.DeviceUnavailable {
		t.Fatalf("a CPU-only model asked on cuda:0: %v, want device_unavailable", err)
	}
	// The same device choice serves preloads.
	if dev, err := b.rt.Preload(t.Context(), "m:b", "auto", time.Minute); err != nil || dev != "cpu" {
		t.Fatalf("Preload = %q, %v", dev, err)
	}
	if dev, err := b.rt.Preload(t.Context(), "gpu:b", "auto", time.Minute); err != nil || dev != "cuda:0" {
		t.Fatalf("Preload of a GPU model = %q, %v", dev, err)
	}
	for _, s := range b.rt.o.Pool.Snapshot() {
		if s.Device == "cuda:0" && s.Busy != 0 {
			t.Fatalf("a CPU task took a GPU lane: %+v", s)
		}
	}
	b.quiescent(t)
}

// TestGPULanesZeroDisablesGPUs: a GPU service with no lanes is off: auto
// sends even a GPU model to the CPU (not as a fallback: the GPU was never
// a choice) and asking for the GPU is device_unavailable.
func TestGPULanesZeroDisablesGPUs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rt.o.Pool = pool.New([]pool.Service{{Device: "cpu", Lanes: 6}, {Device: "cuda:0", Lanes: 0}}, 100, b.clock)
	res, err := b.rt.Run(t.Context(), onePage(), Options{Model: "gpu:a"})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Resources; r.Device != "cpu" || r.Fallback {
		t.Fatalf("resources %+v, want cpu, no fallback", r)
	}
	if _, err := b.rt.Run(t.Context(), onePage(), Options{Model: "gpu:a", Device: "cuda:0"}); errcode.Of(err) != errcode.DeviceUnavailable || !strings.Contains(errcode.Message(err), "gpu-lanes") {
		t.Fatalf("a task on a turned-off GPU: %v, want device_unavailable naming --gpu-lanes", err)
	}
	b.quiescent(t)
}

// TestGPUTaskReservesHostAndDevice: a GPU task holds its GPU bytes on the
// GPU and its host bytes on the CPU while it runs — its working sets only,
// once it holds the model it loaded (the load is then in used memory) —
// records both estimates, load included, and the GPU peak sampled from
// NVML, and gives both back at the end.
func TestGPUTaskReservesHostAndDevice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.gate = make(chan struct{})
	b.env.started = make(chan string, 1)
	b.nvml.sampled = make(chan struct{}, 100)
	done := make(chan error, 1)
	var res *Result
	go func() {
		var err error
		res, err = b.rt.Run(t.Context(), onePage(), Options{Model: "gpu:a"})
		done <- err
	}()
	<-b.env.started // the page is in the runner
	// Estimated, not resident: on the GPU 200 MiB + 1 MP × 20 MiB; on the
	// host 50 MiB + 5 MiB. Loaded, the loads are in used memory and the
	// reservations keep the working sets.
	if g, c := b.rt.o.Admission.Reserved("cuda:0"), b.rt.o.Admission.Reserved("cpu"); g != 20<<20 || c != 5<<20 {
		t.Fatalf("reserved gpu %d MiB, cpu %d MiB while the page runs; want 20 and 5 (the loads dropped)", g>>20, c>>20)
	}
	pid := b.models.List()[0].Pid
	<-b.nvml.sampled // the first sample, at the start
	b.nvml.set(pid, 300<<20)
	b.clock.Advance(100 * time.Millisecond) // a sample while the page runs sees the peak
	<-b.nvml.sampled
	b.nvml.set(pid, 210<<20)
	close(b.env.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := res.Resources
	if r.Device != "cuda:0" || r.Fallback || r.GPUEstimatedBytes != 220<<20 || r.EstimatedBytes != 55<<20 {
		t.Fatalf("resources %+v", r)
	}
	if r.GPUPeakBytes != 300<<20 || r.GPUSamples < 3 {
		t.Fatalf("GPU peak %d MiB over %d samples, want 300 MiB over at least 3 (start, tick, end)", r.GPUPeakBytes>>20, r.GPUSamples)
	}
	b.quiescent(t)
}

// TestEvictsIdleGPUInstanceForRoom: an idle instance on the GPU is evicted
// to make room for a GPU task that would not fit beside it; the task runs
// on the GPU.
func TestEvictsIdleGPUInstanceForRoom(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.rt.Preload(t.Context(), "gpu:idle", "cuda:0", time.Hour); err != nil {
		t.Fatal(err)
	}
	pid := b.models.List()[0].Pid
	// The GPU holds the idle instance: 800 MiB of 1 GiB used; the task needs
	// 220 MiB, over the critical line (973 MiB) unless the instance goes.
	b.gpu.set(800 << 20)
	_ = b.mon.Poll()
	b.env.onStop = func(p int) {
		if p == pid {
			b.gpu.set(0)
		}
	}
	res, err := b.rt.Run(t.Context(), onePage(), Options{Model: "gpu:a", Device: "cuda:0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resources.Device != "cuda:0" || res.Resources.Fallback {
		t.Fatalf("resources %+v, want the GPU", res.Resources)
	}
	select {
	case u := <-b.unloads:
		if u.Model != "gpu:idle" || u.Device != "cuda:0" || u.Reason != model.ReasonPressure {
			t.Fatalf("unload %+v, want gpu:idle on cuda:0 for pressure", u)
		}
	default:
		t.Fatal("the idle GPU instance was not evicted")
	}
	b.quiescent(t)
}

func TestSweepRemovesLeftovers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, d := range []string{b.rt.WorkspaceDir() + "/old-task", b.rt.RunnerDir() + "/runner-123"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.rt.Sweep()
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	b.quiescent(t)
}

func TestPreloadRefusedAtWarning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.rt.Preload(t.Context(), "m:a", "cpu", time.Minute); err != nil {
		t.Fatal(err)
	}
	b.cpu.set(85 * (1 << 30) / 100)
	_ = b.mon.Poll()
	if _, err := b.rt.Preload(t.Context(), "m:b", "cpu", time.Minute); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("preload at warning: %v", err)
	}
	if b.models.Resident("m:b", "cpu") {
		t.Fatal("refused preload loaded anyway")
	}
}

// TestAdmittedTaskKeepsItsModel: a task admitted on a resident model holds
// it from before its estimate, so another task's admission, evicting idle
// instances to make room, cannot evict it between the estimate and its use
// (which would load it again outside the reservation — an OOM seen in the
// cgroup test before this was fixed).
func TestAdmittedTaskKeepsItsModel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.models.Load(t.Context(), "m:a", "cpu", time.Minute); err != nil {
		t.Fatal(err)
	}
	b.cpu.set(900 << 20) // 0.95 GiB critical: room for one 4 MP page (40 MiB), not two
	_ = b.mon.Poll()
	admitted := make(chan struct{})
	proceed := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(proceed) }) }
	errc := make(chan error, 1)
	defer func() { // on any failure, let the first task finish too
		release()
		<-errc
	}()
	b.rt.o.testHook = func(stage string) {
		if stage == "admitted" {
			close(admitted)
			<-proceed
		}
	}
	var firstErr error
	go func() {
		_, firstErr = b.rt.Run(t.Context(), pagesDoc{{2000, 2000}}, Options{TaskID: "a", Model: "m:a", Device: "cpu"})
		errc <- firstErr
	}()
	<-admitted
	b.rt.o.testHook = nil
	second := make(chan error, 1)
	go func() {
		_, err := b.rt.Run(t.Context(), pagesDoc{{2000, 2000}}, Options{TaskID: "b", Model: "m:a", Device: "cpu", Sync: true})
		second <- err
	}()
	select {
	case u := <-b.unloads:
		t.Fatalf("the admitted task's model was evicted before its use: %+v", u)
	case err := <-second:
		if errcode.Of(err) != errcode.InsufficientMemory {
			t.Fatalf("second task: %v, want insufficient_memory", err)
		}
	}
	if !b.models.Resident("m:a", "cpu") {
		t.Fatal("the admitted task's model was evicted before its use")
	}
	release()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	errc <- nil // for the deferred wait
	if n := b.env.nextPid.Load(); n != 1 {
		t.Fatalf("%d launches, want 1 (no reload)", n)
	}
	b.quiescent(t)
}

// TestAdmitHoldsNothingAfterAnError: the admit phase alone — a task whose
// pipeline's semaphore never frees gives back its reservation and its lease
// when its context ends.
func TestAdmitHoldsNothingAfterAnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sems := b.rt.o.Semaphores.(*admission.Semaphores)
	for range 2 {
		release, err := sems.Acquire(t.Context(), "structure")
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	if err := b.models.Load(t.Context(), "m:s", "cpu", time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	b.rt.o.testHook = func(stage string) {
		if stage == "admitted" {
			cancel() // the semaphore is full: the wait ends with ctx
		}
	}
	a, err := b.rt.admit(ctx, onePage(), Options{Model: "m:s", Pipeline: "structure", Device: "cpu"}.withDefaults())
	if err == nil || a != nil {
		t.Fatalf("admit = %v, %v; want ctx's error", a, err)
	}
	if r := b.rt.o.Admission.Reserved("cpu"); r != 0 {
		t.Fatalf("%d bytes still reserved", r)
	}
	if in := b.models.List(); len(in) != 1 || in[0].Refs != 0 {
		t.Fatalf("instances after a failed admit: %+v", in)
	}
}

// textDoc is a document whose pages in text are read from their own text.
type textDoc struct {
	pagesDoc
	text   map[int]bool
	modes  []lector.PDFText
	pdf    []byte
	pdfErr error // what SearchablePDF fails with (nil: it succeeds)
}

func (d *textDoc) TextPage(_ context.Context, i int, mode lector.PDFText) (*result.Page, error) {
	d.modes = append(d.modes, mode)
	if !d.text[i] || mode == lector.PDFTextForce {
		return nil, nil
	}
	return &result.Page{Width: d.pagesDoc[i][0], Height: d.pagesDoc[i][1], Source: result.SourceText}, nil
}

func (d *textDoc) SearchablePDF(_ context.Context, pages []*result.Page, _ lector.PDFText) ([]byte, string, error) {
	if d.pdfErr != nil {
		return nil, "", d.pdfErr
	}
	return d.pdf, "original", nil
}

// TestAPDFThatCannotBeWrittenLosesOnlyItself: a searchable PDF that fails
// after every fallback leaves the task succeeded with every page
// recognised, no PDF, and the reason in PDFError (pdf_not_written, the
// cause in its message); a storage fault (the disk full) fails the task
// as unavailable, to run again.
func TestAPDFThatCannotBeWrittenLosesOnlyItself(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := &textDoc{pagesDoc: pagesDoc{{1000, 1000}, {1000, 1000}}, text: map[int]bool{0: true},
		pdfErr: errcode.Wrap(errcode.InvalidDocument, errors.New("xref broken"), "pdftocairo could not rebuild page 2")}
	res, err := b.rt.Run(t.Context(), doc, Options{Model: "m:a", Device: "cpu", PDF: true})
	if err != nil {
		t.Fatalf("the task failed: %v", err)
	}
	if len(res.Pages) != 2 || res.Pages[0] == nil || res.Pages[1] == nil || res.Pages[1].Source != "ocr" {
		t.Fatalf("pages %+v", res.Pages)
	}
	r := res.Resources
	if res.PDF != nil || r.PDFOutput != "" || r.PDFError == nil || r.PDFError.Code != "pdf_not_written" ||
		!strings.Contains(r.PDFError.Message, "pdftocairo could not rebuild page 2") || r.PagesOCR != 1 || r.PagesText != 1 {
		t.Fatalf("resources %+v (pdf error %+v), pdf %q", r, r.PDFError, res.PDF)
	}
	full := &textDoc{pagesDoc: pagesDoc{{1000, 1000}}, pdfErr: fmt.Errorf("writing the layer: %w", syscall.ENOSPC)}
	if _, err := b.rt.Run(t.Context(), full, Options{Model: "m:a", Device: "cpu", PDF: true}); errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("a full disk: %v (%s), want unavailable", err, errcode.Of(err))
	}
	b.quiescent(t)
}

// TestPagesReadFromTextSkipTheModel: pages a document reads from its own
// text are not recognised; a document read entirely from its text takes
// no model, lane or memory; the searchable PDF is asked for last.
func TestPagesReadFromTextSkipTheModel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := &textDoc{pagesDoc: pagesDoc{{1000, 1000}, {1000, 1000}, {1000, 1000}}, text: map[int]bool{0: true, 2: true}, pdf: []byte("%PDF-")}
	var progress [][3]int // done, total, text: the task's page progress says which pages were read from their text
	res, err := b.rt.Run(t.Context(), doc, Options{Model: "m:a", Device: "cpu", PDF: true,
		Progress: func(done, total, text int) { progress = append(progress, [3]int{done, total, text}) }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(progress, [][3]int{{2, 3, 2}, {3, 3, 2}}) {
		t.Fatalf("progress %v, want the 2 text pages done first, then the OCR'd one, text 2 throughout", progress)
	}
	srcs := []string{res.Pages[0].Source, res.Pages[1].Source, res.Pages[2].Source}
	if !slices.Equal(srcs, []string{"text", "ocr", "text"}) || res.Pages[2].Number != 3 {
		t.Fatalf("sources %v", srcs)
	}
	if r := res.Resources; r.PagesText != 2 || r.PagesOCR != 1 || r.PDFOutput != "original" || string(res.PDF) != "%PDF-" || r.Device != "cpu" {
		t.Fatalf("resources %+v, pdf %q", r, res.PDF)
	}
	if doc.modes[0] != lector.PDFTextSkip {
		t.Fatalf("default mode %q, want skip for the ocr pipeline", doc.modes[0])
	}
	allText := &textDoc{pagesDoc: pagesDoc{{1000, 1000}}, text: map[int]bool{0: true}}
	res, err = b.rt.Run(t.Context(), allText, Options{Model: "m:a", Device: "cpu"})
	if err != nil || res.Resources.PagesText != 1 || res.Resources.Device != "" || len(b.models.List()) != 1 {
		t.Fatalf("a document read from its text: %+v %v (instances %d: only the first task's)", res.Resources, err, len(b.models.List()))
	}
	forced := &textDoc{pagesDoc: pagesDoc{{1000, 1000}}, text: map[int]bool{0: true}}
	if res, err = b.rt.Run(t.Context(), forced, Options{Model: "m:a", Device: "cpu", PDFText: lector.PDFTextForce}); err != nil {
		t.Fatal(err)
	}
	if len(forced.modes) != 0 || res.Pages[0].Source != "ocr" || res.Resources.PagesOCR != 1 {
		t.Fatalf("force asked the document %v, source %q; want no text pages", forced.modes, res.Pages[0].Source)
	}
	b.quiescent(t)
}

// TestStructurePagesReadFromTextGoToTheModel: in the structure pipeline
// (default mode skip) a page read from its text is still given to the
// model, with its words, for its layout: the semaphore and the model's
// lease are taken, the page keeps source text; a page without text is
// recognised; force gives the model no text.
func TestStructurePagesReadFromTextGoToTheModel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := &textDoc{pagesDoc: pagesDoc{{1000, 1000}, {1000, 1000}}, text: map[int]bool{0: true}}
	var withText atomic.Int64
	b.env.onText = func(im engine.Image) {
		if im.Text != nil && im.Text.Source == result.SourceText && im.Number == 1 {
			withText.Add(1)
		}
	}
	res, err := b.rt.Run(t.Context(), doc, Options{Model: "m:s", Device: "cpu", Pipeline: lector.PipelineStructure})
	if err != nil {
		t.Fatal(err)
	}
	if doc.modes[0] != lector.PDFTextSkip {
		t.Fatalf("structure's default mode %q, want skip", doc.modes[0])
	}
	if srcs := []string{res.Pages[0].Source, res.Pages[1].Source}; !slices.Equal(srcs, []string{"text", "ocr"}) {
		t.Fatalf("sources %v", srcs)
	}
	if r := res.Resources; r.PagesText != 1 || r.PagesOCR != 1 || r.Device != "cpu" || withText.Load() != 1 {
		t.Fatalf("resources %+v, %d pages given to the model with their text (want 1)", r, withText.Load())
	}
	for _, s := range b.rt.o.Semaphores.Snapshot() {
		if s.Pipeline == "structure" && s.Peak != 1 {
			t.Fatalf("structure semaphore peak %d, want 1: the task took it", s.Peak)
		}
	}
	forced := &textDoc{pagesDoc: pagesDoc{{1000, 1000}}, text: map[int]bool{0: true}}
	if res, err = b.rt.Run(t.Context(), forced, Options{Model: "m:s", Device: "cpu", Pipeline: lector.PipelineStructure, PDFText: lector.PDFTextForce}); err != nil {
		t.Fatal(err)
	}
	if res.Pages[0].Source != "ocr" || withText.Load() != 1 {
		t.Fatalf("force: source %q, %d pages with text", res.Pages[0].Source, withText.Load())
	}
	b.quiescent(t)
}

// TestProgressNeverGoesBackwards: pages recognised on several lanes end at
// once, yet Progress is never called twice at the same time and its count
// only grows — a store written from it (the task's pages done, which the
// event stream follows) never goes backwards.
func TestProgressNeverGoesBackwards(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := make(pagesDoc, 24)
	for i := range doc {
		doc[i] = [2]int{200, 200}
	}
	var (
		inflight   atomic.Int32
		overlapped atomic.Bool
		mu         sync.Mutex
		seen       []int
	)
	_, err := b.rt.Run(t.Context(), doc, Options{Model: "m:a", Device: "cpu", Progress: func(done, total, text int) {
		if inflight.Add(1) > 1 {
			overlapped.Store(true)
		}
		for range 200 {
			runtime.Gosched() // a store's write takes a while: let other pages end meanwhile
		}
		mu.Lock()
		seen = append(seen, done)
		mu.Unlock()
		inflight.Add(-1)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if overlapped.Load() {
		t.Fatal("Progress was called while another call was running")
	}
	if len(seen) != len(doc) || !slices.IsSorted(seen) || seen[len(seen)-1] != len(doc) {
		t.Fatalf("progress %v, want 1..%d in order", seen, len(doc))
	}
	b.quiescent(t)
}

// decodedDoc is pagesDoc whose pages decode (PageDecoder) to images whose
// width stands for their print height, counting the decodes.
type decodedDoc struct {
	pagesDoc
	decodes atomic.Int32
}

func (d *decodedDoc) DecodePage(i int) (image.Image, error) {
	d.decodes.Add(1)
	return image.NewGray(image.Rect(0, 0, 30, 1)), nil
}

// TestPrintMeasuredBeforeAdmission: a page whose engine sizes it by its
// print (engine.PrintSizer) is decoded before admission and estimated at
// the work megapixels its measured print gives, not at their upper bound;
// a document that cannot decode its pages is estimated at the bound.
func TestPrintMeasuredBeforeAdmission(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		doc     Document
		decodes int32
		want    uint64
	}{
		// Not resident: load 100 MiB + 1 MP × 10 MiB at print 30 px.
		{"measured", &decodedDoc{pagesDoc: onePage()}, 1, 110 << 20},
		// The upper bound: 4 work megapixels.
		{"not decodable", onePage(), 0, 140 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.rt.o.Estimator.Work = func(_ string, p engine.PageShape) float64 {
				if p.PrintHeight == 30 {
					return p.Megapixels()
				}
				return 4 * p.Megapixels()
			}
			b.rt.o.Estimator.Print = func(_ string, _ engine.PageShape, decode func() (image.Image, error)) int {
				img, err := decode()
				if err != nil {
					return 0
				}
				return img.Bounds().Dx()
			}
			res, err := b.rt.Run(t.Context(), c.doc, Options{Model: "m:a", Device: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Resources.EstimatedBytes; got != c.want {
				t.Errorf("estimate %d MiB, want %d", got>>20, c.want>>20)
			}
			if d, ok := c.doc.(*decodedDoc); ok && d.decodes.Load() != c.decodes {
				t.Errorf("%d decodes, want %d", d.decodes.Load(), c.decodes)
			}
			b.quiescent(t)
		})
	}
}

// TestTaskIsSizedAndLearnedByItsCostliestClass: a document whose pages
// fall into classes (engine.Classer) is estimated by the class whose
// largest page costs most, and what it used is learned under that class
// (admission.LearnKey) while the load it caused is learned under the
// model's own name.
func TestTaskIsSizedAndLearnedByItsCostliestClass(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The runner (the fake environment's first pid) is at 130 MiB when
	// the pages start and peaks at 190.
	root := t.TempDir()
	dir := filepath.Join(root, "proc", strconv.Itoa(1<<30+1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte("VmHWM:\t  194560 kB\nVmRSS:\t  133120 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.rt.o.Probe = memory.ProcessProbe{Root: root}
	learner := &admission.Fitter{}
	b.rt.o.Learner = learner
	b.rt.o.Estimator.Learner = learner
	// Pages under 1500 px wide are "small": 60 MiB + 40 MiB/MP; the others
	// the model's line, 10 MiB/MP.
	b.rt.o.Estimator.Class = func(_ string, p engine.PageShape) string {
		if p.Width < 1500 {
			return "small"
		}
		return ""
	}
	b.rt.o.Estimator.DocumentedClass = func(m, _ string, k device.Kind) (admission.Footprint, error) {
		f, err := documented(m, k)
		f.Host.PerPage, f.Host.PerMegapixel = 60<<20, 40<<20
		return f, err
	}
	// Three pages at once: the small 1 MP pages cost 100 MiB each, the 2
	// MP page 20: the small class sizes the task.
	res, err := b.rt.Run(t.Context(), pagesDoc{{1000, 1000}, {2000, 1000}, {1000, 1000}}, Options{Model: "m:a", Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Resources.EstimatedBytes, uint64(100+3*100)<<20; got != want {
		t.Errorf("estimate %d MiB, want %d (the load and three small pages)", got>>20, want>>20)
	}
	var keys []string
	for _, l := range learner.Learned() {
		keys = append(keys, l.Model)
	}
	if want := []string{"m:a", "m:a#small"}; !slices.Equal(keys, want) {
		t.Fatalf("learned under %q, want %q (the load, the pages)", keys, want)
	}
	for _, l := range learner.Learned() {
		if l.Model == "m:a" && l.HostPages != 0 || l.Model == "m:a#small" && l.HostPages != 1 {
			t.Errorf("%s: %d pages observed", l.Model, l.HostPages)
		}
	}
	base, _ := documented("m:a", device.CPU)
	if f, ok := learner.Fit("m:a", "cpu", base); !ok || f.Host.Load != 130<<20 {
		t.Errorf("the load learned under the model's name: %.0f MiB, want 130", f.Host.Load/(1<<20))
	}
	b.quiescent(t)
}
