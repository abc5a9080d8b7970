package admission

import (
	"sync"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
)

// Coefficients are what a model costs: its resident load size and the
// working set of one page per megapixel, both in bytes.
type Coefficients struct {
	Load         float64
	PerMegapixel float64
}

// Footprint is what a model costs where it runs, split by where the bytes
// live: Host in the CPU's memory, Device in a GPU's own (zero on the CPU).
type Footprint struct {
	Host   Coefficients
	Device Coefficients
}

// FootprintOf is an engine's documented footprint as coefficients.
func FootprintOf(f engine.Footprint) Footprint {
	return Footprint{
		Host:   Coefficients{Load: float64(f.Host.Load), PerMegapixel: float64(f.Host.PerMegapixel)},
		Device: Coefficients{Load: float64(f.Device.Load), PerMegapixel: float64(f.Device.PerMegapixel)},
	}
}

// fields are f's four figures, for code that treats each alike.
func (f *Footprint) fields() [4]*float64 {
	return [4]*float64{&f.Host.Load, &f.Host.PerMegapixel, &f.Device.Load, &f.Device.PerMegapixel}
}

// Learner keeps footprints learned from actual tasks, per model and the
// device it ran on; each part learns from its own memory's figure. The
// in-memory EWMA is the default; the store persists one later.
type Learner interface {
	Get(model, device string) (Footprint, bool)
	// Observe folds in an observation; a zero field is "not observed".
	Observe(model, device string, f Footprint)
}

// EWMA is an in-memory Learner: an exponentially weighted moving average
// with weight Alpha for each new observation (default 0.3).
type EWMA struct {
	Alpha float64

	mu sync.Mutex // guards m
	m  map[[2]string]Footprint
}

var _ Learner = (*EWMA)(nil)

// Get returns the learned footprint.
func (e *EWMA) Get(model, device string) (Footprint, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.m[[2]string{model, device}]
	return c, ok
}

// Observe folds an observation in. A zero field is "not observed" and keeps
// the previous value (a first observation of a field is taken as it is).
func (e *EWMA) Observe(model, device string, obs Footprint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[[2]string]Footprint)
	}
	a := e.Alpha
	if a <= 0 || a > 1 {
		a = 0.3
	}
	k := [2]string{model, device}
	old := e.m[k]
	seen := obs.fields()
	for i, v := range old.fields() {
		switch o := *seen[i]; {
		case o <= 0:
		case *v == 0:
			*v = o
		default:
			*v = *v*(1-a) + o*a
		}
	}
	e.m[k] = old
}

// Estimator turns a task's shape into bytes.
type Estimator struct {
	// Documented returns the engine's documented footprint on a device of
	// kind.
	Documented func(model string, kind device.Kind) (Footprint, error)
	Learner    Learner
}

// Shape is what a task will do on one device.
type Shape struct {
	Model  string
	Device string
	// Resident reports whether the model is already loaded there (its load
	// is then already in the device's used memory).
	Resident bool
	// MaxMegapixels is the largest page.
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

// Estimate returns the task's expected memory on the device of s and, for
// a GPU, on the CPU: each part the model's load if not resident, plus the
// working set of the pages that run at once, each sized as the largest
// page. Learned coefficients win over documented ones, field by field.
func (e Estimator) Estimate(s Shape) (Demand, error) {
	kind, _, err := device.ParseID(s.Device)
	if err != nil {
		return Demand{}, err
	}
	f, err := e.Documented(s.Model, kind)
	if err != nil {
		return Demand{}, err
	}
	if e.Learner != nil {
		if l, ok := e.Learner.Get(s.Model, s.Device); ok {
			learned := l.fields()
			for i, v := range f.fields() {
				if *learned[i] > 0 {
					*v = *learned[i]
				}
			}
		}
	}
	part := func(c Coefficients) uint64 {
		total := c.PerMegapixel * s.MaxMegapixels * float64(max(s.Concurrent, 1))
		if !s.Resident {
			total += c.Load
		}
		return uint64(total)
	}
	if kind == device.CPU {
		return Demand{Device: s.Device, Bytes: part(f.Host) + part(f.Device)}, nil
	}
	return Demand{Device: s.Device, Bytes: part(f.Device), Host: part(f.Host)}, nil
}
