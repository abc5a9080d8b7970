package admission

import (
	"context"
	"math"
	"testing"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// TestEstimateCountsWorkMegapixels: the estimator sizes a page by the
// engine's work megapixels (Estimator.Work), not by its plain size, and
// without Work by the plain size.
func TestEstimateCountsWorkMegapixels(t *testing.T) {
	t.Parallel()
	doc := func(string, device.Kind) (Footprint, error) {
		return Footprint{Host: Coefficients{Load: 100 * mib, PerPage: 10 * mib, PerMegapixel: 300 * mib}}, nil
	}
	page := engine.PageShape{Width: 2550, Height: 3300, Bits: 8} // 8.4 MP
	plain := Estimator{Documented: doc}
	if got := plain.WorkMegapixels("m", page); got != page.Megapixels() {
		t.Fatalf("without Work: %.2f work megapixels, want the plain %.2f", got, page.Megapixels())
	}
	// An engine that reads at most 1 MP of any page.
	e := Estimator{Documented: doc, Work: func(model string, p engine.PageShape) float64 {
		if model != "m" {
			t.Errorf("Work asked for %q", model)
		}
		return min(p.Megapixels(), 1)
	}}
	mp := e.WorkMegapixels("m", page)
	d, err := e.Estimate(Shape{Model: "m", Device: "cpu", Resident: true, MaxMegapixels: mp, Concurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(10*mib + 300*mib); d.Bytes != want {
		t.Fatalf("estimate %d MiB, want %d MiB (10 fixed + 300 × 1 work megapixel)", d.Bytes/mib, want/mib)
	}
}

// memPersister is a Persister in memory.
type memPersister map[[2]string][]byte

func (m memPersister) SaveLearned(_ context.Context, model, dev string, state []byte) error {
	m[[2]string{model, dev}] = state
	return nil
}

func (m memPersister) LoadLearned(_ context.Context, fn func(model, dev string, state []byte) error) error {
	for k, v := range m {
		if err := fn(k[0], k[1], v); err != nil {
			return err
		}
	}
	return nil
}

// TestLearnedFiguresOfAnOlderUnitAreDropped: observations saved in the
// unit before work megapixels (no version) are not restored — a fit from
// them would size pages in the wrong unit — while the current version's
// are.
func TestLearnedFiguresOfAnOlderUnitAreDropped(t *testing.T) {
	t.Parallel()
	documented := Footprint{Host: Coefficients{Load: 100 * mib, PerMegapixel: 300 * mib}}
	p := memPersister{
		{"old", "cpu"}: []byte(`{"host":{"loads":[1],"pages":[{"mp":8,"bytes":1}]},"tasks":1}`),
	}
	saved := &Fitter{Persist: p}
	saved.Observe("new", "cpu", Observation{Host: Sample{Load: 50 * mib, Working: 20 * mib, Pages: 1, Megapixels: 0.1}})
	f := &Fitter{}
	if err := f.Restore(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got, ok := f.Fit("old", "cpu", documented); ok || got != documented {
		t.Fatalf("an unversioned state was restored: %+v (ok %v)", got, ok)
	}
	if got, ok := f.Fit("new", "cpu", documented); !ok || got.Host.Load != 50*mib {
		t.Fatalf("the current version's state was not restored: %+v (ok %v)", got, ok)
	}
}

// TestSlopeIsLearnedFromSmallWorkSizes: PP-OCR's pages span 0.02–0.5 work
// megapixels, all closer than the half megapixel the slope's pairs once
// needed. With pairs chosen relative to the largest page, the slope is
// learned from them (the documented one is eight times too low here), so a
// small page is not charged the fixed part a wrong slope leaves behind.
func TestSlopeIsLearnedFromSmallWorkSizes(t *testing.T) {
	t.Parallel()
	cost := func(mp float64) float64 { return 16*mib + 320*mib*mp }
	learner := &Fitter{}
	e := Estimator{Documented: func(string, device.Kind) (Footprint, error) {
		return Footprint{Host: Coefficients{Load: 100 * mib, PerMegapixel: 40 * mib}}, nil
	}, Learner: learner}
	for i, mp := range []float64{0.5, 0.02, 0.2, 0.05, 0.35, 0.1, 0.03, 0.45} {
		noise := 1 + 0.05*float64(i%3-1)
		learner.Observe("m", "cpu", Observation{Host: Sample{Working: cost(mp) * noise, Pages: 1, Megapixels: mp}})
	}
	for _, mp := range []float64{0.04, 0.4} {
		d, err := e.Estimate(Shape{Model: "m", Device: "cpu", Resident: true, MaxMegapixels: mp, Concurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r := float64(d.Bytes) / cost(mp); r < 0.75 || r > 1.25 {
			t.Errorf("a page of %.2f work megapixels: estimate %.0f MiB, cost %.0f MiB (ratio %.2f)", mp, float64(d.Bytes)/mib, cost(mp)/mib, r)
		}
	}
}

// TestPageClassesAreLearnedApart: an engine's page classes each have
// their documented line and their own fit — costly pages of one class
// leave the other's estimate where it was — while the model's load,
// observed under its own name whatever class loaded it, is every class's.
func TestPageClassesAreLearnedApart(t *testing.T) {
	t.Parallel()
	learner := &Fitter{}
	e := Estimator{
		Documented: func(string, device.Kind) (Footprint, error) {
			return Footprint{Host: Coefficients{Load: 100 * mib, PerPage: 40 * mib, PerMegapixel: 8 * mib}}, nil
		},
		DocumentedClass: func(_, class string, _ device.Kind) (Footprint, error) {
			if class != "small" {
				return Footprint{}, errcode.New(errcode.Internal, "no class %q", class)
			}
			return Footprint{Host: Coefficients{Load: 100 * mib, PerPage: 5 * mib, PerMegapixel: 50 * mib}}, nil
		},
		Learner: learner,
	}
	est := func(class string, mp float64, resident bool) float64 {
		t.Helper()
		d, err := e.Estimate(Shape{Model: "m", Device: "cpu", Class: class, Resident: resident, MaxMegapixels: mp, Concurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		return float64(d.Bytes) / mib
	}
	if got, want := est("small", 1, true), 55.0; got != want {
		t.Fatalf("a small page before any task: %.1f MiB, want its class's documented %.1f", got, want)
	}
	page := est("", 4, true)
	// Small pages that cost four times their class's line, over a spread
	// of sizes, one of them loading the model (130 MiB).
	for i, mp := range []float64{0.2, 0.5, 1, 0.3, 0.8, 0.4} {
		if i == 0 {
			learner.Observe("m", "cpu", Observation{Host: Sample{Load: 130 * mib}})
		}
		learner.Observe(LearnKey("m", "small"), "cpu", Observation{Host: Sample{Working: 4 * (5*mib + 50*mib*mp), Pages: 1, Megapixels: mp}})
	}
	if got := est("small", 1, true); got < 3.5*55 {
		t.Errorf("a small page after costly small pages: %.1f MiB, want its class's fit, near %.0f", got, 4*55.0)
	}
	if got := est("", 4, true); got != page {
		t.Errorf("a page of class \"\": %.1f MiB after the small pages, want %.1f as before", got, page)
	}
	if got, want := est("", 4, false)-page, 130.0; got != want {
		t.Errorf("the load counted for a page of class \"\": %.1f MiB, want the learned %.1f", got, want)
	}
	if got, want := est("small", 1, false)-est("small", 1, true), 130.0; got != want {
		t.Errorf("the load counted for a small page: %.1f MiB, want the learned %.1f", got, want)
	}
	if m, c := SplitLearnKey(LearnKey("m", "small")); m != "m" || c != "small" || LearnKey("m", "") != "m" {
		t.Errorf("SplitLearnKey(LearnKey(m, small)) = %q, %q", m, c)
	}
	if _, err := e.Estimate(Shape{Model: "m", Device: "cpu", Class: "wide", MaxMegapixels: 1}); err == nil {
		t.Error("a class without a documented footprint was estimated")
	}
}

// TestOnePageDoesNotSetTheSlope: the slope is the documented one until
// the pairs behind the fitted one span five pages — with four pages, one
// of them (a two-page PDF at half the documented cost) is in half the
// pairs and would set the median, and the next page of the class would be
// estimated at about half what it costs. With more pages of the
// documented slope it no longer moves it far.
func TestOnePageDoesNotSetTheSlope(t *testing.T) {
	t.Parallel()
	const perMP, fixed float64 = 54 * mib, 23 * mib
	documented := Coefficients{Load: 100 * mib, PerPage: fixed, PerMegapixel: perMP}
	f := &Fitter{}
	slope := func() float64 {
		t.Helper()
		fp, ok := f.Fit("m#small", "cpu", Footprint{Host: documented})
		if !ok {
			t.Fatal("nothing fitted")
		}
		return fp.Host.PerMegapixel / mib
	}
	observe := func(mp, bytes float64) {
		f.Observe("m#small", "cpu", Observation{Host: Sample{Working: bytes, Pages: 1, Megapixels: mp}})
	}
	// Three small pages as documented, then one at 2.5 MP costing half.
	for _, mp := range []float64{0.1, 0.15, 0.2} {
		observe(mp, fixed+perMP*mp)
	}
	observe(2.5, fixed+perMP*2.5/2)
	if got := slope(); got != perMP/mib {
		t.Fatalf("slope %.1f MiB/MP after four pages, one of them in every pair, want the documented %.0f", got, perMP/mib)
	}
	for _, mp := range []float64{1, 1.6, 0.6} {
		observe(mp, fixed+perMP*mp)
	}
	if got := slope(); got < 0.75*perMP/mib {
		t.Fatalf("slope %.1f MiB/MP after seven pages, one of them at half, want near %.0f", got, perMP/mib)
	}
}

// TestLargerPageGrowsAtTheDocumentedSlopePastTheFit: a slope learned over
// pages of 2.1–3.7 MP whose costs vary with their text (here flat, 6
// MiB/MP) holds up to the largest of them; a page twice as large is
// estimated along the documented 14 MiB/MP past it, not along the learned
// line — with it an 8.4 MP colour page was estimated at 71 MiB and used
// 128 (bench/calibrate.sh). Within the pages seen, the learned line holds.
func TestLargerPageGrowsAtTheDocumentedSlopePastTheFit(t *testing.T) {
	t.Parallel()
	const docSlope, fixed float64 = 14 * mib, 14 * mib
	documented := Footprint{Host: Coefficients{Load: 100 * mib, PerPage: fixed, PerMegapixel: docSlope}}
	f := &Fitter{}
	for _, p := range [][2]float64{{2.1, 40}, {2.2, 38}, {3.7, 50}, {3.7, 48}, {2.1, 44}, {3.7, 31}} {
		f.Observe("m#colour", "cpu", Observation{Host: Sample{Working: p[1] * mib, Pages: 1, Megapixels: p[0]}})
	}
	fp, ok := f.Fit("m#colour", "cpu", documented)
	if !ok {
		t.Fatal("nothing fitted")
	}
	c := fp.Host
	if c.PerMegapixel >= docSlope || c.Span != 3.7 {
		t.Fatalf("fitted %.1f MiB/MP up to %.2f MP, want a learned slope under the documented %.0f, up to 3.7", c.PerMegapixel/mib, c.Span, docSlope/mib)
	}
	atSpan := c.PerPage + c.PerMegapixel*3.7
	if got, want := c.page(8.4), atSpan+docSlope*(8.4-3.7); math.Abs(got-want) > 1 {
		t.Errorf("an 8.4 MP page: %.1f MiB, want %.1f (the fit at 3.7 MP, then %.0f MiB/MP)", got/mib, want/mib, docSlope/mib)
	}
	if got, want := c.page(3), c.PerPage+c.PerMegapixel*3; got != want {
		t.Errorf("a 3 MP page: %.1f MiB, want the learned line's %.1f", got/mib, want/mib)
	}
}

// TestFlooredSlopeIsNotLearnedLower: where the engine floors its slope
// (engine.Cost.FloorPerMegapixel: Tesseract's pages read as given), pages
// whose cost grows slower than documented do not lower it — a slope
// learned on sparse scans put a dense 8.4 MP page at 0.59 of its use —
// while a steeper one is learned; without the floor the slope follows the
// pages down.
func TestFlooredSlopeIsNotLearnedLower(t *testing.T) {
	t.Parallel()
	const docSlope, fixed = 6 * mib, 5 * mib
	for _, floor := range []bool{true, false} {
		documented := FootprintOf(engine.Footprint{Host: engine.Cost{Load: 60 * mib, PerPage: fixed, PerMegapixel: docSlope, FloorPerMegapixel: floor}})
		for _, steep := range []bool{false, true} {
			slope := 3.0 * mib
			if steep {
				slope = 9 * mib
			}
			f := &Fitter{}
			for _, mp := range []float64{2.1, 3.7, 8.4, 2.2, 3.9, 8.7} {
				f.Observe("m", "cpu", Observation{Host: Sample{Working: fixed + slope*mp, Pages: 1, Megapixels: mp}})
			}
			fp, _ := f.Fit("m", "cpu", documented)
			want := slope
			if floor && !steep {
				want = docSlope
			}
			if got := fp.Host.PerMegapixel; math.Abs(got-want) > 1 {
				t.Errorf("floored %v, pages at %.0f MiB/MP: slope %.2f MiB/MP, want %.0f", floor, slope/mib, got/mib, want/mib)
			}
		}
	}
}
