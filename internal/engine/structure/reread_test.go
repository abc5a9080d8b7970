package structure

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/ppocr"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/result"
)

// readWith runs structure:default on p with rr as the re-reading engine
// (a zero ppocr.Engine: none) and returns the page and whether the
// recogniser read it again.
func readWith(t *testing.T, p *page, rr ppocr.Engine) (*result.Page, bool) {
	t.Helper()
	out, m := process(t, Engine{Tesseract: tesseract.Engine{PageTimeout: time.Minute}, Reread: rr}, p, engine.Options{})
	rec := m.(*model).rec
	return out, rec != nil && rec.rereads.Load() > 0
}

// ppocrEngine is the installed ppocr directory; its absence fails the
// test (make setup installs PP-OCRv4).
func ppocrEngine(t *testing.T) ppocr.Engine {
	t.Helper()
	e := ppocr.Engine{Dir: ppocr.DefaultDir(os.Getenv)}
	if d := os.Getenv("LECTOR_PPOCR_DIR"); d != "" {
		e.Dir = d
	}
	if !e.RecognizerInstalled(recModel) {
		t.Fatalf("PP-OCRv4's recogniser is not installed in %s (run make setup)", e.Dir)
	}
	return e
}

// smallPrintTable draws a borderless table of figures in print about 5 px
// tall, as in a scientific article's table cropped at screen resolution.
func smallPrintTable(t *testing.T) (*page, []string) {
	p := newPage(t, 240, 92)
	rows := [][]string{{"Group", "Mean", "SD", "p"}, {"Control", "0.716", "12.53", "0.048"}, {"Treated", "0.382", "10.97", "0.312"}, {"Placebo", "0.654", "11.26", "0.735"}, {"Total", "0.589", "11.84", "0.166"}, {"Other", "0.247", "13.05", "0.921"}}
	xs := []int{6, 70, 125, 180}
	rule := func(y int) {
		draw.Draw(p.img, image.Rect(3, y, 237, y+1), &image.Uniform{color.Black}, image.Point{}, draw.Src)
	}
	rule(3)
	rule(17)
	var want []string
	for r, row := range rows {
		for c, s := range row {
			p.text(xs[c], 13+r*13+min(r, 1)*2, 7.5, false, s)
			want = append(want, s)
		}
	}
	rule(88)
	return p, want
}

// TestSmallPrintIsReadAgain: a table in print a few pixels tall, which
// Tesseract misreads however it is enlarged, has its cells' text read
// again by PP-OCR's recogniser from the same boxes.
func TestSmallPrintIsReadAgain(t *testing.T) {
	t.Parallel()
	p, want := smallPrintTable(t)
	rr := ppocrEngine(t)
	cells := func(out *result.Page) []string {
		for _, b := range out.Blocks {
			if b.Table != nil {
				return cellsOf(b.Table)
			}
		}
		var words []string
		for _, b := range out.Blocks {
			for _, pp := range b.Paragraphs {
				for _, l := range pp.Lines {
					words = append(words, l.String())
				}
			}
		}
		t.Fatalf("no table: %s: %q", blockTypes(out), words)
		return nil
	}
	right := func(got []string) int {
		n := 0
		for i := range min(len(got), len(want)) {
			if got[i] == want[i] {
				n++
			}
		}
		return n
	}
	tess, reread := readWith(t, p, ppocr.Engine{})
	if reread {
		t.Fatal("the page was read again with no ppocr engine")
	}
	again, reread := readWith(t, p, rr)
	if !reread {
		t.Fatal("small print was not read again")
	}
	tc, ac := cells(tess), cells(again)
	t.Logf("Tesseract: %s\nre-read:   %s", strings.Join(tc, "|"), strings.Join(ac, "|"))
	// Measured when written: 7 of 24 right from Tesseract, 16 re-read.
	if right(ac) < 2*right(tc) || right(ac) < len(want)/2 {
		t.Errorf("cells right: %d re-read, %d Tesseract's alone, of %d\nre-read: %s\nwant:    %s", right(ac), right(tc), len(want), strings.Join(ac, "|"), strings.Join(want, "|"))
	}
}

// TestNormalPrintIsNotReadAgain: a table in print Tesseract reads well
// (15 pt) takes today's path: the recogniser does not read it.
func TestNormalPrintIsNotReadAgain(t *testing.T) {
	t.Parallel()
	p := newPage(t, 560, 130)
	rows := [][]string{{"Group", "Cases", "Mean"}, {"Control", "41", "12.5"}, {"Treated", "38", "14.2"}}
	for r, row := range rows {
		for c, s := range row {
			p.text(12+c*180, 36+r*36, 15, false, s)
		}
	}
	out, reread := readWith(t, p, ppocrEngine(t))
	if reread {
		t.Errorf("normal print was read again")
	}
	if len(out.Blocks) == 0 {
		t.Fatal("nothing read")
	}
}

// TestEstimateCountsTheRecognizer: where the recogniser is installed,
// structure:default's estimate holds its load, whether or not a page has
// needed it yet, and its page is the measured one (asGivenPerPage, which
// holds the second reading where it ran) with or without it; where it is
// missing, the estimate is Tesseract's load as before.
func TestEstimateCountsTheRecognizer(t *testing.T) {
	t.Parallel()
	if len(tesseract.Languages(tesseract.DataDir(""))) == 0 {
		t.Skip("skipping: no Tesseract language data (make setup installs it)")
	}
	tess := tesseract.Engine{}
	est := func(rr ppocr.Engine) engine.Footprint {
		t.Helper()
		f, err := Engine{Tesseract: tess, Reread: rr}.Estimate("default", device.CPU)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base, with, missing := est(ppocr.Engine{}), est(ppocrEngine(t)), est(ppocr.Engine{Dir: t.TempDir()})
	if with.Host.Load-base.Host.Load != ppocr.RecognizerLoadBytes || with.Host.PerPage != asGivenPerPage || base.Host.PerPage != asGivenPerPage ||
		with.Host.PerMegapixel != asGivenPerMegapixel || base.Host.PerMegapixel != asGivenPerMegapixel {
		t.Errorf("with the recogniser %+v, without %+v; want the recogniser's load more and %d + %d/MP in both", with.Host, base.Host, asGivenPerPage, asGivenPerMegapixel)
	}
	if missing != base {
		t.Errorf("with the recogniser missing %+v, want %+v", missing, base)
	}
}

// TestRunnerEnvIsTheReadingEngines: structure:ppocr's runner gets
// PP-OCR's environment (one malloc arena); structure:default's gets
// Tesseract's (OpenMP's thread limit), and PP-OCR's too where it opens
// PP-OCR's recogniser to re-read small print.
func TestRunnerEnvIsTheReadingEngines(t *testing.T) {
	t.Parallel()
	tess, pp := (tesseract.Engine{}).RunnerEnv("eng", device.CPU), (ppocr.Engine{}).RunnerEnv("v4", device.CPU)
	e := Engine{PPOCR: ppocr.Engine{}}
	if got := e.RunnerEnv("ppocr", device.CPU); !slices.Equal(got, pp) {
		t.Errorf("structure:ppocr's runner environment %q, want PP-OCR's %q", got, pp)
	}
	if got := e.RunnerEnv("default", device.CPU); !slices.Equal(got, tess) {
		t.Errorf("structure:default's runner environment without the recogniser %q, want Tesseract's %q", got, tess)
	}
	e.Reread = ppocrEngine(t)
	got := e.RunnerEnv("default", device.CPU)
	for _, kv := range append(slices.Clone(tess), pp...) {
		if !slices.Contains(got, kv) {
			t.Errorf("structure:default's runner environment with the recogniser %q lacks %q", got, kv)
		}
	}
	seen := map[string]bool{}
	for _, kv := range got {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			t.Errorf("structure:default's runner environment %q sets %s twice", got, k)
		}
		seen[k] = true
	}
}

// TestWorkMegapixelsFollowTheMeasuredPrint: a small page's work
// megapixels follow its enlargement (× its side), stopped where its print reaches
// printHeight when the print was measured before admission (MeasurePrint
// on the page, as admission does), scaleFor's bound when not; a large page
// and structure:ppocr's pages need no measure.
func TestWorkMegapixelsFollowTheMeasuredPrint(t *testing.T) {
	t.Parallel()
	e := Engine{}
	p := newPage(t, 800, 300)
	for i := range 4 {
		p.text(12, 40+i*60, 22, false, "Quarterly totals by region 2024")
	}
	shape := engine.PageShape{Width: 800, Height: 300, Bits: 8}
	if !e.NeedsPrint("default", shape) || e.NeedsPrint("ppocr", shape) || e.NeedsPrint("default", engine.PageShape{Width: 2480, Height: 3508}) {
		t.Fatal("NeedsPrint: want a small page under structure:default only")
	}
	shape.PrintHeight = e.MeasurePrint(p.img)
	if shape.PrintHeight < 12 || shape.PrintHeight > 24 {
		t.Fatalf("measured print %d px of 22-pt type, want 12–24", shape.PrintHeight)
	}
	bound := e.WorkMegapixels("default", engine.PageShape{Width: 800, Height: 300, Bits: 8})
	s := float64(printHeight) / float64(shape.PrintHeight)
	if got, want := e.WorkMegapixels("default", shape), 0.24*s; math.Abs(got-want) > 1e-9 || got >= bound {
		t.Errorf("work megapixels %.3f with print %d px, want %.3f (0.24 MP enlarged %.2f×), under the bound %.3f", got, shape.PrintHeight, want, s, bound)
	}
}

// TestSmallPagesAreClassedByTheirPrint: under structure:default a page of
// 1600 px or more is of class "" (Estimate's line), "colour" when it has
// 24 bits a pixel or more (a JPEG photo, an RGB PNG), a small page of its
// own: "enlarged" where its measured print is rereadPrintBound or more or
// the recogniser is not installed (no second reading can run), and
// "enlarged-small-print" where the print is smaller or was not found;
// structure:ppocr has one class. Each class's documented footprint keeps
// the model's load and has its own page.
func TestSmallPagesAreClassedByTheirPrint(t *testing.T) {
	t.Parallel()
	with := Engine{Reread: ppocrEngine(t)}
	without := Engine{Reread: ppocr.Engine{Dir: t.TempDir()}}
	page := engine.PageShape{Width: 2550, Height: 3300, Bits: 8}
	small := func(ph int) engine.PageShape {
		return engine.PageShape{Width: 503, Height: 249, Bits: 8, PrintHeight: ph}
	}
	for _, c := range []struct {
		e      Engine
		config string
		p      engine.PageShape
		want   string
	}{
		{with, "default", page, ""},
		{with, "default", engine.PageShape{Width: 2550, Height: 3300, Bits: 1}, ""},
		{with, "default", engine.PageShape{Width: 2550, Height: 3300, Bits: 16}, ""},
		{with, "default", engine.PageShape{Width: 2550, Height: 3300, Bits: 24}, classColour},
		{with, "default", engine.PageShape{Width: 4000, Height: 1500, Bits: 32}, classColour},
		{with, "default", engine.PageShape{Width: 800, Height: 600, Bits: 24}, classEnlargedSmallPrint},
		{with, "ppocr", engine.PageShape{Width: 2550, Height: 3300, Bits: 24}, ""},
		{with, "default", small(rereadPrintBound), classEnlarged},
		{with, "default", small(30), classEnlarged},
		{with, "default", small(rereadPrintBound - 1), classEnlargedSmallPrint},
		{with, "default", small(0), classEnlargedSmallPrint},
		{without, "default", small(5), classEnlarged},
		{with, "ppocr", small(5), ""},
	} {
		if got := c.e.PageClass(c.config, c.p); got != c.want {
			t.Errorf("structure:%s, a %d×%d page with print %d px (recogniser installed %v): class %q, want %q",
				c.config, c.p.Width, c.p.Height, c.p.PrintHeight, c.e.Reread.RecognizerInstalled(recModel), got, c.want)
		}
	}
	if len(tesseract.Languages(tesseract.DataDir(""))) == 0 {
		t.Skip("skipping the documented footprints: no Tesseract language data (make setup installs it)")
	}
	e := Engine{Tesseract: tesseract.Engine{}, Reread: ppocrEngine(t)}
	base, err := e.Estimate("default", device.CPU)
	if err != nil {
		t.Fatal(err)
	}
	for class, want := range map[string][2]uint64{
		"":                      {asGivenPerPage, asGivenPerMegapixel},
		classColour:             {colourPerPage, colourPerMegapixel},
		classEnlarged:           {enlargedPerPage, enlargedPerMegapixel},
		classEnlargedSmallPrint: {enlargedSmallPrintPerPage, enlargedSmallPrintPerMegapixel},
	} {
		f, err := e.ClassEstimate("default", class, device.CPU)
		if err != nil {
			t.Fatalf("class %q: %v", class, err)
		}
		if f.Host.Load != base.Host.Load || f.Host.PerPage != want[0] || f.Host.PerMegapixel != want[1] {
			t.Errorf("class %q: %+v, want the load %d and a page %d + %d/MP", class, f.Host, base.Host.Load, want[0], want[1])
		}
	}
	if _, err := e.ClassEstimate("default", "wide", device.CPU); err == nil {
		t.Error("an unknown class was documented")
	}
}

// BenchmarkMeasurePrint is what admission spends on a small image's
// print: decoding it (a PNG) and measuring, on a 1599×1000 page of 22-pt
// lines, the largest image that is measured.
func BenchmarkMeasurePrint(b *testing.B) {
	p := newPage(b, 1599, 1000)
	for i := range 14 {
		p.text(12, 40+i*68, 22, false, "Quarterly totals by region 2024, restated and audited in full")
	}
	data := p.png()
	e := Engine{}
	for b.Loop() {
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if e.MeasurePrint(img) == 0 {
			b.Fatal("no print found")
		}
	}
}
