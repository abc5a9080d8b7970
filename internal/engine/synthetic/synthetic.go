// Package synthetic is a test and benchmark engine with a real memory
// footprint. It is registered only when explicitly enabled, never by default.
//
// Model names: "synthetic:SIZE[,ws=SIZE][,gpu=SIZE][,gws=SIZE][,t=DURATION][,load=DURATION][,crash=1][,fail=1]".
// SIZE is what loading allocates and touches in host memory (real RSS),
// e.g. 300MiB; ws is the host working set per megapixel that processing a
// page allocates and touches for the page's processing time; t is the
// processing time per megapixel; load is how long loading takes; crash=1
// and fail=1 act as the options below on every page. Processing returns
// deterministic words derived from the page number and size. The request
// param "crash" makes the process die from SIGKILL mid-page, so crash
// handling is tested with a real process.
//
// On the GPU (a model with gpu= runs on cuda devices too) it is Lector's
// GPU instrument: loading also allocates and writes gpu bytes of device
// memory through the CUDA driver API (internal/cuda; libcuda.so.1 loaded
// at run time), and each page gws bytes per megapixel, so that admission,
// eviction, fallback and memory returned after unload can be proven on a
// real GPU with exact sizes. Without the driver, loading on a GPU is
// device_unavailable.
package synthetic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lector-ocr/lector/internal/cuda"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// Engine is the synthetic engine.
type Engine struct {
	// OpenGPU opens the GPU allocator for a CUDA ordinal; nil means the CUDA
	// driver (tests give a fake).
	OpenGPU func(ordinal int) (GPU, error)
}

var (
	_ engine.Engine    = Engine{}
	_ engine.Placer    = Engine{}
	_ engine.Cataloger = Engine{}
)

// Catalog is the pattern of synthetic model names.
func (Engine) Catalog() []engine.Entry {
	return []engine.Entry{{Model: "synthetic:SIZE[,ws=SIZE][,gpu=SIZE][,gws=SIZE][,t=DURATION][,load=DURATION]",
		Description: "test and benchmark instrument: allocates the memory its name gives"}}
}

// GPU allocates device memory that is resident and counted (written).
type GPU interface {
	// Alloc allocates and writes n bytes; free returns them.
	Alloc(n uint64) (free func() error, err error)
	// Close releases the allocator (the device's context).
	Close() error
}

// CUDA context costs, the starting point of the estimate of a model on a
// GPU before admission learns the real figures: NVIDIA documents none (they
// vary by driver, GPU and loaded modules), so these are deliberately
// generous values for a context with no modules loaded.
const (
	contextDeviceBytes = 512 << 20
	contextHostBytes   = 256 << 20
)

// Config is a parsed synthetic model configuration.
type Config struct {
	Size       uint64        // host bytes allocated by Load
	WorkingSet uint64        // host bytes per megapixel allocated by Process
	GPU        uint64        // device bytes allocated by Load on a GPU
	GPUWorking uint64        // device bytes per megapixel allocated by Process on a GPU
	PerMP      time.Duration // processing time per megapixel
	LoadTime   time.Duration // time Load takes
	Crash      bool          // every page kills the process (as the option "crash")
	Fail       bool          // every page fails with invalid_document (as the option "fail")
}

// ParseConfig parses the part of a model name after "synthetic:".
func ParseConfig(s string) (Config, error) {
	parts := strings.Split(s, ",")
	var c Config
	var err error
	if c.Size, err = ParseSize(parts[0]); err != nil {
		return c, errcode.Wrap(errcode.UnknownModel, err, "synthetic model %q", s)
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "ws":
			c.WorkingSet, err = ParseSize(v)
		case "gpu":
			c.GPU, err = ParseSize(v)
		case "gws":
			c.GPUWorking, err = ParseSize(v)
		case "t":
			c.PerMP, err = time.ParseDuration(v)
		case "load":
			c.LoadTime, err = time.ParseDuration(v)
		case "crash":
			c.Crash = v == "1"
		case "fail":
			c.Fail = v == "1"
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return c, errcode.Wrap(errcode.UnknownModel, err, "synthetic model %q", s)
		}
	}
	return c, nil
}

// ParseSize reads "300MiB", "1GiB", "512KiB", "100MB" or a byte count.
func ParseSize(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return uint64(v * float64(u.mult)), nil
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v, nil
}

// DeviceKinds: a model with GPU sizes runs on GPUs (first) and the CPU.
func (Engine) DeviceKinds(config string) []device.Kind {
	if c, err := ParseConfig(config); err == nil && (c.GPU > 0 || c.GPUWorking > 0) {
		return []device.Kind{device.CUDA, device.CPU}
	}
	return []device.Kind{device.CPU}
}

// Estimate returns the configured sizes, exact by construction, plus on a
// GPU the CUDA context's (contextDeviceBytes, contextHostBytes).
func (Engine) Estimate(config string, kind device.Kind) (engine.Footprint, error) {
	c, err := ParseConfig(config)
	if err != nil {
		return engine.Footprint{}, err
	}
	f := engine.Footprint{Host: engine.Cost{Load: c.Size, PerMegapixel: c.WorkingSet}}
	if kind == device.CUDA {
		f.Host.Load += contextHostBytes
		f.Device = engine.Cost{Load: c.GPU + contextDeviceBytes, PerMegapixel: c.GPUWorking}
	}
	return f, nil
}

// Load allocates and touches the model's size, on a GPU its device size
// too.
func (e Engine) Load(ctx context.Context, spec engine.Spec) (engine.Model, error) {
	c, err := ParseConfig(spec.Config)
	if err != nil {
		return nil, err
	}
	var gpu GPU
	if kind, _, err := device.ParseID(spec.Device); err == nil && kind == device.CUDA {
		open := e.OpenGPU
		if open == nil {
			open = openCUDA
		}
		if gpu, err = open(spec.CUDAOrdinal); err != nil {
			return nil, err
		}
	}
	m, err := load(ctx, c, spec.Model, gpu)
	if err != nil && gpu != nil {
		_ = gpu.Close()
	}
	return m, err
}

func load(ctx context.Context, c Config, name string, gpu GPU) (engine.Model, error) {
	if c.LoadTime > 0 {
		select {
		case <-time.After(c.LoadTime):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	mem, err := touch(c.Size)
	if err != nil {
		return nil, fmt.Errorf("synthetic: allocating %d bytes: %w", c.Size, err)
	}
	m := &model{cfg: c, name: name, mem: mem, gpu: gpu}
	if gpu != nil {
		if m.gpuFree, err = gpu.Alloc(c.GPU); err != nil {
			release(mem)
			return nil, fmt.Errorf("synthetic: allocating %d device bytes: %w", c.GPU, err)
		}
	}
	return m, nil
}

// openCUDA is the real GPU: the device's primary context through the
// CUDA driver API.
func openCUDA(ordinal int) (GPU, error) {
	d, err := cuda.Open()
	if err != nil {
		return nil, err
	}
	ctx, err := d.Retain(ordinal)
	if err != nil {
		return nil, err
	}
	return cudaGPU{ctx}, nil
}

type cudaGPU struct{ ctx *cuda.Context }

func (g cudaGPU) Alloc(n uint64) (func() error, error) {
	p, err := g.ctx.Alloc(n)
	if err != nil {
		return nil, err
	}
	return func() error { return g.ctx.Free(p) }, nil
}

func (g cudaGPU) Close() error { return g.ctx.Release() }

// touch maps n bytes and writes one byte per page so they are resident.
func touch(n uint64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b, nil
}

func release(b []byte) {
	if b != nil {
		_ = syscall.Munmap(b)
	}
}

type model struct {
	cfg     Config
	name    string
	mem     []byte
	gpu     GPU          // nil on the CPU
	gpuFree func() error // frees the model's device bytes
}

func (m *model) NewHandle() (engine.Handle, error) { return &handle{m: m}, nil }

func (m *model) Close() error {
	release(m.mem)
	m.mem = nil
	if m.gpu == nil {
		return nil
	}
	var err error
	if m.gpuFree != nil {
		err = m.gpuFree()
	}
	return errors.Join(err, m.gpu.Close())
}

type handle struct{ m *model }

func (h *handle) Close() error { return nil }

// Process allocates the page's working set, holds it for the page's time and
// returns words that depend only on the page.
func (h *handle) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	if opts.Param("crash") != "" || h.m.cfg.Crash {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before this matters
	}
	if opts.Param("fail") != "" || h.m.cfg.Fail {
		return nil, errcode.New(errcode.InvalidDocument, "synthetic: page %d rejected as asked", im.Number)
	}
	mp := im.Megapixels()
	ws, err := touch(uint64(mp * float64(h.m.cfg.WorkingSet)))
	if err != nil {
		return nil, fmt.Errorf("synthetic: working set: %w", err)
	}
	defer release(ws)
	if h.m.gpu != nil && h.m.cfg.GPUWorking > 0 {
		free, err := h.m.gpu.Alloc(uint64(mp * float64(h.m.cfg.GPUWorking)))
		if err != nil {
			return nil, fmt.Errorf("synthetic: device working set: %w", err)
		}
		defer func() { _ = free() }()
	}
	if d := time.Duration(mp * float64(h.m.cfg.PerMP)); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return Page(h.m.name, im), nil
}

// Page is the deterministic result of a page: one block, one paragraph, two
// lines of words naming the page number and size. A page given its own
// text (engine.Image.Text) keeps its blocks, before that one, whose
// paragraph then has a third line naming the image's size in bytes ("image
// N bytes"), so that a test sees both parts of the request arrive whole.
func Page(model string, im engine.Image) *result.Page {
	words := func(y int, texts ...string) result.Line {
		var l result.Line
		x := 10
		for _, t := range texts {
			w := result.Word{Text: t, Box: result.Box{X0: x, Y0: y, X1: x + 10*len(t), Y1: y + 20}, Confidence: 99}
			l.Words = append(l.Words, w)
			l.Box = l.Box.Union(w.Box)
			x += 10*len(t) + 10
		}
		l.Confidence = 99
		return l
	}
	l1 := words(10, "synthetic", "page", strconv.Itoa(im.Number))
	l2 := words(40, strconv.Itoa(im.Width)+"x"+strconv.Itoa(im.Height))
	para := result.Paragraph{Box: l1.Box.Union(l2.Box), Lines: []result.Line{l1, l2}}
	var blocks []result.Block
	if im.Text != nil {
		blocks = append(blocks, im.Text.Blocks...)
		l3 := words(70, "image", strconv.Itoa(len(im.Data)), "bytes")
		para.Lines = append(para.Lines, l3)
		para.Box = para.Box.Union(l3.Box)
	}
	blocks = append(blocks, result.Block{Type: result.BlockText, Box: para.Box, Confidence: 99, Paragraphs: []result.Paragraph{para}})
	return &result.Page{Number: im.Number, Width: im.Width, Height: im.Height, Engine: model, Blocks: blocks}
}
