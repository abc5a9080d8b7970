// Package synthetic is a test and benchmark engine with a real memory
// footprint. It is registered only when explicitly enabled, never by default.
//
// Model names: "synthetic:SIZE[,ws=SIZE][,t=DURATION][,load=DURATION][,crash=1][,fail=1]". SIZE
// is what loading allocates and touches (real RSS), e.g. 300MiB; ws is the
// working set per megapixel that processing a page allocates and touches for
// the page's processing time; t is the processing time per megapixel; load
// is how long loading takes; crash=1 and fail=1 act as the options below on
// every page. Processing returns deterministic words derived
// from the page number and size. The request option "crash" makes the
// process die from SIGKILL mid-page, so crash handling is tested with a real
// process.
package synthetic

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// Engine is the synthetic engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Config is a parsed synthetic model configuration.
type Config struct {
	Size       uint64        // bytes allocated by Load
	WorkingSet uint64        // bytes per megapixel allocated by Process
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

// Estimate returns the configured sizes: they are exact by construction.
func (Engine) Estimate(config string) (uint64, uint64, error) {
	c, err := ParseConfig(config)
	return c.Size, c.WorkingSet, err
}

// Load allocates and touches the model's size.
func (Engine) Load(ctx context.Context, spec engine.Spec) (engine.Model, error) {
	c, err := ParseConfig(spec.Config)
	if err != nil {
		return nil, err
	}
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
	return &model{cfg: c, name: spec.Model, mem: mem}, nil
}

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
	cfg  Config
	name string
	mem  []byte
}

func (m *model) NewHandle() (engine.Handle, error) { return &handle{m: m}, nil }

func (m *model) Close() error {
	release(m.mem)
	m.mem = nil
	return nil
}

type handle struct{ m *model }

func (h *handle) Close() error { return nil }

// Process allocates the page's working set, holds it for the page's time and
// returns words that depend only on the page.
func (h *handle) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	if opts["crash"] != "" || h.m.cfg.Crash {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before this matters
	}
	if opts["fail"] != "" || h.m.cfg.Fail {
		return nil, errcode.New(errcode.InvalidDocument, "synthetic: page %d rejected as asked", im.Number)
	}
	mp := im.Megapixels()
	ws, err := touch(uint64(mp * float64(h.m.cfg.WorkingSet)))
	if err != nil {
		return nil, fmt.Errorf("synthetic: working set: %w", err)
	}
	defer release(ws)
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
// lines of words naming the page number and size.
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
	return &result.Page{
		Number: im.Number, Width: im.Width, Height: im.Height, Engine: model,
		Blocks: []result.Block{{Type: result.BlockText, Box: para.Box, Confidence: 99, Paragraphs: []result.Paragraph{para}}},
	}
}
