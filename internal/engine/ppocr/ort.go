package ppocr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lector-ocr/lector/internal/errcode"
)

// ONNX Runtime is one environment per process, bound to one library: a
// runner hosts one model, so the first Load decides which library.
var (
	ortMu  sync.Mutex
	ortLib string
)

// Library files in a ppocr directory's onnxruntime/ (scripts/onnxruntime.sh).
const (
	libName     = "libonnxruntime.so"
	libCUDAName = "libonnxruntime_providers_cuda.so"
)

func initORT(lib string) error {
	ortMu.Lock()
	defer ortMu.Unlock()
	if ort.IsInitialized() {
		if lib != ortLib {
			return fmt.Errorf("ONNX Runtime already loaded from %s, not %s", ortLib, lib)
		}
		return nil
	}
	if _, err := os.Stat(lib); err != nil {
		return err
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading ONNX Runtime from %s: %w", lib, err)
	}
	ortLib = lib
	return nil
}

// sessionConfig is how sessions are made for one model instance.
type sessionConfig struct {
	Threads int    // intra-op threads of each run
	GPU     int    // CUDA device index, -1 for the CPU
	GPUMem  uint64 // the CUDA arena's limit in bytes (0: ONNX Runtime's default, the whole device)
	LibDir  string // where the provider libraries are
}

// cudaOptions are the CUDA execution provider's options: the device, an
// arena bounded by the admission's figure that grows only by what a run
// asks for (kSameAsRequested, not doubling), and cuDNN's heuristic
// algorithm search (no workspace-hungry benchmarking per new shape: line
// batches change width all the time).
func cudaOptions(c sessionConfig) map[string]string {
	o := map[string]string{
		"device_id":              strconv.Itoa(c.GPU),
		"arena_extend_strategy":  "kSameAsRequested",
		"cudnn_conv_algo_search": "HEURISTIC",
	}
	if c.GPUMem > 0 {
		o["gpu_mem_limit"] = strconv.FormatUint(c.GPUMem, 10)
	}
	return o
}

// deviceUnavailable is the error of a device this installation cannot use.
func deviceUnavailable(format string, args ...any) error {
	return errcode.New(errcode.DeviceUnavailable, format, args...)
}

// checkCUDA reports whether the CUDA provider is installed beside the
// library.
func checkCUDA(libDir string) error {
	if _, err := os.Stat(filepath.Join(libDir, libCUDAName)); err != nil {
		return deviceUnavailable("ppocr: no CUDA execution provider (%s) in %s; run `make setup-gpu` (scripts/onnxruntime.sh --gpu) on a machine with an NVIDIA driver", libCUDAName, libDir)
	}
	return nil
}

func newSessionOptions(c sessionConfig) (*ort.SessionOptions, error) {
	o, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*ort.SessionOptions, error) { o.Destroy(); return nil, err }
	if err := o.SetIntraOpNumThreads(max(c.Threads, 1)); err != nil {
		return fail(err)
	}
	if err := o.SetInterOpNumThreads(1); err != nil {
		return fail(err)
	}
	if err := o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return fail(err)
	}
	// No memory pattern. ONNX Runtime plans one per input shape on the
	// first run at that shape and keeps it, and pages come in every size:
	// the first large page in a fresh runner peaked anywhere from 166 to
	// 573 MiB above its start (linn.png, a 300 dpi page, thirteen fresh
	// runners) where the same page a second time took 176–187. Without
	// the pattern it takes 158–169 MiB first or again, for the same CPU
	// (87 files: 40.7–43.1 s against 42.0–42.1) and the same text
	// (docs/BENCHMARKS.md, "The first large page"). A Recognizer's phrases,
	// in many widths, grew the runner by each pattern kept (70 → 570 MiB
	// over four readings of 220 crops, 410 without).
	if err := o.SetMemPattern(false); err != nil {
		return fail(err)
	}
	// ONNX Runtime's CPU arena stays on, and each run shrinks it when it
	// ends (runShrink). Without the arena each large tensor was mapped and
	// faulted in op after op: a 30000×40 strip read as one line took 27 s
	// against 11 s and timed out under make test's load (TestBadInput).
	// Without the shrink the arena kept the high-water mark of the largest
	// page for good: later pages measured 0-2 MiB above the runner's
	// resident size and the learner under-estimated the next large one
	// (docs/BENCHMARKS.md, admission's calibration).
	// Threads that spin between operators burn the cores other slots'
	// runs need.
	if err := o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return fail(err)
	}
	if c.GPU >= 0 {
		if err := checkCUDA(c.LibDir); err != nil {
			return fail(err)
		}
		co, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fail(deviceUnavailable("ppocr: CUDA provider options: %v", err))
		}
		defer co.Destroy()
		if err := co.Update(cudaOptions(c)); err != nil {
			return fail(deviceUnavailable("ppocr: CUDA provider options: %v", err))
		}
		if err := o.AppendExecutionProviderCUDA(co); err != nil {
			return fail(deviceUnavailable("ppocr: the CUDA execution provider cannot be used on cuda:%d (%v); CUDA 13 and cuDNN 9 libraries must be where the loader finds them", c.GPU, err))
		}
	}
	return o, nil
}

// runShrinkKey and runShrink make a run give its CPU arena's grown
// regions back when it ends (ONNX Runtime's run option
// "memory.enable_memory_arena_shrinkage", a list of device:id; the arena's
// first region stays). Within the run the arena reuses its buffers, as
// without the option: a 30000×40 strip read as one line took the same CPU
// as with the arena kept (TestBadInput: 5.8 s user, 1.2 s system against
// 5.7 and 1.2; arena off 7.2 and 14.4), and a page's working set is what
// it uses above the model's resident size again (docs/BENCHMARKS.md,
// admission's calibration). Only CPU sessions shrink (shrinkFor): a CUDA
// session's GPU arena is bounded by gpu_mem_limit (cudaOptions), and its
// host side was not measured with the shrink (no CUDA provider here).
const (
	runShrinkKey = "memory.enable_memory_arena_shrinkage"
	runShrink    = "cpu:0"
)

// shrinkFor is what a session on c's device shrinks after each run.
func shrinkFor(c sessionConfig) string {
	if c.GPU >= 0 {
		return ""
	}
	return runShrink
}

// session is one model's ONNX Runtime session. Run is safe from several
// goroutines at once (ONNX Runtime's sessions are), so one session serves
// every handle of a runner.
type session struct {
	s        *ort.DynamicAdvancedSession
	in, out  string
	inShape  ort.Shape // as the model declares it (-1: dynamic)
	outShape ort.Shape // as the model declares it (-1: dynamic)
	shrink   string    // the arenas each run shrinks (runShrinkKey; "": none)
	// seq learns, for an output of rank 3 from an input of rank 4 (the
	// recogniser's N×T×classes from N×3×48×W), T from W.
	seq seqLength
	// ownOutput is cleared when a run into an output of the shape
	// predicted (outputFor) failed: the session's outputs are then ONNX
	// Runtime's own.
	ownOutput atomic.Bool
}

// newSession opens the model at path; each run shrinks the arenas shrink
// names (runShrinkKey's value, "" none).
func newSession(path string, opts *ort.SessionOptions, shrink string) (*session, error) {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, err
	}
	if len(ins) != 1 || len(outs) < 1 {
		return nil, fmt.Errorf("%s: expected one input and an output, found %d and %d", path, len(ins), len(outs))
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{ins[0].Name}, []string{outs[0].Name}, opts)
	if err != nil {
		return nil, err
	}
	ss := &session{s: s, in: ins[0].Name, out: outs[0].Name, inShape: ins[0].Dimensions, outShape: outs[0].Dimensions, shrink: shrink}
	ss.ownOutput.Store(true)
	return ss, nil
}

// outputFor is the output's shape for an input of shape in, or nil when
// it cannot be told before the run: the model's declared dimensions, a
// dynamic one taken from the input's — the batch from the batch, a map's
// height and width from the input's (the detector's N×1×H×W), a
// sequence's length from the width as runs have shown it to follow
// (seqLength; the recogniser's N×T×classes).
func (s *session) outputFor(in []int64) ort.Shape {
	if !s.ownOutput.Load() || len(s.outShape) == 0 {
		return nil
	}
	out := make(ort.Shape, len(s.outShape))
	for i, d := range s.outShape {
		switch {
		case d > 0:
			out[i] = d
		case i == 0 && len(in) > 0:
			out[i] = in[0]
		case len(s.outShape) == len(in):
			out[i] = in[i]
		case len(s.outShape) == 3 && len(in) == 4 && i == 1:
			t, ok := s.seq.predict(in[3])
			if !ok {
				return nil
			}
			out[i] = t
		default:
			return nil
		}
	}
	return out
}

// learn records from a run ONNX Runtime gave the output of what outputFor
// needs (the recogniser's sequence length for its input's width).
func (s *session) learn(in, out []int64) {
	if len(out) == 3 && len(in) == 4 {
		s.seq.observe(in[3], out[1])
	}
}

// seqLength learns how a model's output sequence length T follows its
// input's width W, of the form T = ⌊(W + a) / s⌋ that strided
// convolutions and pools give (PP-OCRv4's recogniser: s = 8, a = 3 —
// widths 321–324 give 40 steps, 325–332 give 41), from the runs ONNX
// Runtime's own outputs showed: every (s, a) with s ≤ maxSeqStride and
// 0 ≤ a < s consistent with all of them is kept, and a width's T is
// predicted only where all agree. A model of another form is left
// unpredicted or, predicted wrong, falls back to ONNX Runtime's outputs
// (session.ownOutput). Safe for concurrent use.
type seqLength struct {
	mu   sync.Mutex
	seen bool
	// fits holds the candidates still consistent with every observation.
	fits []seqFit
}

// seqFit is one candidate T = ⌊(W + a) / s⌋.
type seqFit struct{ s, a int64 }

// maxSeqStride bounds the strides seqLength considers: a text
// recogniser's downsampling of its width (8 in PP-OCR, 4 in CRNNs).
const maxSeqStride = 32

func (f seqFit) at(w int64) int64 { return (w + f.a) / f.s }

func (l *seqLength) observe(w, t int64) {
	if w <= 0 || t <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.seen {
		l.seen = true
		for s := int64(1); s <= maxSeqStride; s++ {
			for a := int64(0); a < s; a++ {
				l.fits = append(l.fits, seqFit{s, a})
			}
		}
	}
	kept := l.fits[:0]
	for _, f := range l.fits {
		if f.at(w) == t {
			kept = append(kept, f)
		}
	}
	l.fits = kept
}

// predict returns T for width w where every candidate left agrees.
func (l *seqLength) predict(w int64) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fits) == 0 {
		return 0, false
	}
	t := l.fits[0].at(w)
	for _, f := range l.fits[1:] {
		if f.at(w) != t {
			return 0, false
		}
	}
	return t, true
}

func (s *session) close() {
	if s != nil && s.s != nil {
		s.s.Destroy()
		s.s = nil
	}
}

// run runs the model on one float tensor of shape and returns the output's
// data and shape. A cancelled ctx terminates the run.
func (s *session) run(ctx context.Context, data []float32, shape ...int64) ([]float32, []int64, error) {
	return s.runShrinking(ctx, s.shrink, nil, data, shape...)
}

// runInto is run with the output written into into's memory where its
// capacity holds it (a new slice otherwise): a page's batches reuse one
// output instead of leaving one to the garbage collector each (see
// grow). The output is valid until into's memory is used again.
func (s *session) runInto(ctx context.Context, into, data []float32, shape ...int64) ([]float32, []int64, error) {
	return s.runShrinking(ctx, s.shrink, into, data, shape...)
}

// runShrinking is runInto with the arenas shrink names shrunk when it ends
// (runShrinkKey's value; "" shrinks none).
func (s *session) runShrinking(ctx context.Context, shrink string, into, data []float32, shape ...int64) ([]float32, []int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	in, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, nil, err
	}
	defer in.Destroy()
	ro, err := ort.NewRunOptions()
	if err != nil {
		return nil, nil, err
	}
	defer ro.Destroy()
	if shrink != "" {
		if err := addRunConfigEntry(ro, runShrinkKey, shrink); err != nil {
			return nil, nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = ro.Terminate() })
	defer stop()
	// The output in memory of our own where its shape is known before the
	// run: one ONNX Runtime allocates lies in its arena, still in use when
	// the run's shrink frees the arena's idle regions, so the region that
	// holds it stayed resident until the next run (a 128 MiB region, 83 MiB
	// resident, after an 813×527 table; docs/BENCHMARKS.md).
	if oshape := s.outputFor(shape); oshape != nil {
		buf := grow(into, int(oshape.FlattenedSize()))
		out, err := ort.NewTensor(oshape, buf)
		if err != nil {
			return nil, nil, err
		}
		defer out.Destroy()
		err = s.s.RunWithOptions([]ort.Value{in}, []ort.Value{out}, ro)
		if err == nil {
			return buf, []int64(oshape), nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		// A shape predicted wrong: ONNX Runtime's own outputs from now on.
		s.ownOutput.Store(false)
	}
	outs := []ort.Value{nil}
	err = s.s.RunWithOptions([]ort.Value{in}, outs, ro)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, err
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("model output is %T, not float32", outs[0])
	}
	s.learn(shape, []int64(t.GetShape()))
	return append(into[:0], t.GetData()...), []int64(t.GetShape()), nil
}

// grow returns buf's memory as a slice of n elements where its capacity
// holds them, a new slice otherwise; its contents are undefined. A page's
// tensors are allocated once and reused from batch to batch: a dense page
// reads its lines in tens of batches, each ~4 MiB of recogniser output
// (N×T×6,625 float32 at ≤ 1,280 columns) and ~0.7 MiB of input, all of it
// garbage for the collector otherwise (forty lines in ten batches: 5.8 MiB
// allocated, 48.5 without; TestBatchesReuseTheirTensors). Alone it did not
// change what pages measured — the runner's GOGC (runner.collectSooner)
// bounds what garbage costs — but it is allocation the collector need not
// chase (docs/BENCHMARKS.md, "Now: the runner's Go heap").
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}
