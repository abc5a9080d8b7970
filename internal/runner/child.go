package runner

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/obs"
	"github.com/lector-ocr/lector/internal/result"
)

// ChildOptions configures Serve.
type ChildOptions struct {
	Registry  *engine.Registry
	Model     string
	Device    string
	Slots     int
	SocketDir string
	// CUDAOrdinal is the CUDA ordinal of Device inside this process (0 when
	// the runner sees only its own GPU; see engine.Spec).
	CUDAOrdinal int
	// ParentPID, when set, is the pid the runner must be the child of; the
	// runner exits if its parent changes (the parent died).
	ParentPID int
	Stdout    io.Writer // where the ready line goes
	Log       *slog.Logger
}

type job struct {
	ctx  context.Context
	im   engine.Image
	opts engine.Options
	done chan jobResult
}

type jobResult struct {
	page *result.Page
	err  error
}

// Serve loads the model and serves requests until ctx ends, /shutdown is
// called, or the parent dies. It returns nil after a clean shutdown.
func Serve(ctx context.Context, o ChildOptions) error {
	if o.ParentPID != 0 && os.Getppid() != o.ParentPID {
		return errors.New("runner: parent already gone")
	}
	if o.Slots < 1 {
		o.Slots = 1
	}
	o.Log = obs.Log(o.Log)
	holdCHeapWhileBusy()
	collectSooner()
	model, err := load(ctx, o)
	if err != nil {
		// The parent reads the code from this line; the exit says the rest.
		b, _ := json.Marshal(wireError{Code: string(errcode.Of(err)), Message: err.Error()})
		fmt.Fprintf(o.Stdout, "%s %s\n", ErrorPrefix, b)
		return fmt.Errorf("runner: loading %s: %w", o.Model, err)
	}
	defer model.Close()

	jobs := make(chan job)
	var slots sync.WaitGroup
	slotErr := make(chan error, o.Slots)
	for range o.Slots {
		slots.Add(1)
		go func() {
			defer slots.Done()
			// Engines such as Tesseract keep thread-local state: a handle
			// lives and dies on one OS thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			h, err := model.NewHandle()
			slotErr <- err
			if err != nil {
				return
			}
			defer h.Close()
			for j := range jobs {
				page, err := h.Process(j.ctx, j.im, j.opts)
				j.done <- jobResult{page, err}
			}
		}()
	}
	defer slots.Wait()
	defer close(jobs)
	for range o.Slots {
		if err := <-slotErr; err != nil {
			return fmt.Errorf("runner: making a handle: %w", err)
		}
	}

	sock := filepath.Join(o.SocketDir, SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("runner: listening: %w", err)
	}
	_ = os.Chmod(sock, 0o600)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var busy atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /process", func(w http.ResponseWriter, r *http.Request) {
		im, opts, err := decodeRequest(r)
		if err != nil {
			writeError(w, err)
			return
		}
		j := job{ctx: r.Context(), im: im, opts: opts, done: make(chan jobResult, 1)}
		select {
		case jobs <- j:
		case <-r.Context().Done():
			return
		}
		busy.Add(1)
		res := <-j.done
		if busy.Add(-1) == 0 {
			releaseMemory()
		}
		if res.err != nil {
			writeError(w, res.err)
			return
		}
		w.Header().Set("Content-Type", "application/x-gob")
		_ = gob.NewEncoder(w).Encode(res.page)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "model": o.Model, "device": o.Device, "slots": o.Slots, "busy": busy.Load(), "pid": os.Getpid()})
	})
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		cancel()
	})
	srv := &http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if o.ParentPID != 0 {
		go watchParent(ctx, cancel, o.ParentPID)
	}
	if _, err := fmt.Fprintf(o.Stdout, "%s pid=%d socket=%s\n", ReadyPrefix, os.Getpid(), sock); err != nil {
		return err
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	shutCtx, shutCancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer shutCancel()
	_ = srv.Shutdown(shutCtx)
	return nil
}

func load(ctx context.Context, o ChildOptions) (engine.Model, error) {
	eng, cfg, err := o.Registry.Resolve(o.Model)
	if err != nil {
		return nil, err
	}
	return eng.Load(ctx, engine.Spec{Model: o.Model, Config: cfg, Device: o.Device, CUDAOrdinal: o.CUDAOrdinal,
		Slots: o.Slots, ScratchDir: o.SocketDir})
}

// shutdownTimeout bounds a runner's wait for its requests in flight when it
// is asked to stop (the parent kills it after its own stop timeout anyway).
const shutdownTimeout = 30 * time.Second

// watchParent backs up Pdeathsig, which is tied to the thread that started
// the runner: if the parent changes, the runner stops.
func watchParent(ctx context.Context, cancel context.CancelFunc, parent int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != parent {
				cancel()
				return
			}
		}
	}
}

func decodeRequest(r *http.Request) (engine.Image, engine.Options, error) {
	var wr wireRequest
	if err := json.Unmarshal([]byte(r.Header.Get(hdrRequest)), &wr); err != nil {
		return engine.Image{}, engine.Options{}, errcode.Wrap(errcode.InvalidArgument, err, "bad request header")
	}
	im := engine.Image{Number: wr.Number, Width: wr.Width, Height: wr.Height, Format: wr.Format,
		DPI: wr.DPI, Orientation: wr.Orientation, TIFFPage: wr.TIFFPage, PDFPage: wr.PDFPage}
	opts := wr.Options
	var data []byte
	var err error
	if n := r.ContentLength; n >= 0 {
		// One allocation of the announced size; large reads bypass bufio.
		data = make([]byte, n)
		_, err = io.ReadFull(r.Body, data)
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		return im, opts, errcode.Wrap(errcode.InvalidArgument, err, "reading page")
	}
	if wr.TextBytes < 0 || wr.TextBytes > len(data) {
		return im, opts, errcode.New(errcode.InvalidArgument, "the page's text (%d bytes) is not in the body (%d bytes)", wr.TextBytes, len(data))
	}
	if wr.TextBytes > 0 {
		text := data[len(data)-wr.TextBytes:]
		data = data[:len(data)-wr.TextBytes]
		im.Text = new(result.Page)
		if err := gob.NewDecoder(bytes.NewReader(text)).Decode(im.Text); err != nil {
			return im, opts, errcode.Wrap(errcode.InvalidArgument, err, "decoding the page's text")
		}
	}
	im.Data = data
	return im, opts, nil
}

func writeError(w http.ResponseWriter, err error) {
	code := errcode.Of(err)
	status := http.StatusUnprocessableEntity
	if code == errcode.Internal {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wireError{Code: string(code), Message: errcode.Message(err)})
}

// releaseMemory gives back what the pages left when no page is in
// progress, before the page is answered: the Go heap's garbage once at
// least goFreeAfter was allocated since the last time (debug.FreeOSMemory:
// a collection, then the free spans returned; ~9 ms, so not after every
// small page), then the C heap's free memory (an engine's page buffers:
// Tesseract's, ONNX Runtime's; malloc_trim, +0.4 ms a 1 MP round trip,
// BenchmarkRoundTrip1MP). The runner's resident size falls back to the
// model's between tasks, so memory comes back, and the next task's working
// set (its peak above the resident size when it started) is measured from
// there rather than from a heap the last pages grew. With the C heap alone
// trimmed, the structure pipeline's Go-side page copies stayed resident
// until Go's next collection: the runner grew from 130 to ~200 MiB and the
// same page measured 78, 48, 20, then 15 MiB (docs/BENCHMARKS.md).
func releaseMemory() {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		allocs, last := s[0].Value.Uint64(), lastFree.Load()
		if allocs-last >= goFreeAfter && lastFree.CompareAndSwap(last, allocs) {
			debug.FreeOSMemory()
		}
	}
	trimCHeap()
}

// collectSooner sets the runner's garbage collection target to
// runnerGCPercent, unless the operator set GOGC. A page's Go-side buffers
// (its decoded and padded copies, turned copies for the rotation search,
// the detector's tensors) are large and free of pointers, so collecting
// them costs little, while at Go's default (GOGC=100) the heap grew to
// twice what was live before a collection: a PP-OCR runner's heap reached
// 157–163 MB with 72–110 MB live on a 300 dpi page (GODEBUG=gctrace=1),
// and whether a page's peak caught the heap before or after a collection
// varied its working set from one page to the next — the noise that
// admission's estimates must cover (docs/BENCHMARKS.md, "The runner's Go
// heap").
func collectSooner() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(runnerGCPercent)
	}
}

// runnerGCPercent is the runner's GOGC: the heap grows by at most a
// quarter of what is live before a collection.
const runnerGCPercent = 25

// goFreeAfter is how much the Go heap must have allocated since the last
// debug.FreeOSMemory for releaseMemory to run another.
const goFreeAfter = 16 << 20

// lastFree is the Go heap's cumulative allocations at the last
// debug.FreeOSMemory.
var lastFree atomic.Uint64
