package admission

import (
	"fmt"
	"image"
	"strings"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
)

// Coefficients are what a model costs, in bytes: its resident load size,
// and the working set of one page — a fixed part whatever the page's size
// plus a part per megapixel of the page.
type Coefficients struct {
	Load         float64
	PerPage      float64
	PerMegapixel float64
	// Span is the largest page (work megapixels) a learned PerMegapixel
	// was fitted over, 0 for a documented one; past it a page grows by
	// Beyond where that is steeper (Fitter: the documented slope).
	Span, Beyond float64
	// MinPerMegapixel is the least slope a fit may learn (the documented
	// one where the engine floors it: engine.Cost.FloorPerMegapixel).
	MinPerMegapixel float64
}

// page is the working set of one page of mp megapixels: the line, and past
// Span the steeper of PerMegapixel and Beyond.
func (c Coefficients) page(mp float64) float64 {
	if c.Span > 0 && mp > c.Span && c.Beyond > c.PerMegapixel {
		return c.PerPage + c.PerMegapixel*c.Span + c.Beyond*(mp-c.Span)
	}
	return c.PerPage + c.PerMegapixel*mp
}

// Footprint is what a model costs where it runs, split by where the bytes
// live: Host in the CPU's memory, Device in a GPU's own (zero on the CPU).
type Footprint struct {
	Host   Coefficients
	Device Coefficients
}

// FootprintOf is an engine's documented footprint as coefficients.
func FootprintOf(f engine.Footprint) Footprint {
	c := func(c engine.Cost) Coefficients {
		co := Coefficients{Load: float64(c.Load), PerPage: float64(c.PerPage), PerMegapixel: float64(c.PerMegapixel)}
		if c.FloorPerMegapixel {
			co.MinPerMegapixel = co.PerMegapixel
		}
		return co
	}
	return Footprint{Host: c(f.Host), Device: c(f.Device)}
}

// Learner keeps what actual tasks showed of a model's memory, per model
// and the device it ran on, and fits coefficients to it (Fitter).
type Learner interface {
	// Fit returns the coefficients fitted to the observations of model on
	// device, starting from the documented ones; ok is false when nothing
	// was observed.
	Fit(model, device string, documented Footprint) (f Footprint, ok bool)
	// Observe records what one task showed.
	Observe(model, device string, o Observation)
}

// Estimator turns a task's shape into bytes.
//
// The model of one page's memory, in bytes, on each memory (host, GPU):
//
//	working set = PerPage + PerMegapixel × work megapixels
//
// where the work megapixels are the size the engine's working set grows
// with (engine.Sizer: PP-OCR's detector input, a small page's megapixels
// × its enlargement in the structure pipeline, 0.55 of a 1-bit page's
// megapixels for Tesseract; the plain width × height / 10⁶ otherwise). A
// task's demand is the model's Load when it is not resident plus one
// page's working set for each page that runs at once, sized as its
// largest. The coefficients are the engine's documented ones until the
// Learner has fitted them to what tasks used (Fitter). An engine whose
// pages fall into classes (engine.Classer) has a line per class,
// documented and learned apart (LearnKey); a task is sized by the class
// whose largest page costs most.
type Estimator struct {
	// Documented returns the engine's documented footprint on a device of
	// kind.
	Documented func(model string, kind device.Kind) (Footprint, error)
	// Work returns a page's work megapixels for model (engine.Registry's
	// WorkMegapixels); nil: the page's plain megapixels.
	Work func(model string, p engine.PageShape) float64
	// Print returns a page's print height where model's work megapixels
	// follow it, decoding the page with decode only then (engine.Registry's
	// PrintHeight); nil: never measured.
	Print func(model string, p engine.PageShape, decode func() (image.Image, error)) int
	// Class returns page p's class under model (engine.Registry's
	// PageClass); nil: every page is of class "".
	Class func(model string, p engine.PageShape) string
	// DocumentedClass returns the documented footprint of model's pages
	// of a class other than "" (engine.Registry's EstimateClass); needed
	// wherever Class names one.
	DocumentedClass func(model, class string, kind device.Kind) (Footprint, error)
	Learner         Learner
}

// PageClass returns page p's class under model (see Estimator.Class).
func (e Estimator) PageClass(model string, p engine.PageShape) string {
	if e.Class == nil {
		return ""
	}
	return e.Class(model, p)
}

// LearnKey is the name a model's pages of class are learned under: the
// model's own for class "" (and its load, whatever the class), the model
// and the class apart by "#" otherwise ("structure:default#enlarged").
func LearnKey(model, class string) string {
	if class == "" {
		return model
	}
	return model + "#" + class
}

// SplitLearnKey undoes LearnKey.
func SplitLearnKey(key string) (model, class string) {
	model, class, _ = strings.Cut(key, "#")
	return model, class
}

// PrintHeight returns page p's print height for model's work megapixels
// (engine.PrintSizer), or 0 where the model's pages do not depend on it,
// Print is nil, or the page cannot be decoded.
func (e Estimator) PrintHeight(model string, p engine.PageShape, decode func() (image.Image, error)) int {
	if e.Print == nil {
		return 0
	}
	return e.Print(model, p, decode)
}

// WorkMegapixels returns the size page p counts as in model's
// per-megapixel cost (see Estimator).
func (e Estimator) WorkMegapixels(model string, p engine.PageShape) float64 {
	if e.Work == nil {
		return p.Megapixels()
	}
	return e.Work(model, p)
}

// Shape is what a task will do on one device.
type Shape struct {
	Model  string
	Device string
	// Resident reports whether the model is already loaded there (its load
	// is then already in the device's used memory).
	Resident bool
	// Class is the pages' class (Estimator.PageClass); MaxMegapixels is
	// the largest of them in work megapixels (Estimator.WorkMegapixels).
	Class         string
	MaxMegapixels float64
	// Concurrent is how many pages run at once.
	Concurrent int
}

// Demand is a task's memory on each device it uses: Bytes on Device and,
// when Device is a GPU, Host bytes on the CPU (the runner process, a CUDA
// context's host side, decoded pages). On the CPU everything is in Bytes.
type Demand struct {
	Device string
	Bytes  uint64
	Host   uint64
	// Load and HostLoad are the parts of Bytes and Host that are the
	// model's load, counted because it was not resident (zero when it
	// was). Once the task holds the loaded model, that memory is in the
	// device's used figure and its reservation drops it
	// (Reservation.Loaded).
	Load, HostLoad uint64
}

// On returns the bytes the demand puts on dev.
func (d Demand) On(dev string) uint64 {
	switch dev {
	case d.Device:
		return d.Bytes
	case string(device.CPU):
		return d.Host
	}
	return 0
}

// Footprint returns the coefficients the estimate of model on dev uses
// for pages of class "" (ClassFootprint).
func (e Estimator) Footprint(model, dev string) (Footprint, error) {
	return e.ClassFootprint(model, "", dev)
}

// ClassFootprint returns the coefficients the estimate of model's pages
// of class on dev uses: the documented ones, each memory's page replaced
// by the learner's fit of that class once it has observations, and the
// load by the fit of the model's loads (learned under the model's own
// name whatever the class of the task that loaded it).
func (e Estimator) ClassFootprint(model, class, dev string) (Footprint, error) {
	kind, _, err := device.ParseID(dev)
	if err != nil {
		return Footprint{}, err
	}
	f, err := e.Documented(model, kind)
	if err != nil {
		return Footprint{}, err
	}
	base := f
	if class != "" {
		if e.DocumentedClass == nil {
			return Footprint{}, fmt.Errorf("model %s: no documented footprint for its %s pages", model, class)
		}
		if f, err = e.DocumentedClass(model, class, kind); err != nil {
			return Footprint{}, err
		}
	}
	if e.Learner == nil {
		return f, nil
	}
	if l, ok := e.Learner.Fit(LearnKey(model, class), dev, f); ok {
		f = l
	}
	if class != "" {
		if l, ok := e.Learner.Fit(model, dev, base); ok {
			f.Host.Load, f.Device.Load = l.Host.Load, l.Device.Load
		}
	}
	return f, nil
}

// Estimate returns the task's expected memory on the device of s and, for
// a GPU, on the CPU: each part the model's load if not resident, plus the
// working set of the pages that run at once, each sized as the largest
// page (fixed part + megapixels × per-megapixel part).
func (e Estimator) Estimate(s Shape) (Demand, error) {
	f, err := e.ClassFootprint(s.Model, s.Class, s.Device)
	if err != nil {
		return Demand{}, err
	}
	part := func(c Coefficients) (total, load uint64) {
		w := c.page(s.MaxMegapixels) * float64(max(s.Concurrent, 1))
		if !s.Resident {
			load = uint64(max(c.Load, 0))
		}
		return uint64(max(w, 0)) + load, load
	}
	host, hostLoad := part(f.Host)
	dev, devLoad := part(f.Device)
	if s.Device == string(device.CPU) {
		return Demand{Device: s.Device, Bytes: host + dev, Load: hostLoad + devLoad}, nil
	}
	return Demand{Device: s.Device, Bytes: dev, Host: host, Load: devLoad, HostLoad: hostLoad}, nil
}
