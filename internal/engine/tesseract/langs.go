// Package tesseract is the Tesseract engine, through Tesseract's C API
// (cgo, pkg-config tesseract lept). Models are "tesseract:<langs>", e.g.
// "tesseract:eng" or "tesseract:chi_sim+eng", for the traineddata installed.
// Each runner slot owns one TessBaseAPI on its locked OS thread. Pages are
// turned upright from Tesseract's orientation detection (osd.traineddata)
// and deskewed (Leptonica) before recognition with PSM_AUTO; recognition
// runs under a monitor, so a page times out and a cancelled request stops
// it. After a handle ends, malloc_trim returns the heap to the OS.
package tesseract

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

var _ engine.Sizer = Engine{}

// defaultDataDirs are searched, in order, for traineddata when
// TESSDATA_PREFIX is not set.
func defaultDataDirs() []string {
	return []string{
		"/usr/share/tesseract-ocr/5/tessdata",
		"/usr/share/tesseract-ocr/4.00/tessdata",
		"/usr/share/tessdata",
		"/usr/local/share/tessdata",
	}
}

// DataDir returns the tessdata directory: prefix if non-empty (the value of
// TESSDATA_PREFIX, read by the command layer), else the first default that
// exists.
func DataDir(prefix string) string {
	if prefix != "" {
		return prefix
	}
	for _, d := range defaultDataDirs() {
		if _, err := os.Stat(filepath.Join(d, "eng.traineddata")); err == nil {
			return d
		}
	}
	return defaultDataDirs()[0]
}

// Languages lists the installed languages (traineddata files) in dir,
// without osd.
func Languages(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.traineddata"))
	var out []string
	for _, m := range matches {
		l := strings.TrimSuffix(filepath.Base(m), ".traineddata")
		if l != "osd" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// checkLangs validates a "+"-joined language list against dir.
func checkLangs(dir, langs string) error {
	if langs == "" {
		return errcode.New(errcode.UnknownModel, "tesseract: no language given (e.g. tesseract:eng)")
	}
	have := Languages(dir)
	for _, l := range strings.Split(langs, "+") {
		if _, err := os.Stat(filepath.Join(dir, l+".traineddata")); err != nil {
			return errcode.New(errcode.UnknownModel, "tesseract: language %q is not installed; installed: %s", l, strings.Join(have, ", "))
		}
	}
	return nil
}

// Documented memory coefficients for admission, checked against the
// resources tasks record on the evaluation pages (bench/calibrate.sh,
// docs/BENCHMARKS.md): they err on the safe side, and the learner replaces
// them with actuals. A 300-dpi gray page rendered from a PDF (8.4–10.7 MP)
// used 43–64 MiB, 5–6 MiB/MP (12 MiB/MP before pages were rendered as PGM
// and the runner's heap given back between tasks). perPage, the fixed
// part, is also the fit's floor (admission.Fitter): the 90th percentile of
// what the evaluation's pages used beyond 6 MiB/MP was 4.7 MiB over three
// runs (102 tasks; lines and crops 0–1.5 MiB, the 1570×226 screenshot
// cnocr-multi-line_en_black.png 4.7–5.4, 1280×720 photos up to 5.3).
//
// A page of 24 bits a pixel or more is of ClassColour, with its own line:
// colourPerMegapixel is the Theil–Sen slope and colourPerPage the 90th
// percentile of the fixed parts of what tesseract:eng used on 25 pages of
// 1.9–10.7 MP in colour (photos, colour scans, pages rendered in RGB, RGB
// TIFFs, gray-and-alpha PNGs; bench/calibrate.sh with the runner on one
// malloc arena, 2026-11-30). 41 gray and bilevel pages of 2.1–10.7 MP
// measured the same way kept perPage and perMegapixel: 0.81–2.9 of what
// they used, median 1.44.
const (
	colourPerPage      = 11 << 20
	colourPerMegapixel = 13 << 20
	loadPerLanguage    = 40 << 20
	loadBase           = 20 << 20
	perPage            = 5 << 20
	perMegapixel       = 6 << 20
)

// bilevelWeight is what a megapixel of a 1-bit page costs against one of
// gray or colour: Leptonica keeps a bilevel page in 1 bit a pixel and
// Tesseract skips its gray and thresholded copies, so pages/linn.png (8.4
// MP, 1-bit) used 25.6 MiB where the evaluation's 300-dpi gray PDF pages of
// the same size used 43–47 MiB (bench/calibrate.sh, 2026-11-30): 0.55.
const bilevelWeight = 0.55

// WorkMegapixels (engine.Sizer): the page's megapixels, bilevelWeight of
// them for a 1-bit page.
func (Engine) WorkMegapixels(_ string, p engine.PageShape) float64 {
	return WorkMegapixels(p)
}

// WorkMegapixels is Tesseract's engine.Sizer, for engines that run
// Tesseract on a page as given (the structure pipeline).
func WorkMegapixels(p engine.PageShape) float64 {
	if p.Bits == 1 {
		return p.Megapixels() * bilevelWeight
	}
	return p.Megapixels()
}

func estimate(langs string) engine.Cost {
	n := uint64(len(strings.Split(langs, "+")))
	// The slope is a floor (engine.Cost.FloorPerMegapixel): over 78 large
	// pages a slope learned on sparse 200-dpi scans put a 300-dpi page of
	// 6-pt print at 0.59 of its use (bench/calibrate.sh, docs/BENCHMARKS.md).
	return engine.Cost{Load: loadBase + n*loadPerLanguage, PerPage: perPage, PerMegapixel: perMegapixel, FloorPerMegapixel: true}
}

// ClassColour is the page class (engine.Classer) of pages of 24 bits a
// pixel or more (a JPEG photo, an RGB PNG or TIFF): Leptonica keeps them
// in 32 bits a pixel and Tesseract thresholds each channel, so a colour
// page's working set grows about twice as fast as a gray one's and needs
// its own line; learned on one line with gray pages, a colour photo's
// cost raised every gray page's estimate after it, and a 12 MP photo
// after 8 MP gray pages was estimated at half what it used.
const ClassColour = "colour"

var _ engine.Classer = Engine{}

// PageClass (engine.Classer): ClassColour for a page of 24 bits a pixel or
// more, else "".
func (Engine) PageClass(_ string, p engine.PageShape) string {
	if p.Bits >= 24 {
		return ClassColour
	}
	return ""
}

// PageClasses (engine.Classer): ClassColour.
func (Engine) PageClasses(string) []string { return []string{ClassColour} }

// ClassEstimate (engine.Classer): Estimate's load, and for ClassColour
// the measured colour page (colourPerPage, colourPerMegapixel).
func (e Engine) ClassEstimate(langs, class string, kind device.Kind) (engine.Footprint, error) {
	f, err := e.Estimate(langs, kind)
	if err != nil || class == "" {
		return f, err
	}
	if class != ClassColour {
		return engine.Footprint{}, errcode.New(errcode.Internal, "tesseract:%s has no page class %q", langs, class)
	}
	f.Host.PerPage, f.Host.PerMegapixel = colourPerPage, colourPerMegapixel
	return f, nil
}
