package admission

import (
	"sync"
)

// Coefficients are what a model costs: its resident load size and the
// working set of one page per megapixel, both in bytes.
type Coefficients struct {
	Load         float64
	PerMegapixel float64
}

// Learner keeps coefficients learned from actual tasks, per model and
// device. The in-memory EWMA is the default; the store persists one later.
type Learner interface {
	Get(model, device string) (Coefficients, bool)
	Observe(model, device string, c Coefficients)
}

// EWMA is an in-memory Learner: an exponentially weighted moving average
// with weight Alpha for each new observation (default 0.3).
type EWMA struct {
	Alpha float64

	mu sync.Mutex // guards m
	m  map[[2]string]Coefficients
}

var _ Learner = (*EWMA)(nil)

// Get returns the learned coefficients.
func (e *EWMA) Get(model, device string) (Coefficients, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.m[[2]string{model, device}]
	return c, ok
}

// Observe folds an observation in. A zero field is "not observed" and keeps
// the previous value.
func (e *EWMA) Observe(model, device string, obs Coefficients) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[[2]string]Coefficients)
	}
	a := e.Alpha
	if a <= 0 || a > 1 {
		a = 0.3
	}
	k := [2]string{model, device}
	old, ok := e.m[k]
	if !ok {
		e.m[k] = obs
		return
	}
	if obs.Load > 0 {
		old.Load = old.Load*(1-a) + obs.Load*a
	}
	if obs.PerMegapixel > 0 {
		old.PerMegapixel = old.PerMegapixel*(1-a) + obs.PerMegapixel*a
	}
	e.m[k] = old
}

// Estimator turns a task's shape into bytes.
type Estimator struct {
	// Documented returns the engine's documented coefficients.
	Documented func(model string) (Coefficients, error)
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

// Estimate returns the task's expected memory on its device: the model's
// load if not resident, plus the working set of the pages that run at once,
// each sized as the largest page. Learned coefficients win over documented
// ones.
func (e Estimator) Estimate(s Shape) (uint64, Coefficients, error) {
	c, err := e.Documented(s.Model)
	if err != nil {
		return 0, c, err
	}
	if e.Learner != nil {
		if l, ok := e.Learner.Get(s.Model, s.Device); ok {
			if l.Load > 0 {
				c.Load = l.Load
			}
			if l.PerMegapixel > 0 {
				c.PerMegapixel = l.PerMegapixel
			}
		}
	}
	total := c.PerMegapixel * s.MaxMegapixels * float64(max(s.Concurrent, 1))
	if !s.Resident {
		total += c.Load
	}
	return uint64(total), c, nil
}
