// Package structure is the structure pipeline's engine, the role
// PP-StructureV3 played in the system Lector replaces: it reads a page with
// Tesseract (in the same runner, no second recognition, except that small
// print's phrases are read again by PP-OCR's recogniser: reread.go) and
// turns it into a document page with internal/layout — typed blocks, tables with their
// cells, cropped figures, reading order. Model names: "structure:default"
// (English) or "structure:<tesseract languages>".
package structure

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	_ "image/jpeg" // decoders for the gray page of structure:ppocr
	_ "image/png"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/ppocr"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/layout"
	"github.com/lector-ocr/lector/internal/result"
)

// Engine is the structure engine.
type Engine struct {
	Tesseract tesseract.Engine
	// PPOCR, when set, reads the page for "structure:ppocr" (PP-OCRv4):
	// the layout analysis over ppocr's lines and words instead of
	// Tesseract's. Not a default: see docs/BENCHMARKS.md.
	PPOCR engine.Engine
	// Reread, when its recogniser is installed (ppocr.Engine.
	// RecognizerInstalled), re-reads small print's words for
	// structure:default and the other Tesseract configs (reread.go); a
	// zero Engine, or one without the model files, leaves Tesseract's
	// text as it is.
	Reread ppocr.Engine
}

// ppocrConfig is the model name's config that reads with PPOCR, and the
// ppocr model it loads; ppocrPerPage is structure:ppocr's documented fixed
// part (bytes, Estimate).
const (
	ppocrConfig  = "ppocr"
	ppocrModel   = "v4"
	ppocrPerPage = 40 << 20
)

var (
	_ engine.Engine     = Engine{}
	_ engine.PrintSizer = Engine{}
	_ engine.Environ    = Engine{}
	_ engine.Cataloger  = Engine{}
	_ engine.Classer    = Engine{}
)

func langs(config string) string {
	if config == "" || config == "default" {
		return "eng"
	}
	return config
}

// Estimate is Tesseract's (or PP-OCR's), plus the page analysis (and, on
// the CPU where it is installed, PP-OCR's recogniser for small print:
// ppocr.RecognizerLoadBytes and RecognizerPerPageBytes): the gray
// page (1 byte a pixel, rounded up to 2 MiB per work megapixel) and a
// fixed part 8 MiB above Tesseract's own and PP-OCR's; in English the
// measured page instead (asGivenPerPage), and for structure:ppocr its own
// measured fixed part (ppocrPerPage). These are the pages read as
// given; pages in colour and small pages, read enlarged, are classes of
// their own (PageClass, ClassEstimate).
func (e Engine) Estimate(config string, kind device.Kind) (engine.Footprint, error) {
	if config == ppocrConfig {
		if e.PPOCR == nil {
			return engine.Footprint{}, errcode.New(errcode.UnknownModel, "structure:ppocr: the ppocr engine is not available")
		}
		f, err := e.PPOCR.Estimate(ppocrModel, kind)
		if err != nil {
			return f, err
		}
		f.Host.PerMegapixel += 2 << 20 // the gray page
		// The fixed part is structure:ppocr's own, measured as PP-OCR's
		// is: the 90th percentile of its pages' fixed parts, 39 MiB over
		// four runs of bench/calibrate.sh (136 pages, on one malloc arena,
		// 2026-11-30, docs/BENCHMARKS.md). The layout analysis over
		// PP-OCR's lines adds 0.4–1.7 MiB to a page at the median (the
		// same page under ppocr:v4 and structure:ppocr, three runs);
		// adding its 90th percentile (8 MiB) to PP-OCR's stacked two
		// percentiles, and the evaluation's median was 1.20–1.37.
		f.Host.PerPage = ppocrPerPage
		return f, nil
	}
	f, err := e.Tesseract.Estimate(langs(config), kind)
	if err != nil {
		return f, err
	}
	f.Host.PerPage += 8 << 20
	f.Host.PerMegapixel += 2 << 20
	if kind == device.CPU && e.Reread.RecognizerInstalled(recModel) {
		// The recogniser that re-reads small print, opened with the model
		// whether or not a page needs it.
		f.Host.Load += ppocr.RecognizerLoadBytes
		f.Host.PerPage += ppocr.RecognizerPerPageBytes
	}
	if langs(config) == "eng" {
		f.Host.PerPage, f.Host.PerMegapixel = asGivenPerPage, asGivenPerMegapixel
	}
	return f, nil
}

// Documented page of structure:default's pages read as given (class "":
// 1600 px or more, fewer than 24 bits a pixel; bytes, per work megapixel,
// tesseract.WorkMegapixels) and of those in colour (classColour), measured
// as the enlarged classes are (the Theil–Sen slope and the 90th percentile
// of the fixed parts; bench/calibrate.sh with the recogniser installed,
// 2026-11-30, docs/BENCHMARKS.md). Gray and bilevel: 62 pages of 1.5–10.7
// MP (the evaluation's PDF pages and linn.png in four runs, earlier
// trials' scans, faxes, 150- and 300-dpi pages), 8.5 MiB per megapixel and
// 10 MiB; set against them, 0.92–2.19 (median 1.42) before any learning,
// where the composed line (Tesseract's, the page analysis's and the
// recogniser's parts, 45 MiB and 8/MP) gave 0.95–3.1 and the evaluation's
// PDF pages 1.3–1.7. Colour: 26 pages of 1.9–10.7 MP (photos, colour
// scans, pages rendered in RGB, gray-and-alpha PNGs, RGB TIFFs), 14 MiB
// per megapixel and 15 MiB: Leptonica keeps a colour page in 32 bits a
// pixel and Tesseract thresholds each channel, so the same 300-dpi page
// used 105–128 MiB in colour against 59–74 in gray. Other languages keep
// the composed line (unmeasured).
const (
	asGivenPerPage      = 10 << 20
	asGivenPerMegapixel = 17 << 19 // 8.5 MiB
	colourPerPage       = 15 << 20
	colourPerMegapixel  = 14 << 20
)

// WorkMegapixels (engine.Sizer): structure:ppocr's pages are PP-OCR's;
// structure:default's are Tesseract's as given (a page of 1600 px or
// more) and, for a small page that is read enlarged by s (scaleFor, no
// further than brings its print to printHeight when p.PrintHeight was
// measured before admission: NeedsPrint, MeasurePrint; unmeasured,
// scaleFor's bound), its megapixels × s — the enlargement's side, not its
// area s²: what an enlarged page used grew with s (bench/calibrate.sh on
// 65 small images of ../shared/eval, docs/BENCHMARKS.md: PubTabNet tables
// enlarged 5–6× used 8–46 MiB per enlarged megapixel, ICDAR 2013 tables
// and photos enlarged 1.4–2.7× 7–36, one line 2× 15–31; per megapixel × s
// the ICDAR tables and photos used 22–60 MiB, most 40–55). Small pages
// are their own page class (PageClass) with their own line.
func (e Engine) WorkMegapixels(config string, p engine.PageShape) float64 {
	if config == ppocrConfig {
		if s, ok := e.PPOCR.(engine.Sizer); ok {
			return s.WorkMegapixels(ppocrModel, p)
		}
		return p.Megapixels()
	}
	if s := scaleFor(p.Width, p.Height); s > 1 {
		if p.PrintHeight > 0 {
			s = max(min(s, float64(printHeight)/float64(p.PrintHeight)), 1)
		}
		return p.Megapixels() * s
	}
	return tesseract.WorkMegapixels(p)
}

// Page classes of the Tesseract configs (engine.Classer): a page of 1600
// px or more is read as given (class "", Estimate), in colour (24 bits a
// pixel or more: classColour) a class of its own; a small page is read
// enlarged (classEnlarged), and where its print, measured before the page,
// is under rereadPrintBound or was not found it may be small enough for
// its phrases to be read a second time by PP-OCR's recogniser
// (classEnlargedSmallPrint, when the recogniser is installed).
const (
	classColour             = "colour"
	classEnlarged           = "enlarged"
	classEnlargedSmallPrint = "enlarged-small-print"
	// rereadPrintBound is the measured print (tesseract.PrintHeight, the
	// letters' upper quartile, in the page's pixels) from which a page is
	// not re-read: the second reading follows Tesseract's lines (median
	// height under smallPrintHeight, 12 px), and on 78 small images of
	// ../shared/eval every image measured at 10 px or more had lines of
	// 15.8 px or more, while images measured at 4–6 px had lines of
	// 5.2–14.4 (docs/BENCHMARKS.md).
	rereadPrintBound = 10
)

// Documented per-page parts of the enlarged classes (bytes; per work
// megapixel, WorkMegapixels), the Theil–Sen slope of what 65 small images
// of ../shared/eval used (bench/calibrate.sh, structure:default with the
// recogniser installed, three runs: the script's files twice and 36
// others once, docs/BENCHMARKS.md) and the 90th percentile of each page's
// fixed part, as the engines document theirs: print of 10 px or more 53
// MiB per megapixel and 4 MiB (43 observations: ICDAR 2013 tables,
// photos), smaller or not found 77 and 20 (53: PubTabNet tables, lines,
// crops; the re-reading's recogniser runs on most of them). Measured with
// the runner on one malloc arena (RunnerEnv); before it, a page's working
// set varied up to 2× with what the runner held when it started, and the
// lines were 46 and 8, 54 and 23.
const (
	enlargedPerMegapixel           = 53 << 20
	enlargedPerPage                = 4 << 20
	enlargedSmallPrintPerMegapixel = 77 << 20
	enlargedSmallPrintPerPage      = 20 << 20
)

// PageClass (engine.Classer): see classEnlarged.
func (e Engine) PageClass(config string, p engine.PageShape) string {
	if config == ppocrConfig {
		return ""
	}
	if scaleFor(p.Width, p.Height) <= 1 {
		if p.Bits >= 24 {
			return classColour
		}
		return ""
	}
	if p.PrintHeight >= rereadPrintBound || !e.Reread.RecognizerInstalled(recModel) {
		return classEnlarged
	}
	return classEnlargedSmallPrint
}

// PageClasses (engine.Classer): the enlarged classes of the Tesseract
// configs; structure:ppocr has none.
func (e Engine) PageClasses(config string) []string {
	if config == ppocrConfig {
		return nil
	}
	return []string{classColour, classEnlarged, classEnlargedSmallPrint}
}

// ClassEstimate (engine.Classer): Estimate's load, and each enlarged
// class's measured page.
func (e Engine) ClassEstimate(config, class string, kind device.Kind) (engine.Footprint, error) {
	f, err := e.Estimate(config, kind)
	if err != nil || class == "" {
		return f, err
	}
	switch {
	case config == ppocrConfig:
	case class == classColour:
		f.Host.PerPage, f.Host.PerMegapixel = colourPerPage, colourPerMegapixel
		return f, nil
	case class == classEnlarged:
		// Learned freely: the slope of enlarged pages is fitted on them
		// (the floor of the pages read as given is Tesseract's).
		f.Host.PerPage, f.Host.PerMegapixel, f.Host.FloorPerMegapixel = enlargedPerPage, enlargedPerMegapixel, false
		return f, nil
	case class == classEnlargedSmallPrint:
		f.Host.PerPage, f.Host.PerMegapixel, f.Host.FloorPerMegapixel = enlargedSmallPrintPerPage, enlargedSmallPrintPerMegapixel, false
		return f, nil
	}
	return engine.Footprint{}, errcode.New(errcode.Internal, "structure:%s has no page class %q", config, class)
}

// NeedsPrint (engine.PrintSizer): a small page's work megapixels follow
// its print under structure:default and the other Tesseract configs.
func (e Engine) NeedsPrint(config string, p engine.PageShape) bool {
	return config != ppocrConfig && scaleFor(p.Width, p.Height) > 1
}

// MeasurePrint (engine.PrintSizer) is Tesseract's measure of the print
// (tesseract.PrintHeight) on img in 8-bit gray, the one its enlargement
// is bounded by. On the largest image measured (small: under 1600 px a
// side), a 1599×1000 page, a gray PNG decoded and measured takes 8.7 ms
// and 3.3 MB (BenchmarkMeasurePrint); a colour image adds its conversion
// to gray (14 ms measured from RGBA, decode excluded).
func (e Engine) MeasurePrint(img image.Image) int {
	b := img.Bounds()
	g, ok := img.(*image.Gray)
	if !ok {
		g = image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(g, g.Bounds(), img, b.Min, draw.Src)
	}
	return tesseract.PrintHeight(g)
}

// RunnerEnv is Tesseract's, or PP-OCR's for structure:ppocr. Where the
// Tesseract configs' runner opens PP-OCR's recogniser (RecognizerInstalled,
// on the CPU), PP-OCR's environment too (glibc's malloc on one arena,
// ppocr.Engine.RunnerEnv): without it the runner started its tasks 122 MiB
// resident at first and 158 MiB at the 34th (bench/calibrate.sh), memory
// freed into thread arenas' tops, which malloc_trim does not return; with
// it 112 to 133 MiB. A page reuses what the runner holds when it starts, so
// the same 486×150 table measured a working set of 24 MiB in one run and 48
// in another, and the learner's estimates rose to cover the noise.
// Serial tasks ran in the same time (30.2 s against 30.3 s of run time).
func (e Engine) RunnerEnv(config string, kind device.Kind) []string {
	if config == ppocrConfig {
		if en, ok := e.PPOCR.(engine.Environ); ok {
			return en.RunnerEnv(ppocrModel, kind)
		}
		return nil
	}
	env := e.Tesseract.RunnerEnv(langs(config), kind)
	if kind == device.CPU && e.Reread.RecognizerInstalled(recModel) {
		for _, kv := range e.Reread.RunnerEnv(recModel, kind) {
			k, _, _ := strings.Cut(kv, "=")
			if !slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, k+"=") }) {
				env = append(env, kv) // a variable Tesseract's sets (one arena) is not set twice
			}
		}
	}
	return env
}

// Catalog lists structure:default (English) and a structure model per
// installed Chinese language.
func (e Engine) Catalog() []engine.Entry {
	var out []engine.Entry
	for _, t := range e.Tesseract.Catalog() {
		l := strings.TrimPrefix(t.Model, "tesseract:")
		switch l {
		case "eng":
			out = append(out, engine.Entry{Model: "structure:default", Description: "layout, tables, reading order over Tesseract eng", DiskBytes: t.DiskBytes})
		case "chi_sim+eng", "chi_tra+eng":
			out = append(out, engine.Entry{Model: "structure:" + l, Description: "layout, tables, reading order over Tesseract " + l, DiskBytes: t.DiskBytes})
		}
	}
	if c, ok := e.PPOCR.(engine.Cataloger); ok {
		for _, p := range c.Catalog() {
			if p.Model == "ppocr:"+ppocrModel {
				out = append(out, engine.Entry{Model: "structure:" + ppocrConfig, Description: "layout, tables, reading order over PP-OCRv4 (experimental)", DiskBytes: p.DiskBytes})
			}
		}
	}
	return out
}

// Load loads Tesseract for the languages, or ppocr:v4 for structure:ppocr.
func (e Engine) Load(ctx context.Context, spec engine.Spec) (engine.Model, error) {
	inner := spec
	if spec.Config == ppocrConfig {
		if e.PPOCR == nil {
			return nil, errcode.New(errcode.UnknownModel, "structure:ppocr: the ppocr engine is not available")
		}
		inner.Model, inner.Config = "ppocr:"+ppocrModel, ppocrModel
		m, err := e.PPOCR.Load(ctx, inner)
		if err != nil {
			return nil, err
		}
		return &model{ocr: m, name: spec.Model, ppocr: true}, nil
	}
	inner.Config = langs(spec.Config)
	m, err := e.Tesseract.Load(ctx, inner)
	if err != nil {
		return nil, err
	}
	var rec *recognizer
	if spec.Device == "" || spec.Device == string(device.CPU) {
		rec = newRecognizer(e.Reread, spec.Slots)
	}
	if rec != nil {
		// Opened with the model, not on the first page of small print
		// that needs it: its memory is then in the model's load, where the
		// estimate counts it (Estimate) and the learner observes it. Opened
		// inside a task, its ~55 MiB were that page's working set — a
		// re-read PubTabNet table measured 129 MiB against an estimate of
		// 78 — and stayed in the learner's window as one, raising the next
		// pages' fixed part (ICDAR 2013 tables estimated at up to 5×,
		// bench/calibrate.sh, docs/BENCHMARKS.md). A failure to open is
		// remembered and pages keep Tesseract's text (recognizer.get).
		_, _ = rec.get()
	}
	return &model{ocr: m, name: spec.Model, rec: rec}, nil
}

type model struct {
	ocr   engine.Model
	name  string
	ppocr bool
	rec   *recognizer // re-reads small print; nil: not installed
}

func (m *model) NewHandle() (engine.Handle, error) {
	h, err := m.ocr.NewHandle()
	if err != nil {
		return nil, err
	}
	return &handle{ocr: h, name: m.name, ppocr: m.ppocr, rec: m.rec}, nil
}

func (m *model) Close() error {
	if m.rec != nil {
		m.rec.close()
	}
	return m.ocr.Close()
}

type handle struct {
	ocr   engine.Handle
	name  string
	ppocr bool
	rec   *recognizer
}

func (h *handle) Close() error { return h.ocr.Close() }

// scaleFor enlarges small images (cropped tables, screenshots), whose
// print is too small for Tesseract: to about 3000 pixels on the long side,
// at most 6× (7–10 px print becomes 40–60 px). Measured on the PubTabNet
// examples against 2000 px/4× (TEDS 0.645), 2500/5× (0.651), 2000/6×
// (0.657), 2500/6× (0.661) and 3000/8× (0.620): 0.667.
func scaleFor(w, h int) float64 {
	if !small(w, h) {
		return 1
	}
	return min(float64(int(3000.0/float64(max(w, h))*4))/4, 6)
}

// printHeight bounds scaleFor's enlargement by the print (the letters'
// upper-quartile height, tesseract.OptPrintHeight): no more than brings it
// to 30 px. scaleFor alone goes by the image's size, which made the ICDAR
// 2013 tables' 11–15 px print 40–90 px tall; measured on both sets
// (docs/BENCHMARKS.md): 36 px ICDAR 2013 TEDS 0.835 / structure 0.869,
// 30 px 0.843 / 0.875, 24 px 0.844 / 0.879; PubTabNet (4–6 px print)
// unchanged at 36 and 30 px, 0.691 / 0.838 at 24 px (it lost a table).
// Less enlargement is less work: ICDAR 2013's CPU time fell by a fifth.
const printHeight = 30

// small reports whether an image is under 1600 px on its long side: a
// crop or a screenshot (a table, a few paragraphs), not a scanned page
// (an A4 or Letter page is over 1600 px from 150 DPI up).
func small(w, h int) bool {
	m := max(w, h)
	return m > 0 && m < 1600
}

// Process reads the page and analyses its layout. Boxes are in the
// page's own pixels. A page that comes with its own text (a PDF's text
// layer) is not read: its words are analysed (processText). What the page
// is — a cropped table, a page with tables among text, text — is decided
// from the page (layout.Analyze); a small image (small) is read enlarged
// (scaleFor, no further than brings its print to printHeight),
// upright and as one column of lines (PSM 4): on small print the
// orientation check's guesses do more harm than good (it turned small
// tables sideways), and automatic segmentation drops the lone digits of
// number columns as noise (measured on the PubTabNet examples: TEDS 0.703
// automatic, 0.716 one uniform block, PSM 6, 0.734 one column; sparse
// text, PSM 11, drops lone numbers too). Where the print is small
// (printPixels under smallPrintHeight, in the page's own pixels) and
// PP-OCR's recogniser is installed, the phrases Tesseract doubted are read
// again by it before the layout analysis (reread).
func (h *handle) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	if im.Text != nil {
		return h.processText(ctx, im)
	}
	o := opts
	o.Params = maps.Clone(opts.Params)
	if o.Params == nil {
		o.Params = map[string]string{}
	}
	if h.ppocr {
		return h.processPPOCR(ctx, im, o)
	}
	o.Params[tesseract.OptGray] = "1"
	scale := 1.0
	if small(im.Width, im.Height) {
		o.Params[tesseract.OptNoOSD] = "1"
		if o.Params[tesseract.OptPSM] == "" {
			o.Params[tesseract.OptPSM] = "4"
		}
		if o.Params[tesseract.OptScale] == "" {
			scale = scaleFor(im.Width, im.Height)
			o.Params[tesseract.OptScale] = strconv.FormatFloat(scale, 'f', -1, 64)
			o.Params[tesseract.OptPrintHeight] = strconv.Itoa(printHeight)
		}
	}
	page, err := h.ocr.Process(ctx, im, o)
	if err != nil {
		return nil, err
	}
	var g *image.Gray
	if len(page.Gray) == page.Width*page.Height && page.Width > 0 {
		g = &image.Gray{Pix: page.Gray, Stride: page.Width, Rect: image.Rect(0, 0, page.Width, page.Height)}
	}
	if g != nil && h.rec != nil {
		f := 1.0
		if m := max(im.Width, im.Height); m > 0 {
			f = float64(max(page.Width, page.Height)) / float64(m)
		}
		if ph := printPixels(page, f); ph > 0 && ph < smallPrintHeight {
			// Where the recogniser could not open, the page keeps
			// Tesseract's text.
			if r, err := h.rec.get(); err == nil {
				h.rec.rereads.Add(1)
				if _, err := reread(ctx, r, page, g); err != nil {
					return nil, err
				}
			}
		}
	}
	page.Blocks = layout.Analyze(g, page, layout.Options{})
	page.Gray = nil
	page.Engine = h.name
	if scale > 1 {
		// The factor applied: no more than scale (OptPrintHeight).
		if m := max(im.Width, im.Height); m > 0 {
			scale = float64(max(page.Width, page.Height)) / float64(m)
		}
		shrink(page, scale)
	}
	return page, nil
}

// processPPOCR reads the page with ppocr (a small image: no rotation
// search, as for Tesseract) and analyses its layout; the ruling lines are found on the
// page's gray decoded here (ppocr keeps no gray copy), when ppocr did not
// turn the page.
func (h *handle) processPPOCR(ctx context.Context, im engine.Image, o engine.Options) (*result.Page, error) {
	if small(im.Width, im.Height) {
		o.Params[tesseract.OptNoOSD] = "1" // ppocr's name for it too
	}
	page, err := h.ocr.Process(ctx, im, o)
	if err != nil {
		return nil, err
	}
	var g *image.Gray
	if page.Rotation == 0 && im.TIFFPage <= 1 && im.Orientation == (engine.Orientation{}) {
		if src, _, err := image.Decode(bytes.NewReader(im.Data)); err == nil && src.Bounds().Dx() == page.Width && src.Bounds().Dy() == page.Height {
			g = image.NewGray(image.Rect(0, 0, page.Width, page.Height))
			draw.Draw(g, g.Rect, src, src.Bounds().Min, draw.Src)
		}
	}
	page.Blocks = layout.Analyze(g, page, layout.Options{})
	page.Engine = h.name
	return page, nil
}

// shrink maps every box from the enlarged frame back to the page's.
func shrink(p *result.Page, f float64) {
	s := func(b *result.Box) {
		b.X0, b.Y0 = int(float64(b.X0)/f), int(float64(b.Y0)/f)
		b.X1, b.Y1 = int(float64(b.X1)/f+0.999), int(float64(b.Y1)/f+0.999)
	}
	p.Width, p.Height = int(float64(p.Width)/f+0.5), int(float64(p.Height)/f+0.5)
	for i := range p.Blocks {
		b := &p.Blocks[i]
		s(&b.Box)
		for j := range b.Paragraphs {
			pp := &b.Paragraphs[j]
			s(&pp.Box)
			for k := range pp.Lines {
				l := &pp.Lines[k]
				s(&l.Box)
				for w := range l.Words {
					s(&l.Words[w].Box)
				}
			}
		}
		if b.Table != nil {
			for c := range b.Table.Cells {
				s(&b.Table.Cells[c].Box)
			}
		}
	}
}
