package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/obs"
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

// PageBitser is a document that knows its pages' bits per pixel before
// they are decoded (engine.PageShape.Bits: a 1-bit scan costs Tesseract a
// quarter of a gray page).
type PageBitser interface {
	PageBits(i int) int
}

// PageDecoder is a document that can decode a page before it runs, for a
// measure of its content admission sizes it by (engine.PrintSizer: the
// structure pipeline's print height); an error leaves the page sized
// without it.
type PageDecoder interface {
	DecodePage(i int) (image.Image, error)
}

// TextPager is a document some of whose pages are read from their own
// text (a PDF): TextPage returns page i so read, or nil when it is to be
// recognised from its image.
type TextPager interface {
	TextPage(ctx context.Context, i int, mode lector.PDFText) (*result.Page, error)
}

// OwnWorder is a document some of whose OCR'd pages have words of their
// own (a PDF scan with a typed stamp): WithOwnWords puts the document's
// exact words in place of the recognised ones that lie on them, in place.
type OwnWorder interface {
	WithOwnWords(ctx context.Context, pages []*result.Page, mode lector.PDFText)
}

// Searchable is a document that makes a searchable PDF of itself: its own
// pages with the result's words as a text layer, and how the pages were
// made (lector.Resources.PDFOutput).
type Searchable interface {
	SearchablePDF(ctx context.Context, pages []*result.Page, mode lector.PDFText) ([]byte, string, error)
}

// Options describe one task.
type Options struct {
	TaskID   string // default: random
	Model    string
	Pipeline lector.Pipeline // names the semaphore and the post-step (Config.AfterPages); default ocr
	// Device is "auto" (or ""), "cpu" or "cuda:N"; see Runtime.Place.
	Device   string
	Priority admission.Priority
	// Sync marks a caller that waits for the answer: it is rejected rather
	// than kept waiting for memory.
	Sync          bool
	KeepAlive     *time.Duration
	EngineOptions engine.Options
	// PDFText says what to do with PDF pages that have text of their own
	// (default: the pipeline's, lector.Pipeline.DefaultPDFText).
	PDFText lector.PDFText
	// PDF asks for the searchable PDF (Result.PDF) of a Searchable document.
	PDF bool
	// Progress, if set, is called after each page with pages done and
	// total, and how many of the pages are read from their own text (a
	// PDF's pages with text of their own, known before any is recognised).
	// Calls never overlap and done only grows (pages that end at once
	// report one after the other), so a store written from it never
	// goes backwards.
	Progress func(done, total, text int)
	// Started, if set, is called once, when the first page has a lane: the
	// task has passed admission, its semaphore and the queue for lanes.
	Started func()

	fromText int // pages read from their own text (Run sets it)
}

// Resources is what a task cost (the domain's shape).
type Resources = lector.Resources

// Result is a finished task.
type Result struct {
	Pages     []*result.Page
	Resources Resources
	PDF       []byte // the searchable PDF, when asked for
}

// Runtime runs tasks. It is safe for concurrent use.
type Runtime struct {
	o Config

	mu sync.Mutex // guards measuring
	// measuring counts, per runner pid, the tasks whose memory is being
	// measured on it. A runner's high-water mark (VmHWM) is reset only when
	// the first of them starts: a task that starts while another runs on
	// the same runner must not erase the other's peak (which made that
	// task's peak read below its starting RSS: peak_bytes 0). Tasks that
	// overlap on a runner thus each count the runner's peak since the
	// first of them began — more than their own share, never less.
	measuring map[int]int
}

// Models is what the runtime needs of the model manager (model.Manager).
type Models interface {
	Acquire(ctx context.Context, model, device string, opts model.AcquireOptions) (*model.Lease, error)
	Resident(model, device string) bool
	Load(ctx context.Context, model, device string, keepAlive time.Duration) error
	List() []model.InstanceInfo
}

// Lanes is what the runtime needs of the service pool (pool.Pool).
type Lanes interface {
	Acquire(ctx context.Context, req pool.Request) (*pool.Lane, error)
	Lanes(device string) int
	Snapshot() []pool.ServiceStats
}

// Admitter is what the runtime needs of admission (admission.Controller).
type Admitter interface {
	Admit(ctx context.Context, req admission.Request) (*admission.Reservation, error)
	AllowPreload(device string) error
	Headroom(device string) int64
	Reserved(device string) uint64
}

// Limiter is what the runtime needs of the pipelines' semaphores
// (admission.Semaphores).
type Limiter interface {
	Acquire(ctx context.Context, pipeline string) (release func(), err error)
	Snapshot() []admission.SemaphoreStats
}

// Config wires a Runtime.
type Config struct {
	Models     Models
	Pool       Lanes
	Admission  Admitter
	Semaphores Limiter
	Estimator  admission.Estimator
	Learner    admission.Learner
	Devices    []device.Device
	Probe      memory.ProcessProbe
	GPUs       memory.GPUs // may be nil
	// DeviceKinds says which kinds of device a model runs on, best first
	// (engine.Registry.DeviceKinds); nil means the CPU only.
	DeviceKinds func(model string) ([]device.Kind, error)
	// GPUSample is how often a GPU task's runner's GPU memory is read from
	// NVML while the task runs (default 100 ms; each read is one
	// nvmlDeviceGetComputeRunningProcesses call).
	GPUSample time.Duration
	// OnLaneWait, if set, observes each page's wait for a lane (metrics).
	OnLaneWait func(device string, wait time.Duration)
	// AfterPages is each pipeline's step over the whole document once its
	// pages are read (the structure pipeline's headers, footers and figure
	// names across pages: layout.Pages).
	AfterPages map[lector.Pipeline]func([]*result.Page)
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
	o.Clock, o.Log = obs.Clock(o.Clock), obs.Log(o.Log)
	if o.GPUSample <= 0 {
		o.GPUSample = 100 * time.Millisecond
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

// Place chooses where a task (or a preload) of model runs, from want:
//
//   - "auto" or "": the best kind of device the model runs on. A model that
//     runs on GPUs goes to the enabled GPU with the most headroom under the
//     critical line, with the CPU as its fallback when the model runs there
//     too; a CPU-only model goes to the CPU and never takes a GPU's lane or
//     memory.
//   - "cpu" or "cuda:N": that device, if it is here, enabled (a GPU with
//     lanes) and the model runs on its kind; a GPU task keeps the CPU as its
//     fallback when the model runs there.
//
// A device that cannot serve is device_unavailable, saying why. fallback is
// "" when there is none.
func (rt *Runtime) Place(model, want string) (dev, fallback string, err error) {
	kinds := []device.Kind{device.CPU}
	if rt.o.DeviceKinds != nil {
		if kinds, err = rt.o.DeviceKinds(model); err != nil {
			return "", "", err
		}
	}
	cpuOK := slices.Contains(kinds, device.CPU)
	gpuOK := slices.Contains(kinds, device.CUDA)
	if cpuOK {
		fallback = string(device.CPU)
	}
	if want == "" || want == "auto" {
		best, room := "", int64(0)
		for _, d := range rt.o.Devices {
			if !gpuOK || !d.IsGPU() || rt.o.Pool.Lanes(d.ID) == 0 {
				continue
			}
			if r := rt.o.Admission.Headroom(d.ID); best == "" || r > room {
				best, room = d.ID, r
			}
		}
		switch {
		case best != "":
			return best, fallback, nil
		case cpuOK:
			return string(device.CPU), "", nil
		}
		return "", "", errcode.New(errcode.DeviceUnavailable, "model %s runs on %s only, and no such device is enabled here", model, kindList(kinds))
	}
	if _, _, err := device.ParseID(want); err != nil {
		return "", "", errcode.New(errcode.InvalidArgument, "device %q is not auto, cpu or cuda:N", want)
	}
	i := slices.IndexFunc(rt.o.Devices, func(d device.Device) bool { return d.ID == want })
	switch {
	case i < 0:
		return "", "", errcode.New(errcode.DeviceUnavailable, "no device %q here (devices: %s)", want, rt.deviceList())
	case !slices.Contains(kinds, rt.o.Devices[i].Kind):
		return "", "", errcode.New(errcode.DeviceUnavailable, "model %s does not run on %s (it runs on %s)", model, want, kindList(kinds))
	case rt.o.Devices[i].IsGPU() && rt.o.Pool.Lanes(want) == 0:
		return "", "", errcode.New(errcode.DeviceUnavailable, "%s is turned off (--gpu-lanes 0)", want)
	case rt.o.Devices[i].IsGPU():
		return want, fallback, nil
	}
	return want, "", nil
}

func kindList(kinds []device.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func (rt *Runtime) deviceList() string {
	s := make([]string, len(rt.o.Devices))
	for i, d := range rt.o.Devices {
		s[i] = d.ID
	}
	return strings.Join(s, ", ")
}

// Run runs one task and returns its pages and resources. Errors carry codes
// (errcode); everything the task took is released before Run returns,
// whatever happens. Its phases: admit (place, estimate, reserve, take the
// pipeline's semaphore and the model's lease), runPages, the pipeline's
// AfterPages step, account.
func (rt *Runtime) Run(ctx context.Context, doc Document, o Options) (*Result, error) {
	start := rt.o.Clock.Now()
	o = o.withDefaults()
	n := doc.NumPages()
	if n == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "the document has no pages")
	}
	// Pages read from their own text need no model, lane or memory in the
	// ocr pipeline; the structure pipeline still gives them to its model,
	// with their words, for their layout (runPages).
	text, fromText, err := textPages(ctx, doc, o)
	if err != nil {
		return nil, err
	}
	pages, done := make([]*result.Page, n), 0
	if text != nil && !o.Pipeline.AnalysesLayout() {
		pages, text, done = text, nil, fromText
	}
	if fromText > 0 {
		rt.o.Log.Info("pages read from their own text", "task", o.TaskID, "pipeline", o.Pipeline, "pages_text", fromText, "pages", n)
	}
	if err := os.MkdirAll(rt.WorkspaceDir(), 0o700); err != nil {
		return nil, fmt.Errorf("task: creating workspaces: %w", err)
	}
	ws, err := os.MkdirTemp(rt.WorkspaceDir(), o.TaskID+"-")
	if err != nil {
		return nil, fmt.Errorf("task: creating workspace: %w", err)
	}
	defer os.RemoveAll(ws)

	var r Resources
	o.fromText = fromText
	if done < n {
		if done > 0 && o.Progress != nil {
			o.Progress(done, n, fromText)
		}
		if r, err = rt.recognise(ctx, doc, o, ws, pages, text, done, start); err != nil {
			return nil, err
		}
	} else if o.Progress != nil {
		o.Progress(n, n, fromText)
	}
	if ow, ok := doc.(OwnWorder); ok && done < n {
		ow.WithOwnWords(ctx, pages, o.PDFText)
	}
	if after := rt.o.AfterPages[o.Pipeline]; after != nil {
		after(pages)
	}
	r.PagesText, r.PagesOCR = fromText, n-fromText
	res := &Result{Pages: pages}
	if s, ok := doc.(Searchable); ok && o.PDF {
		if res.PDF, r.PDFOutput, err = s.SearchablePDF(ctx, pages, o.PDFText); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errcode.IsStorage(err) { // the server's disk, not the document: run again
				return nil, errcode.Storage(err)
			}
			// A PDF that cannot be written after every fallback loses
			// only itself: the pages recognised stay, the task succeeds
			// with its other formats, and says why there is no PDF.
			res.PDF, r.PDFOutput = nil, ""
			r.PDFError = &lector.Error{Code: string(errcode.PDFNotWritten), Message: "the searchable PDF could not be written: " + errcode.Message(err)}
			rt.o.Log.Warn("searchable PDF not written", "task", o.TaskID, "code", errcode.Of(err), "err", err)
		}
	}
	r.RunTime = lector.Millis(rt.o.Clock.Now().Sub(start))
	res.Resources = r
	return res, nil
}

// textPages asks a TextPager for every page under o.PDFText (nothing in
// force) and returns, per page, the page read from its text or nil (nil
// throughout for a document without text), and how many there are.
func textPages(ctx context.Context, doc Document, o Options) ([]*result.Page, int, error) {
	tp, ok := doc.(TextPager)
	if !ok || o.PDFText == lector.PDFTextForce {
		return nil, 0, nil
	}
	n := doc.NumPages()
	pages, count := make([]*result.Page, n), 0
	for i := range n {
		p, err := tp.TextPage(ctx, i, o.PDFText)
		if err != nil {
			return nil, 0, err
		}
		if p != nil {
			p.Number = i + 1
			pages[i] = p
			count++
		}
	}
	return pages, count, nil
}

// recognise admits the task and runs the pages not yet in pages on its
// model (text[i], when set, is page i's own text, given to the model with
// its image); everything it took is given back when it returns.
func (rt *Runtime) recognise(ctx context.Context, doc Document, o Options, ws string, pages, text []*result.Page, done int, start time.Time) (Resources, error) {
	a, err := rt.admit(ctx, doc, o)
	if err != nil {
		return Resources{}, err
	}
	defer a.release()
	m := rt.startMeasure(a.dev, a.lease.Pid())
	defer m.release()
	laneWait, err := rt.runPages(ctx, doc, o, a.dev, a.concurrent, a.lease, ws, pages, text, done)
	m.stop()
	if err != nil {
		if ctx.Err() != nil {
			return Resources{}, ctx.Err()
		}
		return Resources{}, err
	}
	return rt.account(o, a, m, laneWait, start), nil
}

func (o Options) withDefaults() Options {
	if o.TaskID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.TaskID = hex.EncodeToString(b[:])
	}
	if o.Pipeline == "" {
		o.Pipeline = lector.PipelineOCR
	}
	if o.Priority == "" {
		o.Priority = lector.Normal
	}
	if o.PDFText == "" {
		o.PDFText = o.Pipeline.DefaultPDFText()
	}
	return o
}

// admitted is what a task holds once admitted: its device, its memory
// reservation, a slot of its pipeline's semaphore and a lease on its model.
type admitted struct {
	dev      string
	resv     *admission.Reservation
	lease    *model.Lease
	resident bool // the model was loaded before the task: its load is not the task's
	// largest is each page class's largest page, in work megapixels
	// (admission.Estimator); class and maxMP are the class that sized the
	// task on its device and its largest page.
	largest    map[string]float64
	class      string
	maxMP      float64
	concurrent int    // pages at once: min(pages, the device's lanes), or 1 when admitted serially
	release    func() // gives everything back, once
}

// admit places the task, estimates it, reserves its memory, and takes its
// semaphore slot and model lease. On error or panic nothing is held.
func (rt *Runtime) admit(ctx context.Context, doc Document, o Options) (*admitted, error) {
	dev, fallback, err := rt.Place(o.Model, o.Device)
	if err != nil {
		return nil, err
	}
	n := doc.NumPages()
	a := &admitted{largest: map[string]float64{}}
	bits, _ := doc.(PageBitser)
	dec, _ := doc.(PageDecoder)
	for i := range n {
		p := engine.PageShape{}
		p.Width, p.Height = doc.PageSize(i)
		if bits != nil {
			p.Bits = bits.PageBits(i)
		}
		if dec != nil {
			p.PrintHeight = rt.o.Estimator.PrintHeight(o.Model, p, func() (image.Image, error) { return dec.DecodePage(i) })
		}
		c := rt.o.Estimator.PageClass(o.Model, p)
		a.largest[c] = max(a.largest[c], rt.o.Estimator.WorkMegapixels(o.Model, p))
	}
	if n == 0 {
		a.largest[""] = 0
	}
	// sized returns the demand of the class whose largest page costs most
	// on d, and that class.
	sized := func(d string, concurrent int) (admission.Demand, string) {
		var best admission.Demand
		bestClass, found := "", false
		for _, c := range slices.Sorted(maps.Keys(a.largest)) {
			dem, err := rt.o.Estimator.Estimate(admission.Shape{
				Model: o.Model, Device: d, Resident: rt.o.Models.Resident(o.Model, d),
				Class: c, MaxMegapixels: a.largest[c], Concurrent: concurrent,
			})
			if err != nil {
				continue
			}
			if !found || dem.Bytes > best.Bytes || dem.Bytes == best.Bytes && dem.Host > best.Host {
				best, bestClass, found = dem, c, true
			}
		}
		if !found {
			return admission.Demand{Device: d}, ""
		}
		return best, bestClass
	}
	estimateAt := func(d string, concurrent int) admission.Demand {
		dem, _ := sized(d, concurrent)
		return dem
	}
	estimate := func(d string) admission.Demand { return estimateAt(d, min(n, max(rt.o.Pool.Lanes(d), 1))) }
	var serial func(string) admission.Demand
	if n > 1 { // a document of several pages may run them one at a time
		serial = func(d string) admission.Demand { return estimateAt(d, 1) }
	}
	if _, err := rt.o.Estimator.Estimate(admission.Shape{Model: o.Model, Device: dev}); err != nil {
		return nil, err
	}
	var releases []func() // in the order taken; given back in reverse
	a.release = func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
		releases = nil
	}
	ok := false
	defer func() {
		if !ok { // an error or a panic: give back what was taken
			a.release()
		}
	}()
	leaseRelease := func() {
		if a.lease != nil {
			a.lease.Release()
		}
	}
	releases = append(releases, leaseRelease)
	// A model already loaded here is leased before admission: the reference
	// keeps it from being evicted (by this or another task's admission)
	// between the estimate that counted it as resident and its use. Without
	// it, a task admitted for its working set alone could find the instance
	// evicted and load it again outside its reservation.
	if rt.o.Models.Resident(o.Model, dev) {
		if a.lease, err = rt.o.Models.Acquire(ctx, o.Model, dev, model.AcquireOptions{KeepAlive: o.KeepAlive}); err != nil {
			return nil, err
		}
	}
	if a.resv, err = rt.o.Admission.Admit(ctx, admission.Request{
		Task: o.TaskID, Device: dev, FallbackDevice: fallback, Estimate: estimate, Serial: serial, Priority: o.Priority, Sync: o.Sync,
	}); err != nil {
		return nil, err
	}
	releases = append(releases, a.resv.Release)
	if a.resv.Device != dev && a.lease != nil { // fell back: the early lease is on the other device
		a.lease.Release()
		a.lease = nil
	}
	a.dev = a.resv.Device
	a.concurrent = min(n, max(rt.o.Pool.Lanes(a.dev), 1))
	if a.resv.Serial {
		a.concurrent = 1
	}
	_, a.class = sized(a.dev, a.concurrent)
	a.maxMP = a.largest[a.class]
	rt.hook("admitted")

	releaseSem, err := rt.o.Semaphores.Acquire(ctx, string(o.Pipeline))
	if err != nil {
		return nil, err
	}
	releases = append(releases, releaseSem)
	a.resident = a.lease != nil
	if a.lease == nil {
		if a.lease, err = rt.o.Models.Acquire(ctx, o.Model, a.dev, model.AcquireOptions{KeepAlive: o.KeepAlive}); err != nil {
			return nil, err
		}
	}
	// The model is resident and leased: its load, which the estimate
	// counted when it was not, is now in the device's used memory.
	a.resv.Loaded()
	rt.hook("leased")
	ok = true
	return a, nil
}

// account turns a finished task's measurements into its resources, feeds
// the learner (each memory learns from its own figure: the host's from the
// runner's VmHWM, a GPU's from the sampled NVML peak) and logs them.
func (rt *Runtime) account(o Options, a *admitted, m *measure, laneWait time.Duration, start time.Time) Resources {
	gpuPeak, gpuStart, samples := m.stop()
	endMem, _ := rt.o.Probe.Read(m.pid)
	m.release()
	working := sub(endMem.Peak, m.host.RSS)
	actual := working
	if !a.resident {
		actual += m.host.RSS
	}
	hostEst, gpuEst := a.resv.Bytes, uint64(0)
	if a.dev != string(device.CPU) {
		hostEst, gpuEst = a.resv.HostBytes, a.resv.Bytes
	}
	r := Resources{
		Device: a.dev, Fallback: a.resv.Fallback, EstimatedBytes: hostEst, PeakBytes: actual,
		GPUEstimatedBytes: gpuEst, GPUPeakBytes: gpuPeak, GPUSamples: samples,
		QueueWait: lector.Millis(a.resv.Waited + laneWait), LoadWait: lector.Millis(a.lease.LoadWait),
		RunTime: lector.Millis(rt.o.Clock.Now().Sub(start)),
	}
	if actual > 0 {
		r.EstimateError = (float64(hostEst) - float64(actual)) / float64(actual)
	}
	if rt.o.Learner != nil && a.maxMP > 0 {
		// The pages are learned under their class, the load under the
		// model's own name (admission.LearnKey).
		var ob, load admission.Observation
		ob.Host = admission.Sample{Working: float64(working), Pages: a.concurrent, Megapixels: a.maxMP}
		if !a.resident {
			load.Host.Load = float64(m.host.RSS)
		}
		if samples > 0 {
			ob.Device = admission.Sample{Working: float64(sub(gpuPeak, gpuStart)), Pages: a.concurrent, Megapixels: a.maxMP}
			if !a.resident {
				load.Device.Load = float64(gpuStart)
			}
		}
		if a.class == "" {
			ob.Host.Load, ob.Device.Load = load.Host.Load, load.Device.Load
			rt.o.Learner.Observe(o.Model, a.dev, ob)
		} else {
			if load.Host.Load > 0 || load.Device.Load > 0 {
				rt.o.Learner.Observe(o.Model, a.dev, load)
			}
			rt.o.Learner.Observe(admission.LearnKey(o.Model, a.class), a.dev, ob)
		}
	}
	rt.o.Log.Info("task resources", "task", o.TaskID, "device", a.dev, "model", o.Model, "estimated_bytes", r.EstimatedBytes,
		"peak_bytes", r.PeakBytes, "gpu_estimated_bytes", r.GPUEstimatedBytes, "gpu_peak_bytes", r.GPUPeakBytes,
		"fallback", r.Fallback, "run_time", time.Duration(r.RunTime),
		// What the learner observed: the largest page's work megapixels,
		// the pages run at once, the working set above the runner's
		// resident size at the start, and that size (bench/replay reads
		// these to replay the fit offline).
		"page_class", a.class, "work_megapixels", a.maxMP, "pages_at_once", a.concurrent, "working_bytes", working,
		"loaded", !a.resident, "start_rss_bytes", m.host.RSS)
	return r
}

// runPages runs every page of doc on the leased runner, up to concurrent
// at once (the device's lanes, or one when admission reserved for one page
// at a time), and returns the pages and the longest lane wait.
// A panic in a page's goroutine becomes an internal error.
// Pages already in pages (read from their text, counted in done) are
// skipped; a page with its own text in text (the structure pipeline's) is
// given to the model with it (engine.Image.Text), and its source stays
// text.
func (rt *Runtime) runPages(ctx context.Context, doc Document, o Options, dev string, concurrent int, lease *model.Lease, ws string, pages, text []*result.Page, done0 int) (time.Duration, error) {
	n := doc.NumPages()
	var done atomic.Int64
	done.Store(int64(done0))
	var progressMu sync.Mutex // pages end at once: their counts reach Progress in order
	var laneWait atomic.Int64
	var startedOnce sync.Once
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrent, 1))
	for i := range n {
		if pages[i] != nil {
			continue
		}
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
			switch {
			case err == nil:
			case text != nil && text[i] != nil && errcode.Of(err) == errcode.TooManyPixels:
				// A page too large to render that has its own text is
				// analysed from its words alone.
				w, h := doc.PageSize(i)
				im = engine.Image{Number: i + 1, Width: w, Height: h}
			default:
				return err
			}
			if text != nil && text[i] != nil {
				im.Text = text[i]
			}
			rt.hook("page")
			page, err := lease.Runner().Process(gctx, im, o.EngineOptions)
			if err != nil {
				return fmt.Errorf("page %d: %w", i+1, err)
			}
			page.Number = i + 1
			if im.SourceWidth > 0 && im.Width > 0 && im.Height > 0 {
				// Read at square pixels: the boxes go back onto the
				// input's own pixels, which every output is drawn over.
				sx, sy := float64(im.SourceWidth)/float64(im.Width), float64(im.SourceHeight)/float64(im.Height)
				if page.Rotation%180 != 0 {
					sx, sy = sy, sx
				}
				page.Scale(sx, sy)
				page.Width, page.Height = im.SourceWidth, im.SourceHeight
				if page.Rotation%180 != 0 {
					page.Width, page.Height = im.SourceHeight, im.SourceWidth
				}
			}
			switch {
			case im.Text != nil:
				page.Source = result.SourceText
			case page.Source == "":
				page.Source = result.SourceOCR
			}
			pages[i] = page
			progressMu.Lock()
			defer progressMu.Unlock()
			d := done.Add(1)
			if o.Progress != nil {
				o.Progress(int(d), n, o.fromText)
			}
			return nil
		})
	}
	err := g.Wait()
	return time.Duration(laneWait.Load()), err
}

// measure is a task's memory measurement on its runner: the host side read
// at the start (the peak is reset then, and read at the end), and on a GPU
// the runner's GPU memory sampled from NVML until stop.
type measure struct {
	pid     int
	host    memory.ProcessMemory
	release func() // ends this task's count in Runtime.measuring, once the runner's peak is read

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
	mu       sync.Mutex // guards the GPU figures
	gpuStart uint64
	gpuPeak  uint64
	samples  int
}

func (rt *Runtime) startMeasure(dev string, pid int) *measure {
	m := &measure{pid: pid, quit: make(chan struct{}), done: make(chan struct{})}
	rt.mu.Lock()
	m.host, _ = rt.o.Probe.Read(pid)
	if rt.measuring[pid] == 0 {
		_ = rt.o.Probe.ResetPeak(pid)
	}
	if rt.measuring == nil {
		rt.measuring = map[int]int{}
	}
	rt.measuring[pid]++
	rt.mu.Unlock()
	m.release = sync.OnceFunc(func() {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		if rt.measuring[pid]--; rt.measuring[pid] <= 0 {
			delete(rt.measuring, pid)
		}
	})
	idx, isGPU := device.GPUIndex(dev)
	if !isGPU || rt.o.GPUs == nil {
		close(m.done)
		return m
	}
	sample := func() {
		used, err := rt.o.GPUs.ProcessUsed(idx)
		if err != nil {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.samples == 0 {
			m.gpuStart = used[pid]
		}
		m.gpuPeak = max(m.gpuPeak, used[pid])
		m.samples++
	}
	sample()
	tick := rt.o.Clock.NewTicker(rt.o.GPUSample)
	go func() {
		defer close(m.done)
		defer tick.Stop()
		for {
			select {
			case <-m.quit:
				sample() // the end counts too
				return
			case <-tick.C():
				sample()
			}
		}
	}()
	return m
}

// stop ends the sampling and returns the GPU peak, the GPU memory at the
// start and the number of samples (zeros on the CPU).
func (m *measure) stop() (peak, start uint64, samples int) {
	m.stopOnce.Do(func() { close(m.quit) })
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gpuPeak, m.gpuStart, m.samples
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

// Preload loads model ahead of use with keepAlive, on the device Place
// chooses for want ("auto", "cpu", "cuda:N"), and returns that device.
// Preloading is not critical work: at warning and above it is refused with
// insufficient_memory.
func (rt *Runtime) Preload(ctx context.Context, model, want string, keepAlive time.Duration) (string, error) {
	dev, _, err := rt.Place(model, want)
	if err != nil {
		return "", err
	}
	if err := rt.o.Admission.AllowPreload(dev); err != nil {
		return "", err
	}
	return dev, rt.o.Models.Load(ctx, model, dev, keepAlive)
}
