// Package engine defines what a runner hosts: an Engine loads a Model on a
// device; a Model gives out Handles, one per runner slot, each used from one
// locked OS thread; a Handle processes one page image at a time. Engines are
// found by name in a Registry ("tesseract", "synthetic"); a model name is
// "<engine>:<config>", e.g. "tesseract:eng" or "synthetic:300MiB".
//
// Beyond Load and Estimate an engine may say more about itself through
// optional interfaces, in the spirit of Nomad's driver capabilities: where
// its models run (Placer), which models are installed (Cataloger), what its
// runner's environment needs (Environ) and which outputs it makes beyond
// the page result (Outputs). The Registry answers each question for any
// engine, with the default for engines that are silent.
package engine

import (
	"context"
	"fmt"
	"image"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// DefaultPageTimeout bounds one page's recognition unless configured.
const DefaultPageTimeout = 2 * time.Minute

// Spec says what to load where.
type Spec struct {
	Model  string // full model name, e.g. "synthetic:300MiB"
	Config string // the part after "<engine>:"
	Device string // "cpu" or "cuda:N" (Lector's name for the device)
	// CUDAOrdinal is the CUDA device ordinal to use inside this process on
	// a cuda device. A GPU runner sees only its own GPU
	// (CUDA_VISIBLE_DEVICES is that GPU's UUID), so it is 0 there.
	CUDAOrdinal int
	Slots       int // how many handles will be made
	// ScratchDir is a directory private to this runner where the engine may
	// write temporary files ("" means the system's temporary directory).
	ScratchDir string
}

// Orientation is how an image must be turned to be upright, as EXIF
// (tag 0x0112) says: mirror left-right first, then QuarterTurns clockwise
// quarter turns (0–3).
type Orientation struct {
	QuarterTurns int
	Mirror       bool
}

// Image is one page to process, with the facts the document knows about
// it, decoded once in Go so that no engine has to parse them again.
type Image struct {
	Number int // 1-based page number in the document
	Width  int // pixels, upright (after Orientation)
	Height int
	Format string // "png", "jpeg", "tiff", … (what Data is)
	Data   []byte // the encoded image; may be empty for engines that need only the size
	// DPI is the resolution the page was rendered at (PDF) or declares
	// (image metadata); 0 when unknown.
	DPI int
	// Orientation is the EXIF orientation still to apply (JPEG).
	Orientation Orientation
	// TIFFPage is the 1-based page of a multi-page TIFF that Data holds the
	// page of (Data is the whole file); 0 for any other image.
	TIFFPage int
	// PDFPage is the 1-based page of the PDF this image was rendered from;
	// 0 when the input was an image.
	PDFPage int
	// SourceWidth and SourceHeight, when not 0, are the page's upright size
	// in the input's own pixels: the input's pixels were not square (a
	// 204 × 98-dpi fax) and Data is the page resampled to square pixels at
	// the higher resolution (Width × Height, DPI that resolution). Engines
	// read Data as any page; the task runtime maps the result's boxes back
	// onto the input's pixels (result.Page.Scale). They stay in this
	// process: a runner never needs them.
	SourceWidth, SourceHeight int
	// Text, when set, is the page's own words (a PDF page read from its
	// text layer: blocks, lines and words with boxes in this image's
	// pixels). An engine that analyses layout (structure) takes them as
	// the page's words instead of recognising the image, which it still
	// reads for ruling lines and figures. The runtime sets it only for
	// the structure pipeline; engines that only recognise never see it.
	Text *result.Page
}

// Megapixels is Width*Height/1e6.
func (im Image) Megapixels() float64 { return float64(im.Width) * float64(im.Height) / 1e6 }

// Options are per-request settings: Params are the engine's own settings,
// in its own vocabulary (the keys are constants of the engine's package;
// each engine parses them into a typed value of its own). The runtime
// passes them through. (The searchable PDF is not an engine's: it is made
// from the result over the input, internal/render.)
type Options struct {
	Params map[string]string `json:"params,omitempty"`
}

// Param returns Params[key] ("" when unset).
func (o Options) Param(key string) string { return o.Params[key] }

// Cost is memory in bytes: a loaded model's resident size and the working
// set of one page, a fixed part (whatever the page's size: buffers, a
// small page enlarged before reading) plus a part per megapixel. A task of
// c pages at once on a resident model needs c × (PerPage + PerMegapixel ×
// megapixels).
type Cost struct {
	Load         uint64
	PerPage      uint64
	PerMegapixel uint64
	// FloorPerMegapixel keeps PerMegapixel as the least slope the learner
	// may fit (admission.Fitter), as PerPage always is the least fixed
	// part: for pages whose cost follows their text more than their size
	// (Tesseract's pages read as given), where a slope fitted on sparse
	// pages put the next dense one at two thirds of its use.
	FloorPerMegapixel bool
}

// Footprint is what a model costs on a device of one kind, split by where
// the bytes live: Host is the CPU's memory (the runner process, decoded
// pages, a CUDA context's host side), Device the accelerator's own memory
// (zero on the CPU).
type Footprint struct {
	Host   Cost
	Device Cost
}

// PageShape is what is known of a page before it runs: its size in
// pixels and its bits per pixel as stored (1 for a bilevel scan, 8 gray,
// 24 RGB, 32 RGBA; 0 when not known).
type PageShape struct {
	Width, Height int
	Bits          int
	// PrintHeight is the print's height in pixels (letters' upper
	// quartile), measured before the page runs where the engine asks for
	// it (PrintSizer); 0 when not measured.
	PrintHeight int
}

// Megapixels is the page's plain size, width × height / 10⁶.
func (p PageShape) Megapixels() float64 { return float64(p.Width) * float64(p.Height) / 1e6 }

// Sizer is an engine whose page working set does not grow with the page's
// plain megapixels: it resizes pages itself (PP-OCR's detector limits the
// longer side; the structure pipeline enlarges small pages) or keeps some
// pages in fewer bits (Tesseract and a 1-bit scan). WorkMegapixels is the
// size, in megapixels, that the working set of one page of p grows with —
// the unit of a Footprint's PerMegapixel for that engine. An engine without
// a Sizer is sized by p.Megapixels().
type Sizer interface {
	WorkMegapixels(config string, p PageShape) float64
}

// PrintSizer is a Sizer whose work megapixels follow the page's print
// as well as its size (the structure pipeline enlarges a small image no
// further than brings its print to 30 px). NeedsPrint reports whether
// page p's size depends on its print; MeasurePrint measures it on the
// decoded page (its PageShape.PrintHeight, 0 when none is found). Without
// the measure WorkMegapixels is an upper bound.
type PrintSizer interface {
	Sizer
	NeedsPrint(config string, p PageShape) bool
	MeasurePrint(img image.Image) int
}

// Classer is an engine whose pages fall into classes whose working sets
// follow different lines, told apart before the page runs (the structure
// pipeline's Tesseract configs: pages read as given, small images read
// enlarged, and of those the ones whose print may be small enough to be
// read a second time). PageClass names page p's class under config, ""
// for the class Estimate documents; ClassEstimate documents a class's
// footprint, its Load the model's as in Estimate; an unknown class is an
// error. A class's PerMegapixel is per work megapixel of its pages (Sizer).
type Classer interface {
	PageClass(config string, p PageShape) string
	ClassEstimate(config, class string, kind device.Kind) (Footprint, error)
	// PageClasses lists config's classes other than "", in a stable order.
	PageClasses(config string) []string
}

// Engine loads models.
type Engine interface {
	// Load loads the model named by spec. It is called once per runner.
	Load(ctx context.Context, spec Spec) (Model, error)
	// Estimate returns the documented footprint of a model on a device of
	// the given kind. Admission starts from it and learns from actuals.
	Estimate(config string, kind device.Kind) (Footprint, error)
}

// Placer is an engine whose models run on more than the CPU.
type Placer interface {
	// DeviceKinds lists the kinds of device the model runs on here, best
	// first. Engines that do not implement Placer run on the CPU only.
	DeviceKinds(config string) []device.Kind
}

// Entry is one installed model of a catalog.
type Entry struct {
	Model       string        // full name, e.g. "tesseract:eng"
	Description string        // a few words
	DiskBytes   uint64        // size of its files on disk; 0 when it has none
	Devices     []device.Kind // filled by Registry.Catalog
	Formats     []string      // filled by Registry.Catalog
	Footprint   Footprint     // on the CPU; filled by Registry.Catalog
	// Classes are the documented footprints of the model's page classes
	// other than "" (Classer), on the same device as Footprint; filled by
	// Registry.Catalog.
	Classes map[string]Footprint
}

// Cataloger is an engine that can list its installed models.
type Cataloger interface {
	Catalog() []Entry
}

// Environ is an engine whose runner needs environment variables set before
// the process starts (OpenMP reads OMP_THREAD_LIMIT only at start).
type Environ interface {
	RunnerEnv(config string, kind device.Kind) []string
}

// Outputs is an engine that makes outputs beyond the page result that
// every renderer works from.
type Outputs interface {
	// Formats lists the extra formats the model makes ("pdf").
	Formats(config string) []string
}

// PageFormats are the formats every engine's pages render to.
// The searchable PDF is one of them: it is made from the result's words
// over the input (internal/render), whatever the engine.
var PageFormats = []string{"json", "txt", "md", "html", "hocr", "pdf"}

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

// Validate checks that model names an installed model that runs on some
// device here: unknown_model otherwise, its message ending with every
// installed model of every engine (Catalog), since a user who misspelt
// an engine or left out its config ("ppocr") needs the other engines'
// names as much as the one engine's.
func (r *Registry) Validate(model string) error {
	err := r.validate(model)
	if errcode.Of(err) != errcode.UnknownModel {
		return err
	}
	var names []string
	for _, e := range r.Catalog() {
		names = append(names, e.Model)
	}
	if len(names) == 0 {
		names = []string{"none"}
	}
	return errcode.New(errcode.UnknownModel, "%s; installed models: %s", errcode.Message(err), strings.Join(names, ", "))
}

func (r *Registry) validate(model string) error {
	kinds, err := r.DeviceKinds(model)
	if err != nil {
		return err
	}
	if len(kinds) == 0 {
		return errcode.New(errcode.DeviceUnavailable, "model %s has no device to run on here", model)
	}
	_, err = r.Estimate(model, kinds[0])
	return err
}

// Estimate returns the model's documented footprint on a device of kind.
// A kind the model does not run on is device_unavailable.
func (r *Registry) Estimate(model string, kind device.Kind) (Footprint, error) {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return Footprint{}, err
	}
	if !slices.Contains(deviceKinds(e, cfg), kind) {
		return Footprint{}, errcode.New(errcode.DeviceUnavailable, "model %s does not run on %s devices here", model, kind)
	}
	f, err := e.Estimate(cfg, kind)
	if err != nil {
		return Footprint{}, fmt.Errorf("estimating %s: %w", model, err)
	}
	return f, nil
}

// PageClass returns page p's class under model (Classer), "" for an
// engine without classes or a model that does not resolve.
func (r *Registry) PageClass(model string, p PageShape) string {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return ""
	}
	if c, ok := e.(Classer); ok {
		return c.PageClass(cfg, p)
	}
	return ""
}

// EstimateClass returns the documented footprint of model's pages of
// class on a device of kind: Estimate's for class "", the engine's
// ClassEstimate otherwise. A class the engine does not have is an
// internal error.
func (r *Registry) EstimateClass(model, class string, kind device.Kind) (Footprint, error) {
	if class == "" {
		return r.Estimate(model, kind)
	}
	if _, err := r.Estimate(model, kind); err != nil {
		return Footprint{}, err
	}
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return Footprint{}, err
	}
	c, ok := e.(Classer)
	if !ok {
		return Footprint{}, errcode.New(errcode.Internal, "model %s has no page class %q", model, class)
	}
	f, err := c.ClassEstimate(cfg, class, kind)
	if err != nil {
		return Footprint{}, fmt.Errorf("estimating %s (%s pages): %w", model, class, err)
	}
	return f, nil
}

// WorkMegapixels is the size one page of p counts as in model's
// per-megapixel cost (Sizer; the plain megapixels for an engine without
// one, or a model that does not resolve).
func (r *Registry) WorkMegapixels(model string, p PageShape) float64 {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return p.Megapixels()
	}
	if s, ok := e.(Sizer); ok {
		return s.WorkMegapixels(cfg, p)
	}
	return p.Megapixels()
}

// PrintHeight returns page p's print height for model's work megapixels
// (PrintSizer), decoding the page with decode only when the model's
// engine needs it; 0 when it does not, or when the page cannot be decoded
// (its work megapixels are then the upper bound).
func (r *Registry) PrintHeight(model string, p PageShape, decode func() (image.Image, error)) int {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return 0
	}
	ps, ok := e.(PrintSizer)
	if !ok || decode == nil || !ps.NeedsPrint(cfg, p) {
		return 0
	}
	img, err := decode()
	if err != nil || img == nil {
		return 0
	}
	return ps.MeasurePrint(img)
}

func deviceKinds(e Engine, cfg string) []device.Kind {
	if p, ok := e.(Placer); ok {
		return p.DeviceKinds(cfg)
	}
	return []device.Kind{device.CPU}
}

// DeviceKinds lists the kinds of device model runs on, best first.
func (r *Registry) DeviceKinds(model string) ([]device.Kind, error) {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return nil, err
	}
	return deviceKinds(e, cfg), nil
}

// RunnerEnv returns the environment variables model's runner needs on a
// device of kind (beyond the process's own).
func (r *Registry) RunnerEnv(model string, kind device.Kind) []string {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return nil
	}
	if en, ok := e.(Environ); ok {
		return en.RunnerEnv(cfg, kind)
	}
	return nil
}

// Formats lists every format model's results can be rendered to: the page
// formats and the engine's own outputs.
func (r *Registry) Formats(model string) ([]string, error) {
	e, cfg, err := r.Resolve(model)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(PageFormats)
	if o, ok := e.(Outputs); ok {
		for _, f := range o.Formats(cfg) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// CheckFormats refuses, with invalid_argument, a format model cannot make.
func (r *Registry) CheckFormats(model string, formats []string) error {
	can, err := r.Formats(model)
	if err != nil {
		return err
	}
	for _, f := range formats {
		if !slices.Contains(can, f) {
			return errcode.New(errcode.InvalidArgument, "model %s cannot make %s (it makes %s)", model, f, strings.Join(can, ", "))
		}
	}
	return nil
}

// Catalog lists every engine's installed models, sorted by name, with
// their devices, formats and CPU footprint filled in.
func (r *Registry) Catalog() []Entry {
	var out []Entry
	for _, name := range r.Names() {
		c, ok := r.engines[name].(Cataloger)
		if !ok {
			continue
		}
		for _, en := range c.Catalog() {
			en.Devices, _ = r.DeviceKinds(en.Model)
			en.Formats, _ = r.Formats(en.Model)
			kind := device.CPU
			if !slices.Contains(en.Devices, device.CPU) && len(en.Devices) > 0 {
				kind = en.Devices[0]
			}
			if len(en.Devices) > 0 {
				en.Footprint, _ = r.Estimate(en.Model, kind)
			}
			if cl, ok := r.engines[name].(Classer); ok && len(en.Devices) > 0 {
				_, cfg, _ := strings.Cut(en.Model, ":")
				for _, class := range cl.PageClasses(cfg) {
					if f, err := r.EstimateClass(en.Model, class, kind); err == nil {
						if en.Classes == nil {
							en.Classes = map[string]Footprint{}
						}
						en.Classes[class] = f
					}
				}
			}
			out = append(out, en)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}
