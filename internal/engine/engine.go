// Package engine defines what a runner hosts: an Engine loads a Model on a
// device; a Model gives out Handles, one per runner slot, each used from one
// locked OS thread; a Handle processes one page image at a time. Engines are
// found by name in a Registry ("tesseract", "synthetic"); a model name is
// "<engine>:<config>", e.g. "tesseract:eng" or "synthetic:300MiB".
package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// Spec says what to load where.
type Spec struct {
	Model  string // full model name, e.g. "synthetic:300MiB"
	Config string // the part after "<engine>:"
	Device string // "cpu" or "cuda:N"
	Slots  int    // how many handles will be made
}

// Image is one page to process. Data is the encoded image (PNG, TIFF…) or,
// for engines that only need dimensions, may be empty.
type Image struct {
	Number int // 1-based page number
	Width  int
	Height int
	Format string // "png", "jpeg", "tiff", … (what the bytes are)
	Data   []byte
	// Hints are per-page engine options the document knows (a TIFF page
	// index, an EXIF rotation); the runtime merges them into the request's
	// options.
	Hints Options
}

// Megapixels is Width*Height/1e6.
func (im Image) Megapixels() float64 { return float64(im.Width) * float64(im.Height) / 1e6 }

// Options are per-request engine options (language, segmentation mode,
// test hooks). Unknown keys are ignored.
type Options map[string]string

// Engine loads models.
type Engine interface {
	// Load loads the model named by spec. It is called once per runner.
	Load(ctx context.Context, spec Spec) (Model, error)
	// Estimate returns the expected resident size of a loaded model and the
	// working set per megapixel of one page, in bytes. Admission starts from
	// these documented coefficients and learns from actuals.
	Estimate(config string) (load, perMegapixel uint64, err error)
}

// Model is a loaded model.
type Model interface {
	// NewHandle returns a handle for one slot. Handles are used from one
	// goroutine locked to its OS thread.
	NewHandle() (Handle, error)
	// Close releases the model after every handle is closed.
	Close() error
}

// Handle processes pages one at a time.
type Handle interface {
	Process(ctx context.Context, im Image, opts Options) (*result.Page, error)
	Close() error
}

// Registry maps engine names to engines. It is built by the command layer;
// there is no global registry.
type Registry struct {
	engines map[string]Engine
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{engines: make(map[string]Engine)} }

// Register adds an engine under name; registering a name twice panics.
func (r *Registry) Register(name string, e Engine) {
	if _, dup := r.engines[name]; dup {
		panic("engine: duplicate registration of " + name)
	}
	r.engines[name] = e
}

// Names lists the registered engines, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.engines))
	for n := range r.engines {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Resolve splits a model name and finds its engine. An unknown engine or a
// malformed name is an unknown_model error.
func (r *Registry) Resolve(model string) (Engine, string, error) {
	name, config, ok := strings.Cut(model, ":")
	if !ok || name == "" {
		return nil, "", errcode.New(errcode.UnknownModel, "model %q is not <engine>:<config>", model)
	}
	e, found := r.engines[name]
	if !found {
		have := strings.Join(r.Names(), ", ")
		if have == "" {
			have = "none"
		}
		return nil, "", errcode.New(errcode.UnknownModel, "model %q: this build has no engine %q (engines: %s)", model, name, have)
	}
	return e, config, nil
}

// Estimate returns the model's documented load size and per-megapixel
// working set.
func (r *Registry) Estimate(model string) (load, perMegapixel uint64, err error) {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return 0, 0, err
	}
	load, perMP, err := e.Estimate(cfg)
	if err != nil {
		return 0, 0, fmt.Errorf("estimating %s: %w", model, err)
	}
	return load, perMP, nil
}
