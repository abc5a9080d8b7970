package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/layout"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/result"
)

// Document is what the runtime needs of an input: its pages' sizes up front
// (for the estimate) and each page's image on demand (PDF pages are rendered
// one at a time into the task's workspace).
type Document interface {
	NumPages() int
	PageSize(i int) (width, height int)
	Page(ctx context.Context, i int, workspace string) (engine.Image, error)
}

// Options describe one task.
type Options struct {
	TaskID   string // default: random
	Model    string
	Pipeline string // "ocr" or "structure"; names the semaphore
	// Device is "auto", "cpu" or "cuda:N". Auto prefers the first GPU.
	Device   string
	Priority admission.Priority
	// Sync marks a caller that waits for the answer: it is rejected rather
	// than kept waiting for memory.
	Sync          bool
	KeepAlive     *time.Duration
	EngineOptions engine.Options
	// Progress, if set, is called after each page with pages done and total.
	Progress func(done, total int)
	// Started, if set, is called once, when the first page has a lane: the
	// task has passed admission, its semaphore and the queue for lanes.
	Started func()
}

// Resources is what a task cost.
type Resources struct {
	Device         string        `json:"device"`
	Fallback       bool          `json:"fallback"`
	EstimatedBytes uint64        `json:"estimated_bytes"`
	PeakBytes      uint64        `json:"peak_bytes"`     // CPU: runner peak RSS over the task, above its start
	GPUBytes       uint64        `json:"gpu_peak_bytes"` // GPU memory of the runner at the end (NVML has no per-process peak)
	EstimateError  float64       `json:"estimate_error"` // (estimated-actual)/actual
	QueueWait      time.Duration `json:"queue_wait_ns"`  // admission wait plus the longest lane wait
	LoadWait       time.Duration `json:"load_wait_ns"`
	RunTime        time.Duration `json:"run_time_ns"`
}

// Result is a finished task.
type Result struct {
	Pages     []*result.Page
	Resources Resources
}

// Runtime runs tasks. It is safe for concurrent use.
type Runtime struct {
	o Config
}

// Config wires a Runtime.
type Config struct {
	Models     *model.Manager
	Pool       *pool.Pool
	Admission  *admission.Controller
	Semaphores *admission.Semaphores
	Estimator  admission.Estimator
	Learner    admission.Learner
	Devices    []device.Device
	Probe      memory.ProcessProbe
	GPUs       memory.GPUs // may be nil
	// OnLaneWait, if set, observes each page's wait for a lane (metrics).
	OnLaneWait func(device string, wait time.Duration)
	// WorkDir holds task workspaces (WorkDir/workspaces) and runner sockets
	// (WorkDir/runners); Sweep clears both.
	WorkDir string
	Clock   clock.Clock
	Log     *slog.Logger
	// testHook, when set, is called at named stages (a test seam).
	testHook func(stage string)
}

// New returns a runtime.
func New(o Config) *Runtime {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{o: o}
}

// WorkspaceDir is where task workspaces live.
func (rt *Runtime) WorkspaceDir() string { return filepath.Join(rt.o.WorkDir, "workspaces") }

// RunnerDir is where runner socket directories live.
func (rt *Runtime) RunnerDir() string { return filepath.Join(rt.o.WorkDir, "runners") }

// Sweep removes workspaces and runner sockets left by a crashed process. Call
// it at start-up, before any task or runner starts.
func (rt *Runtime) Sweep() (int, error) {
	n := 0
	var errs []error
	for _, dir := range []string{rt.WorkspaceDir(), rt.RunnerDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	if n > 0 {
		rt.o.Log.Info("swept leftovers of an earlier run", "entries", n)
	}
	return n, errors.Join(errs...)
}

func (rt *Runtime) hook(stage string) {
	if rt.o.testHook != nil {
		rt.o.testHook(stage)
	}
}

// pickDevice resolves "auto" and checks the device exists.
func (rt *Runtime) pickDevice(want string) (string, string, error) {
	if want == "" || want == "auto" {
		for _, d := range rt.o.Devices {
			if d.IsGPU() && rt.o.Pool.Lanes(d.ID) > 0 {
				return d.ID, "cpu", nil
			}
		}
		return "cpu", "", nil
	}
	for _, d := range rt.o.Devices {
		if d.ID == want {
			if d.IsGPU() {
				return want, "cpu", nil
			}
			return want, "", nil
		}
	}
	return "", "", errcode.New(errcode.InvalidArgument, "no device %q", want)
}

// Run runs one task and returns its pages and resources. Errors carry codes
// (errcode); everything the task took is released before Run returns,
// whatever happens.
func (rt *Runtime) Run(ctx context.Context, doc Document, o Options) (res *Result, err error) {
	start := rt.o.Clock.Now()
	if o.TaskID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.TaskID = hex.EncodeToString(b[:])
	}
	if o.Pipeline == "" {
		o.Pipeline = "ocr"
	}
	n := doc.NumPages()
	if n == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "the document has no pages")
	}
	if err := os.MkdirAll(rt.WorkspaceDir(), 0o700); err != nil {
		return nil, fmt.Errorf("task: creating workspaces: %w", err)
	}
	ws, err := os.MkdirTemp(rt.WorkspaceDir(), o.TaskID+"-")
	if err != nil {
		return nil, fmt.Errorf("task: creating workspace: %w", err)
	}
	defer os.RemoveAll(ws)

	dev, fallback, err := rt.pickDevice(o.Device)
	if err != nil {
		return nil, err
	}
	maxMP := 0.0
	for i := range n {
		w, h := doc.PageSize(i)
		maxMP = max(maxMP, float64(w)*float64(h)/1e6)
	}
	estimate := func(d string) uint64 {
		est, _, err := rt.o.Estimator.Estimate(admission.Shape{
			Model: o.Model, Device: d, Resident: rt.o.Models.Resident(o.Model, d),
			MaxMegapixels: maxMP, Concurrent: min(n, max(rt.o.Pool.Lanes(d), 1)),
		})
		if err != nil {
			return 0
		}
		return est
	}
	if _, _, err := rt.o.Estimator.Estimate(admission.Shape{Model: o.Model, Device: dev}); err != nil {
		return nil, err
	}
	if o.Priority == "" {
		o.Priority = admission.Normal
	}
	// A model already loaded here is leased before admission: the reference
	// keeps it from being evicted (by this or another task's admission)
	// between the estimate that counted it as resident and its use. Without
	// it, a task admitted for its working set alone could find the instance
	// evicted and load it again outside its reservation.
	var lease *model.Lease
	defer func() {
		if lease != nil {
			lease.Release()
		}
	}()
	if rt.o.Models.Resident(o.Model, dev) {
		if lease, err = rt.o.Models.Acquire(ctx, o.Model, dev, model.AcquireOptions{KeepAlive: o.KeepAlive}); err != nil {
			return nil, err
		}
	}
	resv, err := rt.o.Admission.Admit(ctx, admission.Request{
		Task: o.TaskID, Device: dev, FallbackDevice: fallback, Estimate: estimate, Priority: o.Priority, Sync: o.Sync,
	})
	if err != nil {
		return nil, err
	}
	defer resv.Release()
	if resv.Device != dev && lease != nil { // fell back: the early lease is on the other device
		lease.Release()
		lease = nil
	}
	dev = resv.Device
	rt.hook("admitted")

	releaseSem, err := rt.o.Semaphores.Acquire(ctx, o.Pipeline)
	if err != nil {
		return nil, err
	}
	defer releaseSem()

	resident := lease != nil
	if lease == nil {
		if lease, err = rt.o.Models.Acquire(ctx, o.Model, dev, model.AcquireOptions{KeepAlive: o.KeepAlive}); err != nil {
			return nil, err
		}
	}
	rt.hook("leased")

	pid := lease.Pid()
	startMem, _ := rt.o.Probe.Read(pid)
	_ = rt.o.Probe.ResetPeak(pid)

	pages := make([]*result.Page, n)
	var done atomic.Int64
	var laneWait atomic.Int64
	var startedOnce sync.Once
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(rt.o.Pool.Lanes(dev), 1))
	for i := range n {
		g.Go(func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					rt.o.Log.Error("panic in page", "task", o.TaskID, "page", i+1, "panic", p, "stack", string(debug.Stack()))
					err = errcode.New(errcode.Internal, "internal error on page %d", i+1)
				}
			}()
			lane, err := rt.o.Pool.Acquire(gctx, pool.Request{Task: o.TaskID, Devices: []string{dev}})
			if err != nil {
				return err
			}
			defer lane.Release()
			if rt.o.OnLaneWait != nil {
				rt.o.OnLaneWait(dev, lane.Wait)
			}
			if o.Started != nil {
				startedOnce.Do(o.Started)
			}
			for {
				old := laneWait.Load()
				if int64(lane.Wait) <= old || laneWait.CompareAndSwap(old, int64(lane.Wait)) {
					break
				}
			}
			im, err := doc.Page(gctx, i, ws)
			if err != nil {
				return err
			}
			rt.hook("page")
			opts := o.EngineOptions
			if len(im.Hints) > 0 {
				opts = make(engine.Options, len(o.EngineOptions)+len(im.Hints))
				maps.Copy(opts, o.EngineOptions)
				maps.Copy(opts, im.Hints)
			}
			page, err := lease.Runner().Process(gctx, im, opts)
			if err != nil {
				return fmt.Errorf("page %d: %w", i+1, err)
			}
			page.Number = i + 1
			pages[i] = page
			d := done.Add(1)
			if o.Progress != nil {
				o.Progress(int(d), n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}

	if o.Pipeline == "structure" {
		layout.Pages(pages) // headers and footers repeated across pages; figure names
	}
	endMem, _ := rt.o.Probe.Read(pid)
	working := sub(endMem.Peak, startMem.RSS)
	actual := working
	if !resident {
		actual += startMem.RSS
	}
	r := Resources{
		Device: dev, Fallback: resv.Fallback, EstimatedBytes: resv.Bytes, PeakBytes: actual,
		QueueWait: resv.Waited + time.Duration(laneWait.Load()), LoadWait: lease.LoadWait,
		RunTime: rt.o.Clock.Now().Sub(start),
	}
	if actual > 0 {
		r.EstimateError = (float64(resv.Bytes) - float64(actual)) / float64(actual)
	}
	if d, ok := device.GPUIndex(dev); ok && rt.o.GPUs != nil {
		if used, err := rt.o.GPUs.ProcessUsed(d); err == nil {
			r.GPUBytes = used[pid]
		}
	}
	if rt.o.Learner != nil && maxMP > 0 {
		conc := float64(min(n, max(rt.o.Pool.Lanes(dev), 1)))
		obs := admission.Coefficients{PerMegapixel: float64(working) / (maxMP * conc)}
		if !resident {
			obs.Load = float64(startMem.RSS)
		}
		rt.o.Learner.Observe(o.Model, dev, obs)
	}
	rt.o.Log.Info("task resources", "task", o.TaskID, "device", dev, "model", o.Model, "estimated_bytes", r.EstimatedBytes,
		"peak_bytes", r.PeakBytes, "fallback", r.Fallback, "run_time", r.RunTime)
	return &Result{Pages: pages, Resources: r}, nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// Quiescent reports what the runtime still holds: references, busy lanes,
// queued waiters, reservations, semaphore units or workspaces. It returns
// nil when nothing is held.
func (rt *Runtime) Quiescent() error {
	var held []string
	for _, i := range rt.o.Models.List() {
		if i.Refs != 0 {
			held = append(held, fmt.Sprintf("%s on %s has %d references", i.Model, i.Device, i.Refs))
		}
	}
	for _, s := range rt.o.Pool.Snapshot() {
		if s.Busy != 0 || s.Queued != 0 {
			held = append(held, fmt.Sprintf("%s: %d lanes busy, %d queued", s.Device, s.Busy, s.Queued))
		}
		if r := rt.o.Admission.Reserved(s.Device); r != 0 {
			held = append(held, fmt.Sprintf("%s: %d bytes reserved", s.Device, r))
		}
	}
	for _, s := range rt.o.Semaphores.Snapshot() {
		if s.InUse != 0 || s.Waiting != 0 {
			held = append(held, fmt.Sprintf("semaphore %s: %d in use, %d waiting", s.Pipeline, s.InUse, s.Waiting))
		}
	}
	if entries, _ := os.ReadDir(rt.WorkspaceDir()); len(entries) > 0 {
		held = append(held, fmt.Sprintf("%d workspaces left", len(entries)))
	}
	if len(held) == 0 {
		return nil
	}
	return errors.New(strings.Join(held, "; "))
}

// Preload loads model on device ahead of use with keepAlive. Preloading is
// not critical work: at warning and above it is refused with
// insufficient_memory.
func (rt *Runtime) Preload(ctx context.Context, model, device string, keepAlive time.Duration) error {
	if err := rt.o.Admission.AllowPreload(device); err != nil {
		return err
	}
	return rt.o.Models.Load(ctx, model, device, keepAlive)
}
