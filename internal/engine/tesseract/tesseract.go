package tesseract

/*
#cgo pkg-config: tesseract lept
#include <stdlib.h>
#include <malloc.h>
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

static PIX *lector_read(const unsigned char *data, size_t n, int tiff_page) {
	if (tiff_page > 0) return pixReadMemTiff(data, n, tiff_page);
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

// lector_deskew returns a deskewed copy and the angle found (degrees).
static PIX *lector_deskew(PIX *pix, float *angle, float *conf) {
	*angle = 0; *conf = 0;
	PIX *d = pixFindSkewAndDeskew(pix, 2, angle, conf);
	return d;
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
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// Engine is the Tesseract engine.
type Engine struct {
	// DataDir is the tessdata directory ("" finds the installed one).
	DataDir string
	// PageTimeout bounds one page's recognition (default 120s).
	PageTimeout time.Duration
}

var _ engine.Engine = Engine{}

// Estimate returns the documented coefficients for langs.
func (e Engine) Estimate(langs string) (uint64, uint64, error) {
	if err := checkLangs(DataDir(e.DataDir), langs); err != nil {
		return 0, 0, err
	}
	l, p := estimate(langs)
	return l, p, nil
}

// Load checks the languages; handles load them, one per slot.
func (e Engine) Load(ctx context.Context, spec engine.Spec) (engine.Model, error) {
	dir := DataDir(e.DataDir)
	if err := checkLangs(dir, spec.Config); err != nil {
		return nil, err
	}
	to := e.PageTimeout
	if to <= 0 {
		to = 120 * time.Second
	}
	_, osdErr := os.Stat(filepath.Join(dir, "osd.traineddata"))
	return &model{dir: dir, langs: spec.Config, name: spec.Model, timeout: to, osd: osdErr == nil}, nil
}

type model struct {
	dir, langs, name string
	timeout          time.Duration
	osd              bool
}

func (m *model) Close() error { return nil }

// NewHandle initialises a TessBaseAPI (and one for orientation detection)
// on the calling thread, which the runner has locked.
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
	h := &handle{m: m, api: api}
	if m.osd {
		cosd := C.CString("osd")
		defer C.free(unsafe.Pointer(cosd))
		osd := C.TessBaseAPICreate()
		if C.TessBaseAPIInit3(osd, cdir, cosd) == 0 {
			C.TessBaseAPISetPageSegMode(osd, C.PSM_OSD_ONLY)
			h.osd = osd
		} else {
			C.TessBaseAPIDelete(osd)
		}
	}
	return h, nil
}

type handle struct {
	m   *model
	api *C.TessBaseAPI
	osd *C.TessBaseAPI
}

func (h *handle) Close() error {
	for _, api := range []*C.TessBaseAPI{h.api, h.osd} {
		if api != nil {
			C.TessBaseAPIEnd(api)
			C.TessBaseAPIDelete(api)
		}
	}
	h.api, h.osd = nil, nil
	C.lector_trim()
	return nil
}

// Options understood by Process.
const (
	OptPSM       = "psm"        // page segmentation mode number; default 3 (auto)
	OptDPI       = "dpi"        // resolution of the image; default from the image, else 300
	OptTIFFPage  = "tiff_page"  // 1-based page of a multi-page TIFF
	OptExifQuads = "exif_quads" // clockwise quarter turns from EXIF
	OptExifFlip  = "exif_flip"  // mirror first (EXIF)
	OptNoOSD     = "no_osd"     // skip orientation detection
	OptNoDeskew  = "no_deskew"  // skip deskew
	OptPDF       = "pdf"        // also render a searchable PDF page
	OptPDFDir    = "pdf_dir"    // where the runner may write it
)

// Process recognises one page.
func (h *handle) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	if len(im.Data) == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "page %d has no image data", im.Number)
	}
	tiffPage, _ := strconv.Atoi(opts[OptTIFFPage])
	pix := C.lector_read((*C.uchar)(unsafe.Pointer(&im.Data[0])), C.size_t(len(im.Data)), C.int(tiffPage))
	if pix == nil {
		return nil, errcode.New(errcode.InvalidDocument, "page %d: the image could not be decoded", im.Number)
	}
	defer C.lector_pix_destroy(pix)

	quads, _ := strconv.Atoi(opts[OptExifQuads])
	flip := 0
	if opts[OptExifFlip] != "" {
		flip = 1
	}
	if quads != 0 || flip != 0 {
		p := C.lector_orient(pix, C.int(quads), C.int(flip))
		C.lector_pix_destroy(pix)
		pix = p
	}
	dpi, _ := strconv.Atoi(opts[OptDPI])
	if dpi <= 0 {
		dpi = int(C.lector_xres(pix))
	}
	if dpi < 70 {
		dpi = 300
	}

	page := &result.Page{Number: im.Number, Engine: h.m.name}
	// Orientation: turn the page upright before anything else.
	if h.osd != nil && opts[OptNoOSD] == "" {
		if rot := h.detectRotation(pix, dpi); rot != 0 {
			p := C.lector_orient(pix, C.int(rot/90), 0)
			C.lector_pix_destroy(pix)
			pix = p
			page.Rotation = rot
		}
	}
	if opts[OptNoDeskew] == "" {
		var angle, conf C.float
		if d := C.lector_deskew(pix, &angle, &conf); d != nil {
			if float64(angle) != 0 {
				page.Skew = math.Round(float64(angle)*100) / 100
			}
			C.lector_pix_destroy(pix)
			pix = d
		}
	}
	page.Width, page.Height = int(C.lector_width(pix)), int(C.lector_height(pix))

	if psm, err := strconv.Atoi(opts[OptPSM]); err == nil {
		C.TessBaseAPISetPageSegMode(h.api, C.TessPageSegMode(psm))
		defer C.TessBaseAPISetPageSegMode(h.api, C.PSM_AUTO)
	}
	C.TessBaseAPISetImage2(h.api, pix)
	C.TessBaseAPISetSourceResolution(h.api, C.int(dpi))
	defer C.TessBaseAPIClear(h.api)

	if err := h.recognize(ctx); err != nil {
		return nil, fmt.Errorf("page %d: %w", im.Number, err)
	}
	page.Blocks = h.blocks()
	if opts[OptPDF] != "" {
		pdf, err := h.pdf(opts[OptPDFDir], im.Number, dpi)
		if err != nil {
			return nil, err
		}
		page.PDF = pdf
	}
	return page, nil
}

// recognize runs Recognize under a monitor that a cancelled ctx or the
// page timeout stops.
func (h *handle) recognize(ctx context.Context) error {
	flag := (*C.lector_cancel)(C.calloc(1, C.size_t(unsafe.Sizeof(C.lector_cancel{}))))
	defer C.free(unsafe.Pointer(flag))
	mon := C.lector_monitor(flag, C.int(h.m.timeout.Milliseconds()))
	defer C.TessMonitorDelete(mon)
	stop := context.AfterFunc(ctx, func() { flag.cancel = 1 })
	start := time.Now()
	rc := C.TessBaseAPIRecognize(h.api, mon)
	stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if time.Since(start) >= h.m.timeout {
		return errcode.New(errcode.Timeout, "recognition took longer than %s", h.m.timeout)
	}
	if rc != 0 {
		return errors.New("tesseract: recognition failed")
	}
	return nil
}

// detectRotation returns the clockwise rotation (0, 90, 180, 270) that
// makes the page upright, when Tesseract is confident of it.
func (h *handle) detectRotation(pix *C.PIX, dpi int) int {
	C.TessBaseAPISetImage2(h.osd, pix)
	C.TessBaseAPISetSourceResolution(h.osd, C.int(dpi))
	defer C.TessBaseAPIClear(h.osd)
	var deg C.int
	var conf, sconf C.float
	var script *C.char
	if C.TessBaseAPIDetectOrientationScript(h.osd, &deg, &conf, &script, &sconf) == 0 {
		return 0
	}
	if script != nil {
		C.TessDeleteText(script)
	}
	if float64(conf) < 2 || deg == 0 {
		return 0
	}
	return int(deg) % 360
}

func (h *handle) pdf(dir string, number, dpi int) ([]byte, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	tmp, err := os.MkdirTemp(dir, "pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	base := filepath.Join(tmp, "page")
	cbase, cdata, ctitle := C.CString(base), C.CString(h.m.dir), C.CString("Lector")
	defer C.free(unsafe.Pointer(cbase))
	defer C.free(unsafe.Pointer(cdata))
	defer C.free(unsafe.Pointer(ctitle))
	r := C.TessPDFRendererCreate(cbase, cdata, C.BOOL(0))
	if r == nil {
		return nil, errors.New("tesseract: creating the PDF renderer failed")
	}
	defer C.TessDeleteResultRenderer(r)
	if C.TessResultRendererBeginDocument(r, ctitle) == 0 || C.TessResultRendererAddImage(r, h.api) == 0 || C.TessResultRendererEndDocument(r) == 0 {
		return nil, fmt.Errorf("tesseract: rendering page %d as PDF failed", number)
	}
	return os.ReadFile(base + ".pdf")
}

var blockTypes = map[C.TessPolyBlockType]result.BlockType{
	C.PT_FLOWING_TEXT: result.BlockText, C.PT_PULLOUT_TEXT: result.BlockText, C.PT_VERTICAL_TEXT: result.BlockText,
	C.PT_HEADING_TEXT: result.BlockHeading, C.PT_EQUATION: result.BlockFormula, C.PT_INLINE_EQUATION: result.BlockFormula,
	C.PT_TABLE: result.BlockTable, C.PT_CAPTION_TEXT: result.BlockCaption,
	C.PT_FLOWING_IMAGE: result.BlockFigure, C.PT_HEADING_IMAGE: result.BlockFigure, C.PT_PULLOUT_IMAGE: result.BlockFigure,
	C.PT_HORZ_LINE: result.BlockSeparator, C.PT_VERT_LINE: result.BlockSeparator,
}

func box(pi *C.TessPageIterator, level C.TessPageIteratorLevel) result.Box {
	var l, t, r, b C.int
	C.TessPageIteratorBoundingBox(pi, level, &l, &t, &r, &b)
	return result.Box{X0: int(l), Y0: int(t), X1: int(r), Y1: int(b)}
}

// blocks walks the recognised page: every block with its type (image and
// rule blocks too), and the paragraphs, lines and words of text blocks.
func (h *handle) blocks() []result.Block {
	it := C.TessBaseAPIGetIterator(h.api)
	if it == nil {
		return nil
	}
	defer C.TessResultIteratorDelete(it)
	pi := C.TessResultIteratorGetPageIterator(it)

	var out []result.Block
	index := map[result.Box]int{}
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
			cur.Confidence = float64(C.TessResultIteratorConfidence(it, C.RIL_BLOCK))
		}
		if C.TessPageIteratorIsAtBeginningOf(pi, C.RIL_PARA) != 0 || len(cur.Paragraphs) == 0 {
			cur.Paragraphs = append(cur.Paragraphs, result.Paragraph{Box: box(pi, C.RIL_PARA)})
		}
		para := &cur.Paragraphs[len(cur.Paragraphs)-1]
		if C.TessPageIteratorIsAtBeginningOf(pi, C.RIL_TEXTLINE) != 0 || len(para.Lines) == 0 {
			para.Lines = append(para.Lines, result.Line{Box: box(pi, C.RIL_TEXTLINE), Confidence: float64(C.TessResultIteratorConfidence(it, C.RIL_TEXTLINE))})
		}
		line := &para.Lines[len(para.Lines)-1]
		if txt := C.TessResultIteratorGetUTF8Text(it, C.RIL_WORD); txt != nil {
			w := strings.TrimSpace(C.GoString(txt))
			C.TessDeleteText(txt)
			if w != "" {
				line.Words = append(line.Words, result.Word{Text: w, Box: box(pi, C.RIL_WORD), Confidence: float64(C.TessResultIteratorConfidence(it, C.RIL_WORD))})
			}
		}
		if C.TessResultIteratorNext(it, C.RIL_WORD) == 0 {
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
