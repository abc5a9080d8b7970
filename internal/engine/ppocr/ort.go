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
	// step is, for an output of rank 3 from an input of rank 4 (the
	// recogniser's N×T×classes from N×3×48×W), the input columns per
	// output step (W/T), learned from the first run; 0 until then.
	step atomic.Int64
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
// sequence's length from the width at the learned step (the recogniser's
// N×T×classes).
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
		case len(s.outShape) == 3 && len(in) == 4 && i == 1 && s.step.Load() > 0 && in[3]%s.step.Load() == 0:
			out[i] = in[3] / s.step.Load()
		default:
			return nil
		}
	}
	return out
}

// learn records from a run ONNX Runtime gave the output of what outputFor
// needs (the recogniser's step).
func (s *session) learn(in, out []int64) {
	if len(out) == 3 && len(in) == 4 && out[1] > 0 && in[3]%out[1] == 0 {
		s.step.CompareAndSwap(0, in[3]/out[1])
	}
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
	return s.runShrinking(ctx, s.shrink, data, shape...)
}

// runShrinking is run with the arenas shrink names shrunk when it ends
// (runShrinkKey's value; "" shrinks none).
func (s *session) runShrinking(ctx context.Context, shrink string, data []float32, shape ...int64) ([]float32, []int64, error) {
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
		buf := make([]float32, oshape.FlattenedSize())
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
	return append([]float32(nil), t.GetData()...), []int64(t.GetShape()), nil
}
