package tesseract

/*
#cgo pkg-config: tesseract lept
#cgo CXXFLAGS: -std=c++17
#include <stdlib.h>
#include <malloc.h>
#include <math.h>
#include <tesseract/capi.h>
#include <leptonica/allheaders.h>

typedef struct { volatile int cancel; } lector_cancel;

static bool lector_cancel_func(void *p, int words) {
	return ((lector_cancel *)p)->cancel != 0;
}

static ETEXT_DESC *lector_monitor(lector_cancel *c, int deadline_ms) {
	ETEXT_DESC *m = TessMonitorCreate();
	TessMonitorSetCancelFunc(m, lector_cancel_func);
	TessMonitorSetCancelThis(m, c);
	if (deadline_ms > 0) TessMonitorSetDeadlineMSecs(m, deadline_ms);
	return m;
}

static void lector_trim(void) { malloc_trim(0); }

// ltr.cpp
TessPageIterator *lector_ltr_iterator(TessBaseAPI *api);
char *lector_ltr_text(TessPageIterator *it, TessPageIteratorLevel level);
float lector_ltr_conf(TessPageIterator *it, TessPageIteratorLevel level);

static PIX *lector_read(const unsigned char *data, size_t n, int tiff_page) {
	if (tiff_page > 0) return pixReadMemTiff(data, n, tiff_page - 1);
	return pixReadMem(data, n);
}

static void lector_pix_destroy(PIX *p) { pixDestroy(&p); }

// lector_upright rotates pix clockwise by quads*90 degrees, flipping first
// when flip is set (EXIF mirrored orientations).
static PIX *lector_orient(PIX *pix, int quads, int flip) {
	PIX *cur = pixClone(pix);
	if (flip) { PIX *f = pixFlipLR(NULL, cur); pixDestroy(&cur); cur = f; }
	if (quads % 4 != 0) { PIX *r = pixRotateOrth(cur, quads % 4); pixDestroy(&cur); cur = r; }
	return cur;
}

// lector_deskew returns a deskewed copy (or a clone), the angle applied
// (degrees; 0 when none was) and Leptonica's confidence. Leptonica's
// default (pixFindSkewAndDeskew: a sweep of ±7° at 1° steps, then a binary
// search, applied from 0.1° at confidence 3) straightens most pages. Where
// it is not confident (a page tilted past its sweep, or no text), the same
// search sweeps ±wide degrees about the centre (Leptonica advises shearing
// about the centre past 20°), and a tilt found there past the default
// range, with Leptonica's confidence, is undone by pixRotate onto a canvas
// grown to hold the whole page (pixEmbedForRotation's size, centred), so
// no corner is cut off.
static PIX *lector_deskew(PIX *pix, float *angle, float *conf, float wide) {
	*angle = 0; *conf = 0;
	PIX *d = pixFindSkewAndDeskew(pix, 2, angle, conf);
	if (d == NULL) return NULL;
	if (*conf >= 3.0) {
		if (fabsf(*angle) < 0.1) *angle = 0;
		return d;
	}
	*angle = 0;
	if (wide <= 7.0) return d;
	PIX *b = pixConvertTo1(pix, 130);
	if (b == NULL) return d;
	float a = 0, c = 0;
	l_int32 bad = pixFindSkewSweepAndSearchScorePivot(b, &a, &c, NULL, 4, 2, 0.0, wide, 1.0, 0.01, L_SHEAR_ABOUT_CENTER);
	pixDestroy(&b);
	*conf = c;
	if (bad || c < 3.0 || fabsf(a) <= 7.0) return d;
	PIX *r = pixRotate(pix, a * 3.1415926535 / 180.0, L_ROTATE_AREA_MAP, L_BRING_IN_WHITE, pixGetWidth(pix), pixGetHeight(pix));
	if (r == NULL) return d;
	pixDestroy(&d);
	*angle = a;
	return r;
}

// lector_clip returns the w×h rectangle of pix at (x, y).
static PIX *lector_clip(PIX *pix, int x, int y, int w, int h) {
	BOX *b = boxCreate(x, y, w, h);
	PIX *c = pixClipRectangle(pix, b, NULL);
	boxDestroy(&b);
	return c;
}

static PIX *lector_half(PIX *p) { return pixScale(p, 0.5, 0.5); }

// lector_sideways returns the clockwise quarter turns (1 or 3) that bring
// a page whose text Leptonica finds turned a quarter upright, or 0 where
// it is not that sure: pixOrientDetect's confidences on the page made
// 1-bit at 128, and makeOrientDecision's rule with minconf and minratio
// (L_TEXT_ORIENT_LEFT, text up to the left, is undone clockwise, as
// pixOrientCorrect does).
static int lector_sideways(PIX *pix, float minconf, float minratio) {
	PIX *b = pixConvertTo1(pix, 128);
	if (b == NULL) return 0;
	l_float32 up = 0, left = 0;
	l_int32 orient = L_TEXT_ORIENT_UNKNOWN;
	// Too little text gives no confidence, which makeOrientDecision
	// would report on stderr.
	if (pixOrientDetect(b, &up, &left, 0, 0) == 0 && up != 0 && left != 0)
		makeOrientDecision(up, left, minconf, minratio, &orient, 0);
	pixDestroy(&b);
	if (orient == L_TEXT_ORIENT_LEFT) return 1;
	if (orient == L_TEXT_ORIENT_RIGHT) return 3;
	return 0;
}

// lector_from_gray8 makes an 8-bit PIX of w*h gray bytes.
static PIX *lector_from_gray8(const unsigned char *in, int w, int h) {
	PIX *p = pixCreate(w, h, 8);
	if (p == NULL) return NULL;
	l_uint32 *data = pixGetData(p);
	int wpl = pixGetWpl(p);
	for (int y = 0; y < h; y++) {
		l_uint32 *line = data + y * wpl;
		for (int x = 0; x < w; x++) SET_DATA_BYTE(line, x, in[y * w + x]);
	}
	return p;
}

// lector_gray8 writes pix as 8-bit gray, row by row, into out (w*h bytes).
static int lector_gray8(PIX *pix, unsigned char *out, int w, int h) {
	PIX *g = pixConvertTo8(pix, 0);
	if (g == NULL) return -1;
	if (pixGetWidth(g) != w || pixGetHeight(g) != h) { pixDestroy(&g); return -1; }
	l_uint32 *data = pixGetData(g);
	int wpl = pixGetWpl(g);
	for (int y = 0; y < h; y++) {
		l_uint32 *line = data + y * wpl;
		for (int x = 0; x < w; x++) out[y * w + x] = GET_DATA_BYTE(line, x);
	}
	pixDestroy(&g);
	return 0;
}
static int lector_depth(PIX *p) { return pixGetDepth(p); }
static int lector_width(PIX *p) { return pixGetWidth(p); }
static int lector_height(PIX *p) { return pixGetHeight(p); }
static int lector_xres(PIX *p) { return pixGetXRes(p); }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// Engine is the Tesseract engine.
type Engine struct {
	// DataDir is the tessdata directory ("" finds the installed one).
	DataDir string
	// PageTimeout bounds one page's recognition (engine.DefaultPageTimeout).
	PageTimeout time.Duration
}

var _ engine.Engine = Engine{}

var (
	_ engine.Environ   = Engine{}
	_ engine.Cataloger = Engine{}
)

// Estimate returns the documented footprint for langs; Tesseract runs on
// the CPU only (Lector's engine has no Placer), so it is all host memory.
func (e Engine) Estimate(langs string, _ device.Kind) (engine.Footprint, error) {
	if err := checkLangs(DataDir(e.DataDir), langs); err != nil {
		return engine.Footprint{}, err
	}
	return engine.Footprint{Host: estimate(langs)}, nil
}

// RunnerEnv is OMP_THREAD_LIMIT=1: Tesseract's OpenMP reads it only at
// process start, and one Tesseract per core (scaled by lanes) is ~2.5×
// faster here than OpenMP threads (docs/BENCHMARKS.md). And glibc's malloc
// on one arena, as PP-OCR's (ppocr.Engine.RunnerEnv): with an arena per
// lane's thread the runner's resident size at a task's start crept from 66
// to 185 MiB over 78 large pages (bench/calibrate.sh), memory its lanes
// freed and malloc_trim did not return (a fixed mmap threshold of 1 MiB
// did not stop it: 66 to 174), and a page that reused it measured a
// fraction of its working set, so the learner fell under what fresh pages
// need: a 300-dpi page was estimated at 23 MiB and used 69. On one arena
// the start stays at 67–97 MiB and pages of one size measure alike. It
// costs CPU where two pages run at once: 8 large pages two at a time took
// 10.25 s instead of 9.35 (user and system time +7.5 %).
func (Engine) RunnerEnv(string, device.Kind) []string {
	return []string{"OMP_THREAD_LIMIT=1", "GLIBC_TUNABLES=glibc.malloc.arena_max=1"}
}

// Catalog lists one model per installed language and the combinations
// users most often want (Chinese with English).
func (e Engine) Catalog() []engine.Entry {
	dir := DataDir(e.DataDir)
	langs := Languages(dir)
	names := slices.Clone(langs)
	for _, combo := range []string{"chi_sim+eng", "chi_tra+eng"} {
		a, b, _ := strings.Cut(combo, "+")
		if slices.Contains(langs, a) && slices.Contains(langs, b) {
			names = append(names, combo)
		}
	}
	out := make([]engine.Entry, 0, len(names))
	for _, n := range names {
		var size uint64
		for _, l := range strings.Split(n, "+") {
			if fi, err := os.Stat(filepath.Join(dir, l+".traineddata")); err == nil {
				size += uint64(fi.Size())
			}
		}
		out = append(out, engine.Entry{Model: "tesseract:" + n, Description: "Tesseract LSTM, " + n, DiskBytes: size})
	}
	return out
}

// Load checks the languages; handles load them, one per slot.
func (e Engine) Load(ctx context.Context, spec engine.Spec) (engine.Model, error) {
	dir := DataDir(e.DataDir)
	if err := checkLangs(dir, spec.Config); err != nil {
		return nil, err
	}
	to := e.PageTimeout
	if to <= 0 {
		to = engine.DefaultPageTimeout
	}
	return &model{dir: dir, langs: spec.Config, name: spec.Model, timeout: to, rtl: rightToLeft(spec.Config)}, nil
}

type model struct {
	dir, langs, name string
	timeout          time.Duration
	// rtl: a language is written right to left, so words are walked in
	// Tesseract's bidirectional reading order (slower; see ltr.cpp).
	rtl bool
}

func (m *model) Close() error { return nil }

// NewHandle initialises a TessBaseAPI on the calling thread, which the
// runner has locked.
func (m *model) NewHandle() (engine.Handle, error) {
	cdir, clangs := C.CString(m.dir), C.CString(m.langs)
	defer C.free(unsafe.Pointer(cdir))
	defer C.free(unsafe.Pointer(clangs))
	api := C.TessBaseAPICreate()
	if C.TessBaseAPIInit3(api, cdir, clangs) != 0 {
		C.TessBaseAPIDelete(api)
		return nil, errcode.New(errcode.ModelLoadFailed, "tesseract: initialising %s failed", m.langs)
	}
	C.TessBaseAPISetPageSegMode(api, C.PSM_AUTO)
	for name, value := range tuning {
		cn, cv := C.CString(name), C.CString(value)
		C.TessBaseAPISetVariable(api, cn, cv) // a Tesseract without the knob reads as before, only slower
		C.free(unsafe.Pointer(cn))
		C.free(unsafe.Pointer(cv))
	}
	return &handle{m: m, api: api}, nil
}

// tuning is set on every handle, each measured on the evaluation pages
// (docs/BENCHMARKS.md):
//   - Tesseract's fixed-pitch test (chopping typewriter lines into
//     character cells) belongs to the legacy engine: the LSTM recogniser
//     reads whole lines and finds its own spaces, so no word changes (word
//     boxes on lines it took for fixed pitch get tighter), and it costs
//     ~3% of recognition.
//   - A line is read again inverted (white on black) when its confidence
//     is under invert_threshold: 0.7 by default, which retries many an
//     ordinary line with one doubtful character. At 0.5, inverted print
//     still scores low enough to be retried (TestInvertedPrintIsRead; at
//     0.4 it is not) and the ordinary pages' text is unchanged but for
//     noise on a chart; ~2% of recognition.
var tuning = map[string]string{
	"textord_disable_pitch_test": "1",
	"invert_threshold":           "0.5",
}

type handle struct {
	m   *model
	api *C.TessBaseAPI
	// progress is the monitor's progress (0–100) at the end of the last
	// recognition: under 100 when it was cancelled or timed out.
	progress int
	// readings counts the recognitions run (the page, its trial turns).
	readings int
}

func (h *handle) Close() error {
	if h.api != nil {
		C.TessBaseAPIEnd(h.api)
		C.TessBaseAPIDelete(h.api)
		h.api = nil
	}
	C.lector_trim()
	return nil
}

// Params understood by Process (engine.Options.Params), read into Options.
const (
	OptPSM      = "psm"       // page segmentation mode number; default 3 (auto)
	OptNoOSD    = "no_osd"    // skip orientation detection (no_osd: the page is known upright)
	OptNoDeskew = "no_deskew" // skip deskew
	OptScale    = "scale"     // enlarge the image by this factor (1–8) before reading (small print); boxes stay in the enlarged frame
	OptGray     = "gray"      // also return the page as read (upright, deskewed, scaled) in Page.Gray, 8-bit
	// OptPrintHeight bounds OptScale's enlargement: no more than brings
	// the print's height (letters' upper quartile) to this many pixels,
	// and no less than 1.
	OptPrintHeight = "print_height"
	// OptRegions runs Tesseract's page layout analysis alone
	// (TessBaseAPIAnalyseLayout: no recognition, no orientation search, no
	// deskew, no scaling): the page's blocks with their types and boxes in
	// the image's own frame, and no words.
	OptRegions = "regions"
)

// Options are the Tesseract engine's settings for one page.
type Options struct {
	PSM      int     // page segmentation mode; -1 keeps PSM_AUTO
	NoOSD    bool    // the page is known upright
	NoDeskew bool    // do not deskew
	Scale    float64 // enlarge by this factor first (1 < Scale ≤ 8), else 1
	Gray     bool    // return the page as read in Page.Gray
	Regions  bool    // layout analysis alone: blocks without words
	// PrintHeight, with Scale: enlarge no more than brings the print to
	// this height in pixels (PrintHeight); 0: by Scale.
	PrintHeight int
}

// ParseOptions reads o's Params (the Opt* keys; unknown keys are ignored,
// unreadable values are the defaults).
func ParseOptions(o engine.Options) Options {
	out := Options{PSM: -1, Scale: 1,
		NoOSD: o.Param(OptNoOSD) != "", NoDeskew: o.Param(OptNoDeskew) != "", Gray: o.Param(OptGray) != "", Regions: o.Param(OptRegions) != ""}
	if psm, err := strconv.Atoi(o.Param(OptPSM)); err == nil && psm >= 0 {
		out.PSM = psm
	}
	if f, err := strconv.ParseFloat(o.Param(OptScale), 64); err == nil && f > 1 && f <= 8 {
		out.Scale = f
	}
	if n, err := strconv.Atoi(o.Param(OptPrintHeight)); err == nil && n > 0 {
		out.PrintHeight = n
	}
	return out
}

// Process recognises one page.
func (h *handle) Process(ctx context.Context, im engine.Image, eo engine.Options) (*result.Page, error) {
	if len(im.Data) == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "page %d has no image data", im.Number)
	}
	opts := ParseOptions(eo)
	pix := C.lector_read((*C.uchar)(unsafe.Pointer(&im.Data[0])), C.size_t(len(im.Data)), C.int(im.TIFFPage))
	if pix == nil {
		return nil, errcode.New(errcode.InvalidDocument, "page %d: the image could not be decoded", im.Number)
	}

	if o := im.Orientation; o.QuarterTurns%4 != 0 || o.Mirror {
		flip := 0
		if o.Mirror {
			flip = 1
		}
		p := C.lector_orient(pix, C.int(o.QuarterTurns), C.int(flip))
		C.lector_pix_destroy(pix)
		pix = p
	}
	dpi := im.DPI
	if dpi <= 0 {
		dpi = int(C.lector_xres(pix))
	}
	dpiKnown := dpi >= 70
	if !dpiKnown {
		dpi = 300
	}
	if opts.Regions {
		defer C.lector_pix_destroy(pix)
		return h.regions(pix, dpi, im.Number), nil
	}
	if f := opts.Scale; f > 1 {
		scaled, f := scalePix(pix, f, opts.PrintHeight)
		C.lector_pix_destroy(pix)
		if scaled == nil {
			return nil, errcode.New(errcode.InvalidDocument, "page %d: the image could not be scaled", im.Number)
		}
		pix = scaled
		if dpiKnown { // else 300 stands: small print enlarged reads as ordinary print
			dpi = int(float64(dpi) * f)
		}
	}

	page := &result.Page{Number: im.Number, Engine: h.m.name}
	// A large page whose text Leptonica is sure runs down its side is
	// turned before the first reading (preTurn); Tesseract's layout
	// analysis would otherwise read it sideways first.
	if !opts.NoOSD && max(int(C.lector_width(pix)), int(C.lector_height(pix))) >= preTurnSide {
		if q := int(C.lector_sideways(pix, preTurnConfidence, preTurnRatio)); q != 0 {
			turned := C.lector_orient(pix, C.int(q), 0)
			C.lector_pix_destroy(pix)
			pix = turned
			page.Rotation = q * 90
		}
	}
	if opts.PSM >= 0 {
		C.TessBaseAPISetPageSegMode(h.api, C.TessPageSegMode(opts.PSM))
		defer C.TessBaseAPISetPageSegMode(h.api, C.PSM_AUTO)
	}
	deadline := time.Now().Add(h.m.timeout)
	deskew := !opts.NoDeskew
	// The page's frame is pix's size (the input, turned and scaled): a
	// page deskewed past Leptonica's default range is read on a larger
	// canvas, and its boxes are moved back into that frame below.
	frameW, frameH := int(C.lector_width(pix)), int(C.lector_height(pix))
	pix, page.Skew = h.straighten(pix, deskew)
	defer func() { C.lector_pix_destroy(pix) }()
	if err := h.recognizePix(ctx, pix, dpi, deadline); err != nil {
		return nil, fmt.Errorf("page %d: %w", im.Number, err)
	}
	// Orientation. Tesseract's layout analysis finds sideways text itself:
	// when most words are in blocks turned 90° or 270°, the page is turned
	// upright and read again, so boxes are in the upright frame. Upside-down
	// text is not found that way: a page read with low confidence is tried
	// upright and upside down at half size and the clearer wins (its upright
	// reading is kept, not redone, when it stays upright). (Tesseract's
	// own OSD, DetectOrientationScript, corrupts the heap in 5.3.0/5.3.1 —
	// upstream issue 4062 — so it is not used.)
	page.Blocks = h.blocks()
	if !opts.NoOSD {
		rot := 0
		if sideways := isSideways(page.Blocks); sideways || int(C.TessBaseAPIMeanTextConf(h.api)) < uprightConfidence {
			var err error
			if rot, err = h.bestRotation(ctx, pix, dpi, deadline, sideways); err != nil {
				return nil, fmt.Errorf("page %d: %w", im.Number, err)
			}
			// The trials cleared the upright reading; its blocks are kept.
		}
		if rot != 0 {
			turned := C.lector_orient(pix, C.int(rot/90), 0)
			C.lector_pix_destroy(pix)
			// Both deskews and the quarter turn are rotations about the
			// same centre (a grown canvas is centred on the page), so they
			// commute: the page is the input turned by rot, then deskewed
			// by their sum.
			var more float64
			pix, more = h.straighten(turned, deskew)
			page.Skew = math.Round((page.Skew+more)*100) / 100
			if rot%180 == 90 {
				frameW, frameH = frameH, frameW
			}
			page.Rotation = (page.Rotation + rot) % 360
			if err := h.recognizePix(ctx, pix, dpi, deadline); err != nil {
				return nil, fmt.Errorf("page %d: %w", im.Number, err)
			}
			page.Blocks = h.blocks()
		}
	}
	defer C.TessBaseAPIClear(h.api)
	page.Width, page.Height = int(C.lector_width(pix)), int(C.lector_height(pix))
	if dx, dy := (page.Width-frameW)/2, (page.Height-frameH)/2; dx > 0 || dy > 0 {
		// Read on a grown canvas (a wide deskew): the boxes move into the
		// page's own frame, the canvas's centred frameW×frameH window, so
		// that Skew (a rotation about the centre) maps them onto the input
		// as for any deskewed page; parts outside the frame (print that was
		// in the input's corners) are cut at its edge.
		shiftBoxes(page, -dx, -dy, frameW, frameH)
		c := C.lector_clip(pix, C.int(dx), C.int(dy), C.int(frameW), C.int(frameH))
		if c == nil {
			return nil, errcode.New(errcode.Internal, "page %d: cropping the deskewed page failed", im.Number)
		}
		C.lector_pix_destroy(pix)
		pix = c
		page.Width, page.Height = frameW, frameH
	}
	if opts.Gray && page.Width > 0 && page.Height > 0 {
		page.Gray = make([]byte, page.Width*page.Height)
		if C.lector_gray8(pix, (*C.uchar)(unsafe.Pointer(&page.Gray[0])), C.int(page.Width), C.int(page.Height)) != 0 {
			return nil, errcode.New(errcode.Internal, "page %d: converting to gray failed", im.Number)
		}
	}
	return page, nil
}

// scalePix returns pix as 8-bit gray, enlarged by f (see enlarge), or
// nil, and the factor applied: with print > 0, no more than brings the
// print's height (PrintHeight) to print pixels, and at least 1.
func scalePix(pix *C.PIX, f float64, print int) (*C.PIX, float64) {
	w, h := int(C.lector_width(pix)), int(C.lector_height(pix))
	if w <= 0 || h <= 0 {
		return nil, 1
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	if C.lector_gray8(pix, (*C.uchar)(unsafe.Pointer(&g.Pix[0])), C.int(w), C.int(h)) != 0 {
		return nil, 1
	}
	if print > 0 {
		if ph := PrintHeight(g); ph > 0 {
			f = max(min(f, float64(print)/float64(ph)), 1)
		}
	}
	e := g
	if f > 1 {
		e = enlarge(g, f)
	}
	b := e.Bounds()
	return C.lector_from_gray8((*C.uchar)(unsafe.Pointer(&e.Pix[0])), C.int(b.Dx()), C.int(b.Dy())), f
}

// A page of preTurnSide pixels or more a side is turned a quarter before
// its first reading when Leptonica's pixOrientDetect finds its text turned
// with a confidence over preTurnConfidence and preTurnRatio times its
// up-down confidence (makeOrientDecision's rule; Leptonica's defaults are
// 8 and 2.5). Tesseract reads sideways text too, and Process turned such a
// page after that first reading (isSideways), which on a 300-dpi page of
// 6-pt print turned a quarter peaked at 127 MB against 72 MB read
// upright (the tesseract command, docs/BENCHMARKS.md) and took a reading
// more. Over 72 images of 1600 px or more (the evaluation's pages and PDF
// pages, earlier trials' scans, faxes, pages and photos) the turned pages
// measured 48–52 and every other page under 10 (a landscape form 9.7, its
// up-down −22); 15–200 ms a page. Where the guess is wrong the reading
// that follows still finds the page sideways or unclear and tries the
// other turns, as for any page.
const (
	preTurnSide       = 1600
	preTurnConfidence = 16
	preTurnRatio      = 4
)

// uprightConfidence is the mean word confidence under which a page's
// orientation is checked.
const uprightConfidence = 60

// wideDeskew is how far (degrees either way) the deskew looks for a tilt
// when Leptonica's default ±7° sweep is not confident: 45°, the rest of a
// turn being the orientation check's quarter turns.
const wideDeskew = 45

// straighten deskews pix (taking ownership of it) and returns the result and
// the angle applied (degrees, hundredths; 0 when it was not turned). The
// result is larger than pix when it was turned past Leptonica's default
// range (lector_deskew), centred on it.
func (h *handle) straighten(pix *C.PIX, deskew bool) (*C.PIX, float64) {
	if !deskew {
		return pix, 0
	}
	return deskewPix(pix, wideDeskew)
}

// deskewPix is straighten searching ±wide degrees past Leptonica's default
// sweep (none when wide ≤ 7).
func deskewPix(pix *C.PIX, wide float64) (*C.PIX, float64) {
	var angle, conf C.float
	d := C.lector_deskew(pix, &angle, &conf, C.float(wide))
	if d == nil {
		return pix, 0
	}
	C.lector_pix_destroy(pix)
	return d, math.Round(float64(angle)*100) / 100
}

// deskewImage decodes an image and deskews it as straighten does,
// searching ±wide degrees, and returns the angle applied (for measuring
// the deskew alone: BenchmarkDeskew).
func deskewImage(data []byte, wide float64) (float64, error) {
	if len(data) == 0 {
		return 0, errcode.New(errcode.InvalidDocument, "no image data")
	}
	pix := C.lector_read((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), 0)
	if pix == nil {
		return 0, errcode.New(errcode.InvalidDocument, "the image could not be decoded")
	}
	d, angle := deskewPix(pix, wide)
	C.lector_pix_destroy(d)
	return angle, nil
}

// shiftBoxes moves every box (and polygon point) of page by (dx, dy)
// pixels and cuts it to the w×h frame (a box wholly outside keeps a
// one-pixel sliver at the edge).
func shiftBoxes(page *result.Page, dx, dy, w, h int) {
	clamp := func(v, hi int) int { return max(0, min(hi, v)) }
	page.MapBoxes(func(b result.Box) result.Box {
		o := result.Box{X0: clamp(b.X0+dx, w), Y0: clamp(b.Y0+dy, h), X1: clamp(b.X1+dx, w), Y1: clamp(b.Y1+dy, h)}
		if o.X1 <= o.X0 {
			o.X0 = max(0, min(o.X0, w-1))
			o.X1 = o.X0 + 1
		}
		if o.Y1 <= o.Y0 {
			o.Y0 = max(0, min(o.Y0, h-1))
			o.Y1 = o.Y0 + 1
		}
		return o
	}, func(pt result.Point) result.Point {
		return result.Point{X: clamp(pt.X+dx, w), Y: clamp(pt.Y+dy, h)}
	})
}

// recognizePix sets pix and runs Recognize under a monitor that a cancelled
// ctx or the page's deadline stops.
func (h *handle) recognizePix(ctx context.Context, pix *C.PIX, dpi int, deadline time.Time) error {
	left := time.Until(deadline)
	if left <= 0 {
		return errcode.New(errcode.Timeout, "recognition took longer than %s", h.m.timeout)
	}
	h.readings++
	C.TessBaseAPISetImage2(h.api, pix)
	C.TessBaseAPISetSourceResolution(h.api, C.int(dpi))
	flag := (*C.lector_cancel)(C.calloc(1, C.size_t(unsafe.Sizeof(C.lector_cancel{}))))
	defer C.free(unsafe.Pointer(flag))
	mon := C.lector_monitor(flag, C.int(max(left.Milliseconds(), 1)))
	defer C.TessMonitorDelete(mon)
	stop := context.AfterFunc(ctx, func() { flag.cancel = 1 })
	rc := C.TessBaseAPIRecognize(h.api, mon)
	stop()
	h.progress = int(C.TessMonitorGetProgress(mon))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !time.Now().Before(deadline) {
		return errcode.New(errcode.Timeout, "recognition took longer than %s", h.m.timeout)
	}
	if rc != 0 {
		return errors.New("tesseract: recognition failed")
	}
	return nil
}

// isSideways reports whether the recognised page reads as turned 90° or
// 270°: Tesseract's layout analysis reads such text, but in the sideways
// frame, so most words of three or more letters are taller than wide.
func isSideways(blocks []result.Block) bool {
	tall, wide := 0, 0
	for _, b := range blocks {
		for _, p := range b.Paragraphs {
			for _, l := range p.Lines {
				for _, w := range l.Words {
					if len([]rune(w.Text)) < 3 {
						continue
					}
					if w.Box.Height() > w.Box.Width() {
						tall++
					} else {
						wide++
					}
				}
			}
		}
	}
	return tall > wide
}

// bestRotation recognises a half-size copy of pix turned 0, 90, 180 and 270
// degrees clockwise and returns the turn with the clearly best mean
// confidence (0 unless another beats upright by a margin).
func (h *handle) bestRotation(ctx context.Context, pix *C.PIX, dpi int, deadline time.Time, sideways bool) (int, error) {
	half := C.lector_half(pix)
	if half == nil {
		return 0, nil
	}
	defer C.lector_pix_destroy(half)
	best, bestConf, upright := 0, -1, 0
	quads := []int{0, 2} // lines run across: upright or upside down
	if sideways {        // lines run down: only 90 or 270 can be right
		quads, upright = []int{1, 3}, -1
	}
	for _, q := range quads {
		p := C.lector_orient(half, C.int(q), 0)
		err := h.recognizePix(ctx, p, max(dpi/2, 70), deadline)
		conf := int(C.TessBaseAPIMeanTextConf(h.api))
		C.TessBaseAPIClear(h.api)
		C.lector_pix_destroy(p)
		if err != nil {
			return 0, err
		}
		if q == 0 {
			upright = conf
		}
		if conf > bestConf {
			best, bestConf = q*90, conf
		}
	}
	if !sideways && best != 0 && bestConf < upright+10 {
		return 0, nil
	}
	return best, nil
}

var blockTypes = map[C.TessPolyBlockType]result.BlockType{
	C.PT_FLOWING_TEXT: result.BlockText, C.PT_PULLOUT_TEXT: result.BlockText, C.PT_VERTICAL_TEXT: result.BlockText,
	C.PT_HEADING_TEXT: result.BlockHeading, C.PT_EQUATION: result.BlockFormula, C.PT_INLINE_EQUATION: result.BlockFormula,
	C.PT_TABLE: result.BlockTable, C.PT_CAPTION_TEXT: result.BlockCaption,
	C.PT_FLOWING_IMAGE: result.BlockFigure, C.PT_HEADING_IMAGE: result.BlockFigure, C.PT_PULLOUT_IMAGE: result.BlockFigure,
	C.PT_HORZ_LINE: result.BlockSeparator, C.PT_VERT_LINE: result.BlockSeparator,
}

// regions runs the layout analysis alone on pix and returns the page's
// blocks, typed, with their boxes and no words.
func (h *handle) regions(pix *C.PIX, dpi, number int) *result.Page {
	page := &result.Page{Number: number, Engine: h.m.name, Width: int(C.lector_width(pix)), Height: int(C.lector_height(pix)), Blocks: []result.Block{}}
	C.TessBaseAPISetImage2(h.api, pix)
	C.TessBaseAPISetSourceResolution(h.api, C.int(dpi))
	defer C.TessBaseAPIClear(h.api)
	pi := C.TessBaseAPIAnalyseLayout(h.api)
	if pi == nil {
		return page
	}
	defer C.TessPageIteratorDelete(pi)
	var l, t, r, b C.int
	if C.TessPageIteratorBoundingBox(pi, C.RIL_BLOCK, &l, &t, &r, &b) == 0 {
		return page
	}
	for {
		bt, known := blockTypes[C.TessPageIteratorBlockType(pi)]
		if !known {
			bt = result.BlockText
		}
		page.Blocks = append(page.Blocks, result.Block{Type: bt, Box: box(pi, C.RIL_BLOCK)})
		if C.TessPageIteratorNext(pi, C.RIL_BLOCK) == 0 {
			return page
		}
	}
}

func box(pi *C.TessPageIterator, level C.TessPageIteratorLevel) result.Box {
	var l, t, r, b C.int
	C.TessPageIteratorBoundingBox(pi, level, &l, &t, &r, &b)
	return result.Box{X0: int(l), Y0: int(t), X1: int(r), Y1: int(b)}
}

// rightToLeft reports whether langs has a right-to-left script.
func rightToLeft(langs string) bool {
	for _, l := range strings.Split(langs, "+") {
		switch strings.TrimPrefix(l, "script/") {
		case "ara", "heb", "fas", "urd", "yid", "syr", "div", "pus", "snd", "uig", "Arabic", "Hebrew", "Syriac", "Thaana":
			return true
		}
	}
	return false
}

// iterator returns an iterator over the last recognition: left to right
// (linear time, ltr.cpp) unless the model has a right-to-left script.
func (h *handle) iterator() *C.TessPageIterator {
	if h.m.rtl {
		if it := C.TessBaseAPIGetIterator(h.api); it != nil {
			return C.TessResultIteratorGetPageIterator(it)
		}
		return nil
	}
	return C.lector_ltr_iterator(h.api)
}

// blocks walks the recognised page: every block with its type (image and
// rule blocks too), and the paragraphs, lines and words of text blocks.
func (h *handle) blocks() []result.Block {
	pi := h.iterator()
	if pi == nil {
		return []result.Block{}
	}
	defer C.TessPageIteratorDelete(pi)

	var out []result.Block
	index := map[result.Box]int{}
	var l, tp, r, bt0 C.int
	if C.TessPageIteratorBoundingBox(pi, C.RIL_BLOCK, &l, &tp, &r, &bt0) == 0 {
		return []result.Block{} // nothing found on the page
	}
	for {
		t := C.TessPageIteratorBlockType(pi)
		bt, known := blockTypes[t]
		if !known {
			bt = result.BlockText
		}
		b := box(pi, C.RIL_BLOCK)
		index[b] = len(out)
		out = append(out, result.Block{Type: bt, Box: b})
		if C.TessPageIteratorNext(pi, C.RIL_BLOCK) == 0 {
			break
		}
	}
	C.TessPageIteratorBegin(pi)
	var cur *result.Block
	for {
		if C.TessPageIteratorIsAtBeginningOf(pi, C.RIL_BLOCK) != 0 {
			i, ok := index[box(pi, C.RIL_BLOCK)]
			if !ok {
				out = append(out, result.Block{Type: result.BlockText, Box: box(pi, C.RIL_BLOCK)})
				i = len(out) - 1
			}
			cur = &out[i]
			cur.Confidence = float64(C.lector_ltr_conf(pi, C.RIL_BLOCK))
		}
		if cur == nil { // words before any block: not expected, but never crash on it
			if C.TessPageIteratorNext(pi, C.RIL_WORD) == 0 {
				break
			}
			continue
		}
		if C.TessPageIteratorIsAtBeginningOf(pi, C.RIL_PARA) != 0 || len(cur.Paragraphs) == 0 {
			cur.Paragraphs = append(cur.Paragraphs, result.Paragraph{Box: box(pi, C.RIL_PARA)})
		}
		para := &cur.Paragraphs[len(cur.Paragraphs)-1]
		if C.TessPageIteratorIsAtBeginningOf(pi, C.RIL_TEXTLINE) != 0 || len(para.Lines) == 0 {
			para.Lines = append(para.Lines, result.Line{Box: box(pi, C.RIL_TEXTLINE), Confidence: float64(C.lector_ltr_conf(pi, C.RIL_TEXTLINE))})
		}
		line := &para.Lines[len(para.Lines)-1]
		if txt := C.lector_ltr_text(pi, C.RIL_WORD); txt != nil {
			w := strings.TrimSpace(C.GoString(txt))
			C.TessDeleteText(txt)
			if w != "" {
				line.Words = append(line.Words, result.Word{Text: w, Box: box(pi, C.RIL_WORD), Confidence: float64(C.lector_ltr_conf(pi, C.RIL_WORD))})
			}
		}
		if C.TessPageIteratorNext(pi, C.RIL_WORD) == 0 {
			break
		}
	}
	// Drop empty paragraphs and lines (words that were only spaces).
	for bi := range out {
		var paras []result.Paragraph
		for _, p := range out[bi].Paragraphs {
			var lines []result.Line
			for _, l := range p.Lines {
				if len(l.Words) > 0 {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				p.Lines = lines
				paras = append(paras, p)
			}
		}
		out[bi].Paragraphs = paras
	}
	return out
}
