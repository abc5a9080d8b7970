package admission

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lector-ocr/lector/internal/obs"
)

// Observation is what one task showed of a model's memory on one device,
// each memory from its own figure: Host from the runner's VmHWM, Device
// from the sampled NVML peak.
type Observation struct {
	Host, Device Sample
}

// Sample is one memory's figures of one task. A zero field is "not
// observed".
type Sample struct {
	// Load is the runner's resident size right after the task loaded the
	// model (0 when the model was already resident).
	Load float64
	// Working is the task's working set: the peak while its pages ran less
	// the resident size when they started.
	Working float64
	// Pages is how many pages ran at once; Megapixels the largest page's
	// size.
	Pages      int
	Megapixels float64
}

// Persister keeps a Fitter's observations across restarts (the store's
// SQLite table). States are opaque bytes, one per model and device.
type Persister interface {
	SaveLearned(ctx context.Context, model, device string, state []byte) error
	LoadLearned(ctx context.Context, fn func(model, device string, state []byte) error) error
}

// Defaults of a Fitter.
const (
	// DefaultWindow is how many recent observations a fit uses.
	DefaultWindow = 32
	// minPairs is how many pairs of pages of different sizes the slope
	// needs before the observations set it, and minSlopePages how many
	// pages those pairs must span; until then it is the documented one.
	// With fewer than five pages, the pairs of one page with the others
	// can be half of all pairs or more, and that one page sets the median
	// (Theil–Sen's breakdown point is 29 % of the pages): a two-page PDF
	// of small pages, the first of its class, set the slope of a fresh
	// server's small-print pages at half the documented one, and the next
	// small photo was estimated at 0.64 of what it used (a user's trial,
	// docs/BENCHMARKS.md).
	minPairs      = 3
	minSlopePages = 5
	// pairGap is the least difference in size, as a fraction of the
	// largest page in the window, of two pages whose slope counts: close
	// sizes make slopes of noise. Relative, because work megapixels span
	// 0.02–1.3 for PP-OCR and 0.01–11 for Tesseract; half a megapixel (the
	// absolute gap before) left PP-OCR's slope to its full pages alone. A
	// tenth was the best of 0.05, 0.1, 0.2 and the absolute 0.05 and 0.5
	// replayed on bench/calibrate.sh's tasks (docs/BENCHMARKS.md).
	pairGap = 0.1
	// fewPages is how many pages the fixed part needs before the
	// documented one stops counting as one more observation.
	fewPages = 3
	// DefaultQuantile of the fixed parts and loads taken: the 90th
	// percentile, so that the fit errs on the side of over-estimating (an
	// under-estimate is how an OOM kill happens) without letting the
	// highest outliers (up to a tenth of the window) set it. The upper
	// quartile left pages under-estimated by up to half on ../shared/eval;
	// with runners on one malloc arena, 0.8 lowered PP-OCR's median by
	// 0.07 and its lowest ratio to 0.76 (bench/replay, docs/BENCHMARKS.md).
	DefaultQuantile = 0.9
)

// Fitter is the Learner: for each model and device, and for each memory
// (host, GPU), it keeps the last Window observations and fits the
// per-page cost as a line, fixed part + megapixels × slope:
//
//   - the slope is the Theil–Sen estimator (the median of the slopes
//     between every two pages whose sizes differ by half again and by at
//     least pairGap of the largest page in the window; Sen 1968), the
//     documented slope until there are minPairs such pairs spanning
//     minSlopePages pages, never negative nor, where the engine floors
//     it (Coefficients.MinPerMegapixel), under the documented slope; it
//     holds up to the largest page in the window (Coefficients.Span),
//     past which a page grows at the documented slope where steeper;
//   - the fixed part is the 90th percentile (nearest rank) of each page's
//     cost less slope × its megapixels, with the documented fixed part
//     counted as one more while there are fewer than fewPages pages; never
//     below the documented fixed part (a floor: what a page of a few
//     kilopixels costs varies with its text, not its size — a 1570×226
//     screenshot used 6.8 MiB on Tesseract where lines of its size used
//     1–2 — so the first small pages observed set the fixed part too low
//     and the next dense one was under-estimated by half; the engines
//     document the 90th percentile measured over ../shared/eval,
//     docs/BENCHMARKS.md) and never negative;
//   - the load is the 90th percentile of the loads observed.
//
// Medians and percentiles of a window cannot be moved far by one page or one
// outlier, unlike an average of ratios (a tiny page's fixed cost divided by
// its area became an enormous per-megapixel figure). A task's working set
// is divided evenly among the pages it ran at once.
type Fitter struct {
	Window int
	// Quantile is the quantile of the fixed parts and loads taken, in
	// (0, 1] (otherwise DefaultQuantile); bench/replay varies it.
	Quantile float64
	Persist  Persister // nil: kept in memory only
	Log      *slog.Logger

	mu sync.Mutex // guards m
	m  map[[2]string]*fitState
}

var _ Learner = (*Fitter)(nil)

// point is one page: its megapixels and its working set in bytes.
type point struct {
	MP    float64 `json:"mp"`
	Bytes float64 `json:"bytes"`
}

// series is one memory's observations, oldest first.
type series struct {
	Loads []float64 `json:"loads,omitempty"`
	Pages []point   `json:"pages,omitempty"`
}

// fitState is one model's observations on one device (persisted as JSON).
type fitState struct {
	// Version is stateVersion when the state was saved: states of another
	// version measured pages in another unit and are not restored.
	Version int    `json:"version,omitempty"`
	Host    series `json:"host"`
	Device  series `json:"device"`
	Tasks   int    `json:"tasks"` // tasks observed since the first, window or not
}

// stateVersion is the unit of the persisted observations: 3 is work
// megapixels (Estimator.WorkMegapixels) with the structure pipeline's
// small pages learned as classes of their own and counted by their
// enlargement's side (LearnKey); 2 counted them by its area, under the
// model's name; before 2, plain megapixels.
const stateVersion = 3

func (f *Fitter) quantile() float64 {
	if f.Quantile <= 0 || f.Quantile > 1 {
		return DefaultQuantile
	}
	return f.Quantile
}

func (f *Fitter) window() int {
	if f.Window <= 0 {
		return DefaultWindow
	}
	return f.Window
}

func (s *series) add(o Sample, window int) bool {
	added := false
	if o.Load > 0 {
		s.Loads = append(s.Loads, o.Load)
		added = true
	}
	if o.Working > 0 && o.Megapixels > 0 {
		s.Pages = append(s.Pages, point{MP: o.Megapixels, Bytes: o.Working / float64(max(o.Pages, 1))})
		added = true
	}
	if n := len(s.Loads) - window; n > 0 {
		s.Loads = slices.Delete(s.Loads, 0, n)
	}
	if n := len(s.Pages) - window; n > 0 {
		s.Pages = slices.Delete(s.Pages, 0, n)
	}
	return added
}

// Observe records what one task showed and, with a Persister, saves the
// model's observations (a failure to save is logged: the fit in memory
// still holds).
func (f *Fitter) Observe(model, device string, o Observation) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[[2]string]*fitState{}
	}
	k := [2]string{model, device}
	st := f.m[k]
	if st == nil {
		st = &fitState{Version: stateVersion}
		f.m[k] = st
	}
	h := st.Host.add(o.Host, f.window())
	d := st.Device.add(o.Device, f.window())
	if !h && !d {
		f.mu.Unlock()
		return
	}
	st.Tasks++
	state, _ := json.Marshal(st)
	f.mu.Unlock()
	if f.Persist != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Persist.SaveLearned(ctx, model, device, state); err != nil {
			obs.Log(f.Log).Warn("saving learned memory figures", "model", model, "device", device, "err", err)
		}
	}
}

// Restore reads the observations p kept, replacing what is in memory for
// the models it has, and makes p the Persister.
func (f *Fitter) Restore(ctx context.Context, p Persister) error {
	err := p.LoadLearned(ctx, func(model, device string, state []byte) error {
		var st fitState
		if err := json.Unmarshal(state, &st); err != nil {
			obs.Log(f.Log).Warn("ignoring unreadable learned memory figures", "model", model, "device", device, "err", err)
			return nil
		}
		if st.Version != stateVersion {
			obs.Log(f.Log).Info("learned memory figures of an older unit dropped; the documented ones apply until tasks are observed again",
				"model", model, "device", device, "version", st.Version)
			return nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.m == nil {
			f.m = map[[2]string]*fitState{}
		}
		f.m[[2]string{model, device}] = &st
		return nil
	})
	f.mu.Lock()
	f.Persist = p
	f.mu.Unlock()
	return err
}

// Fit returns the footprint fitted to model's observations on device,
// each coefficient the documented one until there is something to fit.
func (f *Fitter) Fit(model, device string, documented Footprint) (Footprint, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.m[[2]string{model, device}]
	if st == nil || st.Tasks == 0 {
		return documented, false
	}
	q := f.quantile()
	return Footprint{Host: st.Host.fit(documented.Host, q), Device: st.Device.fit(documented.Device, q)}, true
}

// Learned is what a Fitter knows of one model on one device.
type Learned struct {
	Model, Device string
	Tasks         int // tasks observed in all
	HostPages     int // pages in the window, host memory
	DevicePages   int // pages in the window, GPU memory
}

// Learned lists what was observed, by model and device.
func (f *Fitter) Learned() []Learned {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Learned, 0, len(f.m))
	for k, st := range f.m {
		out = append(out, Learned{Model: k[0], Device: k[1], Tasks: st.Tasks, HostPages: len(st.Host.Pages), DevicePages: len(st.Device.Pages)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].Device < out[j].Device
	})
	return out
}

// fit is this memory's coefficients (see Fitter).
func (s *series) fit(prior Coefficients, q float64) Coefficients {
	c := prior
	if len(s.Loads) > 0 {
		c.Load = upper(s.Loads, q)
	}
	if len(s.Pages) == 0 {
		return c
	}
	largest := 0.0
	for _, p := range s.Pages {
		largest = max(largest, p.MP)
	}
	var slopes []float64
	paired := make([]bool, len(s.Pages))
	for i, a := range s.Pages {
		for j := i + 1; j < len(s.Pages); j++ {
			lo, hi := a, s.Pages[j]
			if lo.MP > hi.MP {
				lo, hi = hi, lo
			}
			if hi.MP-lo.MP >= pairGap*largest && hi.MP >= 1.5*lo.MP {
				slopes = append(slopes, (hi.Bytes-lo.Bytes)/(hi.MP-lo.MP))
				paired[i], paired[j] = true, true
			}
		}
	}
	if len(slopes) >= minPairs && countTrue(paired) >= minSlopePages {
		c.PerMegapixel = max(median(slopes), prior.MinPerMegapixel, 0)
		// A slope is known over the sizes observed: a larger page grows
		// past the largest at the documented slope where that is
		// steeper. Fitted over colour pages of 2.1–3.7 MP, whose costs
		// vary with their text more than their size, the slope was 6 MiB
		// per megapixel, and the next page, 8.4 MP, used 128 MiB against
		// 71 estimated (documented: 14 MiB/MP; bench/calibrate.sh,
		// docs/BENCHMARKS.md).
		c.Span, c.Beyond = largest, prior.PerMegapixel
	}
	fixed := make([]float64, 0, len(s.Pages)+1)
	for _, p := range s.Pages {
		fixed = append(fixed, p.Bytes-c.PerMegapixel*p.MP)
	}
	if len(s.Pages) < fewPages {
		fixed = append(fixed, prior.PerPage)
	}
	c.PerPage = max(upper(fixed, q), prior.PerPage, 0)
	return c
}

func countTrue(v []bool) int {
	n := 0
	for _, b := range v {
		if b {
			n++
		}
	}
	return n
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// upper is the q-th quantile of v by nearest rank (the ⌈q·n⌉-th
// smallest).
func upper(v []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(v))
	r := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(r, 0)]
}
