package admission

import (
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
)

const mib = 1 << 20

// pageCost is a model whose page costs 100 MiB whatever its size plus 20
// MiB per megapixel (a structure model reads a small page enlarged).
func pageCost(mp float64) float64 { return 100*mib + 20*mib*mp }

// TestSmallPageDoesNotPoisonEstimate: one tiny page (0.125 MP, a table
// crop) observed, then a large page's estimate stays within 25 % of its
// true cost — a ratio of bytes to megapixels learned from the tiny page
// would have put it at 16 times. And once the fit has observations, one
// outlier page (ten times its true cost) does not move the estimate far.
func TestSmallPageDoesNotPoisonEstimate(t *testing.T) {
	t.Parallel()
	learner := &Fitter{}
	// The documented figures know the per-megapixel part but, as the
	// engines' did, no fixed part per page.
	e := Estimator{Documented: func(string, device.Kind) (Footprint, error) {
		return Footprint{Host: Coefficients{Load: 200 * mib, PerMegapixel: 20 * mib}}, nil
	}, Learner: learner}
	large := func() float64 {
		d, err := e.Estimate(Shape{Model: "m", Device: "cpu", Resident: true, MaxMegapixels: 6, Concurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		return float64(d.Bytes)
	}
	within := func(what string, got, want float64) {
		t.Helper()
		if r := got / want; r < 0.75 || r > 1.25 {
			t.Fatalf("%s: estimate %.0f MiB for a page that costs %.0f MiB (ratio %.2f)", what, got/mib, want/mib, r)
		}
	}
	learner.Observe("m", "cpu", Observation{Host: Sample{Working: pageCost(0.125), Pages: 1, Megapixels: 0.125}})
	within("after one tiny page", large(), pageCost(6))

	// Pages of several sizes, with 5 % noise either way.
	sizes := []float64{0.125, 2, 6, 0.5, 9, 3, 1, 4}
	for i, mp := range sizes {
		noise := 1 + 0.05*float64(i%3-1)
		learner.Observe("m", "cpu", Observation{Host: Sample{Working: pageCost(mp) * noise, Pages: 1, Megapixels: mp}})
	}
	within("after pages of every size", large(), pageCost(6))
	before := large()
	learner.Observe("m", "cpu", Observation{Host: Sample{Working: 10 * pageCost(0.2), Pages: 1, Megapixels: 0.2}})
	within("after one outlier", large(), pageCost(6))
	if after := large(); after > 1.1*before {
		t.Fatalf("one outlier moved the estimate from %.0f to %.0f MiB", before/mib, after/mib)
	}
	// A near-zero working set (a runner that kept its memory from the page
	// before) does not pull it down far either.
	learner.Observe("m", "cpu", Observation{Host: Sample{Working: 1, Pages: 1, Megapixels: 8}})
	within("after an under-measured page", large(), pageCost(6))
}

// TestLoneTaskIsAdmittedWhenItFits: with nothing reserved, a document
// whose pages do not fit all at once but do one at a time is admitted
// (serially) at once instead of waiting out the bound; a task that does
// not fit even alone is refused at once, with the numbers.
func TestLoneTaskIsAdmittedWhenItFits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cpu.set(40) // the server itself
	_ = b.mon.Poll()
	// Four pages at once need 1200 of the 950 under the critical line; one
	// at a time 450.
	r, err := b.c.Admit(t.Context(), Request{Task: "doc", Device: "cpu", Estimate: fixed(1200), Serial: fixed(450)})
	if err != nil {
		t.Fatalf("a lone document that fits one page at a time: %v", err)
	}
	if !r.Serial || r.Bytes != 450 || b.c.Reserved("cpu") != 450 {
		t.Fatalf("reservation %+v, want one page at a time (450)", r)
	}
	r.Release()
	// A task that fits whole gets its pages at once.
	r, err = b.c.Admit(t.Context(), Request{Task: "doc", Device: "cpu", Estimate: fixed(900), Serial: fixed(300)})
	if err != nil || r.Serial {
		t.Fatalf("a task that fits whole: %+v, %v", r, err)
	}
	r.Release()

	// 700 used by something Lector cannot free: a task of 400 (under the
	// line of 950, so not "never") is refused at once — no wait, no tick.
	b.cpu.set(700)
	_ = b.mon.Poll()
	_, err = b.c.Admit(t.Context(), Request{Task: "big", Device: "cpu", Estimate: fixed(400)})
	if errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("a lone task that cannot fit: %v", err)
	}
	for _, want := range []string{"no other task", "in use"} {
		if !strings.Contains(errcode.Message(err), want) {
			t.Fatalf("refusal %q does not say %q", errcode.Message(err), want)
		}
	}
	// A task larger than the critical line even one page at a time is
	// "never", and says the line.
	_, err = b.c.Admit(t.Context(), Request{Task: "huge", Device: "cpu", Estimate: fixed(4000), Serial: fixed(2000)})
	if errcode.Of(err) != errcode.InsufficientMemory || !strings.Contains(errcode.Message(err), "one page at a time") {
		t.Fatalf("a task that can never fit: %v", err)
	}
}

// TestWaitingTaskWakesWhenMemoryFrees: a task waiting for memory is
// admitted when a reservation ends, and when a model is unloaded (Freed),
// without the clock moving: no recheck period passes.
func TestWaitingTaskWakesWhenMemoryFrees(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first, err := b.c.Admit(t.Context(), Request{Task: "first", Device: "cpu", Estimate: fixed(600)})
	if err != nil {
		t.Fatal(err)
	}
	<-b.decided
	ch := b.admitAsync(t, Request{Task: "second", Device: "cpu", Estimate: fixed(600)})
	done := make(chan struct{})
	defer close(done)
	if !b.clock.WaitPending(2, done) { // its deadline and recheck ticker: it waits
		t.Fatal("never waited")
	}
	first.Release()
	res := <-ch
	if res.err != nil {
		t.Fatalf("after the reservation ended: %v", res.err)
	}
	<-b.decided

	// Now an unloaded model frees memory (used falls by 500): the waiter
	// is told, not left to its ticker.
	b.cpu.set(300)
	_ = b.mon.Poll()
	ch2 := b.admitAsync(t, Request{Task: "third", Device: "cpu", Estimate: fixed(200)})
	if !b.clock.WaitPending(2, done) {
		t.Fatal("third never waited")
	}
	b.cpu.set(0)
	b.c.Freed()
	if res := <-ch2; res.err != nil {
		t.Fatalf("after a model was unloaded: %v", res.err)
	}
	res.r.Release()
	if b.clock.Now() != time.Unix(0, 0) {
		t.Fatal("the clock moved")
	}
}

// TestFixedPartFloorIsDocumented: pages that cost less than the documented
// fixed part (lines of a few hundred KiB) do not take the fitted fixed part
// under it, so the next small page that is dense with text is not
// under-estimated; pages that cost more still raise it.
func TestFixedPartFloorIsDocumented(t *testing.T) {
	t.Parallel()
	learner := &Fitter{}
	documented := Footprint{Host: Coefficients{Load: 60 * mib, PerPage: 5 * mib, PerMegapixel: 6 * mib}}
	for i := range 8 {
		mp := 0.05 + 0.05*float64(i)
		learner.Observe("m", "cpu", Observation{Host: Sample{Working: 0.5*mib + 6*mib*mp, Pages: 1, Megapixels: mp}})
	}
	f, ok := learner.Fit("m", "cpu", documented)
	if !ok {
		t.Fatal("nothing fitted")
	}
	if f.Host.PerPage != documented.Host.PerPage {
		t.Fatalf("fixed part %.1f MiB after pages costing 0.5 MiB beyond the slope, want the documented %.1f as its floor", f.Host.PerPage/mib, documented.Host.PerPage/mib)
	}
	for i := range 32 {
		mp := 0.05 + 0.05*float64(i%8)
		learner.Observe("m", "cpu", Observation{Host: Sample{Working: 12*mib + 6*mib*mp, Pages: 1, Megapixels: mp}})
	}
	if f, _ := learner.Fit("m", "cpu", documented); f.Host.PerPage < 11*mib || f.Host.PerPage > 13*mib {
		t.Fatalf("fixed part %.1f MiB after pages costing 12 MiB beyond the slope, want about 12", f.Host.PerPage/mib)
	}
}

// TestLoadedModelIsNotCountedTwice: a task admitted with its model's load
// in its estimate stops reserving the load once it holds the model
// (Reservation.Loaded) — the load is then in used memory — so a second
// task that fits beside it is admitted, woken at once rather than by the
// recheck ticker; the estimate as admitted stays the task's record, and
// Release gives back only what is still held.
func TestLoadedModelIsNotCountedTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cpu.set(100)
	_ = b.mon.Poll()
	first, err := b.c.Admit(t.Context(), Request{Task: "first", Device: "cpu",
		Estimate: func(d string) Demand { return Demand{Device: d, Bytes: 500, Load: 400} }})
	if err != nil {
		t.Fatal(err)
	}
	<-b.decided
	b.cpu.set(500) // the runner loaded the model: 400 more in use
	_ = b.mon.Poll()
	// 500 used + 500 reserved + 300 is over the line (950): it waits.
	ch := b.admitAsync(t, Request{Task: "second", Device: "cpu", Estimate: fixed(300)})
	done := make(chan struct{})
	defer close(done)
	if !b.clock.WaitPending(2, done) {
		t.Fatal("the second task never waited")
	}
	first.Loaded() // 500 used + 100 reserved + 300 fits
	var res admitResult
	select {
	case res = <-ch:
	case <-time.After(time.Minute): // a guard against a hang, not a wait: the fake clock has not moved
		t.Fatal("the second task was not woken when the first's load left its reservation")
	}
	if res.err != nil {
		t.Fatalf("with the load counted once: %v", res.err)
	}
	if got := b.c.Reserved("cpu"); got != 400 {
		t.Fatalf("reserved %d, want 100 (the first's working set) + 300", got)
	}
	if first.Bytes != 500 {
		t.Fatalf("the first's estimate reads %d after Loaded, want 500 as admitted", first.Bytes)
	}
	first.Loaded()
	first.Release()
	first.Release()
	first.Loaded()
	if got := b.c.Reserved("cpu"); got != 300 {
		t.Fatalf("reserved %d after the first ended, want the second's 300", got)
	}
	res.r.Release()
	if got := b.c.Reserved("cpu"); got != 0 {
		t.Fatalf("reserved %d at the end, want 0", got)
	}
	if b.clock.Now() != time.Unix(0, 0) {
		t.Fatal("the clock moved")
	}
}

// TestReservingReadsUsedAgainAfterALoad: used figures read before a
// reservation dropped its load (they may predate the load) are not
// reserved against: the decision reads them again.
func TestReservingReadsUsedAgainAfterALoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first, err := b.c.Admit(t.Context(), Request{Task: "first", Device: "cpu",
		Estimate: func(d string) Demand { return Demand{Device: d, Bytes: 500, Load: 400} }})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	stale, _ := b.mon.State("cpu") // used 0: read before the load
	b.c.mu.Lock()
	gen := b.c.gen
	b.c.mu.Unlock()
	b.cpu.set(400)
	first.Loaded()
	d := Demand{Device: "cpu", Bytes: 800}
	if fits, current := b.c.reserveLocked(d, []string{"cpu"}, []memory.DeviceState{stale}, gen); current || fits {
		t.Fatalf("reserved against used figures read before the load (fits %v, current %v)", fits, current)
	}
	if ok, _, _ := b.c.tryReserve(t.Context(), "cpu", func(string) Demand { return d }); ok {
		t.Fatal("800 more admitted with 400 in use and 100 reserved (line 950)")
	}
	if got := b.c.Reserved("cpu"); got != 100 {
		t.Fatalf("reserved %d, want the first's 100", got)
	}
}
