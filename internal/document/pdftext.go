package document

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// The rule for a page that has both a picture and text (inkOutside): when
// images cover at least ScanImageCover of it, the page is rendered in gray
// at InkDPI (as shown: CropBox, /Rotate) and its ink is looked for —
// pixels at least InkContrast levels darker than the lightest pixel within
// InkRadius pixels (a local background, so that a gradient, a tint or a
// paper texture is not ink). Ink under the page's own words' boxes (each
// grown by WordMargin of its height on every side, so that an OCR layer
// placed a few points off its printed word still covers it) is left out,
// and the rest is cut into 8-connected marks. A mark InkMinHeight to
// InkMaxHeight pixels high and at most InkMaxWidth wide is glyph-like
// (a letter or a word at 72 dpi; a rule, a frame, a photo's large shapes
// or a speck are not). InkGlyphs or more glyph-like marks outside the
// words are text that the page's own text does not carry: the page is a
// scan with a little typed text on it (a stamp, a form field), and is
// OCR'd so that its scan is read. A page whose only ink is under its words
// — a born-digital page over a letterhead, slide or form background, a
// gradient, or a scan already covered by an earlier OCR layer — is read
// from its text. Figures, measured on the field trial's pages
// (docs/BENCHMARKS.md, "Pages over a background image"), are in
// docs/BENCHMARKS.md.
const (
	ScanImageCover = 0.5
	InkDPI         = 72
	InkContrast    = 64
	InkRadius      = 4
	WordMargin     = 0.5
	InkMinHeight   = 3
	InkMaxHeight   = 48
	InkMaxWidth    = 160
	InkGlyphs      = 20
	// InkMaxPixels bounds the render: a page larger than 4 Mpx at InkDPI
	// (a poster, whose letters are as large in points as the page is) is
	// rendered at the DPI that fits, and measured in those pixels.
	InkMaxPixels = 4_000_000
)

// pageText is what a PDF page's own text says about it.
type pageText struct {
	blocks     [][]textLine // blocks of lines, points of the page as shown
	words      int
	textCover  float64 // word boxes' area over the page's
	imageCover float64 // images' shown area over the page's (capped at 1)
	glyphs     int     // glyph-like marks outside the words (inkOutside; images ≥ ScanImageCover only)
	ocrLayer   bool    // every font of the page is a glyph-less OCR font
	glyphless  bool    // some font of the page is a glyph-less OCR font: an earlier OCR layer
}

type textLine struct {
	words []textWord
}

type textWord struct {
	s                      string
	xMin, yMin, xMax, yMax float64
}

// fromText decides whether page i is read from its text under mode.
func (t *pageText) fromText(mode lector.PDFText) bool {
	switch {
	case mode == lector.PDFTextForce || t == nil || t.words == 0:
		return false
	case t.ocrLayer || t.glyphless:
		return mode == lector.PDFTextSkip
	case t.imageCover >= ScanImageCover && t.glyphs >= InkGlyphs:
		return false
	}
	return true
}

// readText runs pdftotext -bbox-layout over the CropBox of every page and
// pdfimages -list, and fills p.text. Where a page has words over a large
// image, pdffonts says whether its fonts are all glyph-less.
func (p *PDF) readText(ctx context.Context) error {
	out, err := run(ctx, p.lim, "pdftotext", "-q", "-bbox-layout", "-cropbox", "-enc", "UTF-8", p.path, "-")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return pdfError(err)
	}
	pages, err := parseBBoxLayout(out)
	if err != nil {
		return errcode.Wrap(errcode.InvalidDocument, err, "reading the PDF's text")
	}
	if len(pages) != len(p.sizes) {
		return errcode.New(errcode.InvalidDocument, "the PDF's text has %d pages, the PDF %d", len(pages), len(p.sizes))
	}
	imgs, err := run(ctx, p.lim, "pdfimages", "-list", p.path)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return pdfError(err)
	}
	cover := imageCover(imgs)
	for i, t := range pages {
		area := p.points[i][0] * p.points[i][1]
		if area <= 0 {
			continue
		}
		t.imageCover = math.Min(1, cover[i+1]/area)
		var words float64
		for _, b := range t.blocks {
			for _, l := range b {
				for _, w := range l.words {
					words += (w.xMax - w.xMin) * (w.yMax - w.yMin)
				}
			}
		}
		t.textCover = words / area
		if t.words > 0 && t.imageCover >= ScanImageCover {
			n := strconv.Itoa(i + 1)
			fonts, err := run(ctx, p.lim, "pdffonts", "-f", n, "-l", n, p.path)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return pdfError(err)
			}
			t.ocrLayer = onlyGlyphless(fonts)
			t.glyphless = bytes.Contains(fonts, []byte("GlyphLess"))
			if t.glyphs, err = p.inkOutside(ctx, i, t); err != nil {
				if ctx.Err() != nil || errcode.Of(err) == errcode.Timeout {
					return err
				}
				t.glyphs = InkGlyphs // not rendered: OCR'd, as a scan
			}
		}
	}
	p.text = pages
	return nil
}

// inkOutside renders page i in gray at InkDPI (pdftoppm -cropbox, PGM) and
// returns the share of its pixels that are ink lying outside the words of
// t (see ScanImageCover for the rule and its figures).
func (p *PDF) inkOutside(ctx context.Context, i int, t *pageText) (int, error) {
	n := strconv.Itoa(i + 1)
	scale := 1.0
	if px := p.points[i][0] * p.points[i][1] * InkDPI * InkDPI / (72 * 72); px > InkMaxPixels {
		scale = math.Sqrt(InkMaxPixels / px)
	}
	dpi := strconv.FormatFloat(InkDPI*scale, 'f', 3, 64)
	out, err := run(ctx, p.lim, "pdftoppm", "-r", dpi, "-f", n, "-l", n, "-cropbox", "-gray", p.path)
	if err != nil {
		if ctx.Err() != nil || errcode.Of(err) == errcode.Timeout {
			return 0, err
		}
		return 0, pdfError(err)
	}
	img, _, err := image.Decode(bytes.NewReader(out))
	if err != nil {
		return 0, err
	}
	g, ok := img.(*image.Gray)
	if !ok {
		return 0, fmt.Errorf("pdftoppm -gray gave %T", img)
	}
	return inkOutsideWords(g, t, p.points[i]), nil
}

// inkOutsideWords is inkOutside's measure on g, the page (size points) as
// rendered (at most about InkMaxPixels: a larger one is not measured, and
// counts as a scan).
func inkOutsideWords(g *image.Gray, t *pageText, size [2]float64) int {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if w == 0 || h == 0 || size[0] <= 0 || size[1] <= 0 {
		return 0
	}
	if w*h > 2*InkMaxPixels {
		return InkGlyphs
	}
	radius, minH, maxH, maxW := InkRadius, InkMinHeight, InkMaxHeight, InkMaxWidth
	// The lightest pixel within radius: a max filter, rows then columns.
	rows := make([]uint8, w*h)
	for y := range h {
		line := g.Pix[y*g.Stride : y*g.Stride+w]
		for x := range w {
			m := uint8(0)
			for k := max(0, x-radius); k <= min(w-1, x+radius); k++ {
				m = max(m, line[k])
			}
			rows[y*w+x] = m
		}
	}
	covered := make([]bool, w*h)
	sx, sy := float64(w)/size[0], float64(h)/size[1]
	for _, b := range t.blocks {
		for _, l := range b {
			for _, wd := range l.words {
				m := WordMargin * (wd.yMax - wd.yMin)
				x0, x1 := int((wd.xMin-m)*sx), int(math.Ceil((wd.xMax+m)*sx))
				y0, y1 := int((wd.yMin-m)*sy), int(math.Ceil((wd.yMax+m)*sy))
				for y := max(0, y0); y < min(h, y1); y++ {
					for x := max(0, x0); x < min(w, x1); x++ {
						covered[y*w+x] = true
					}
				}
			}
		}
	}
	// Ink outside the words, then its 8-connected components; a
	// component is glyph-like when its box is InkMinHeight to
	// InkMaxHeight pixels high and at most InkMaxWidth wide.
	ink := make([]bool, w*h)
	for y := range h {
		for x := range w {
			if covered[y*w+x] {
				continue
			}
			bg := uint8(0)
			for k := max(0, y-radius); k <= min(h-1, y+radius); k++ {
				bg = max(bg, rows[k*w+x])
			}
			ink[y*w+x] = int(bg)-int(g.Pix[y*g.Stride+x]) >= InkContrast
		}
	}
	glyphs := 0
	var stack []int
	for start, on := range ink {
		if !on {
			continue
		}
		ink[start] = false
		stack = append(stack[:0], start)
		x0, y0, x1, y1 := w, h, -1, -1
		for len(stack) > 0 {
			q := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := q%w, q/w
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx >= 0 && nx < w && ny >= 0 && ny < h && ink[ny*w+nx] {
						ink[ny*w+nx] = false
						stack = append(stack, ny*w+nx)
					}
				}
			}
		}
		if bh := y1 - y0 + 1; bh >= minH && bh <= maxH && x1-x0+1 <= maxW {
			glyphs++
		}
	}
	return glyphs
}

// parseBBoxLayout reads pdftotext -bbox-layout's XHTML: page → flow →
// block → line → word, coordinates in points from the top left of the
// page as shown (pdftotext turns the words with /Rotate, though the page's
// width and height attributes are not turned).
func parseBBoxLayout(data []byte) ([]*pageText, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var pages []*pageText
	var cur *pageText
	var word *textWord
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "page":
				cur = &pageText{}
				pages = append(pages, cur)
			case "block":
				if cur != nil {
					cur.blocks = append(cur.blocks, nil)
				}
			case "line":
				if cur != nil && len(cur.blocks) > 0 {
					b := &cur.blocks[len(cur.blocks)-1]
					*b = append(*b, textLine{})
				}
			case "word":
				word = &textWord{}
				for _, a := range t.Attr {
					v, _ := strconv.ParseFloat(a.Value, 64)
					switch a.Name.Local {
					case "xMin":
						word.xMin = v
					case "yMin":
						word.yMin = v
					case "xMax":
						word.xMax = v
					case "yMax":
						word.yMax = v
					}
				}
			}
		case xml.CharData:
			if word != nil {
				word.s += string(t)
			}
		case xml.EndElement:
			if t.Name.Local == "word" && word != nil && cur != nil && len(cur.blocks) > 0 {
				b := cur.blocks[len(cur.blocks)-1]
				if len(b) > 0 && strings.TrimSpace(word.s) != "" {
					b[len(b)-1].words = append(b[len(b)-1].words, *word)
					cur.words++
				}
				word = nil
			}
		}
	}
	return pages, nil
}

// imageCover sums, per page, the shown area in square points of its images
// (pixels over pdfimages' x-ppi and y-ppi, which poppler computes from the
// image's placement); soft masks are not counted twice.
func imageCover(list []byte) map[int]float64 {
	// Columns: page num type width height color comp bpc enc interp
	// object ID x-ppi y-ppi size ratio.
	out := map[int]float64{}
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Fields(line)
		if len(f) < 14 || f[2] != "image" {
			continue
		}
		page, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		w, _ := strconv.ParseFloat(f[3], 64)
		h, _ := strconv.ParseFloat(f[4], 64)
		xppi, _ := strconv.ParseFloat(f[12], 64)
		yppi, _ := strconv.ParseFloat(f[13], 64)
		if xppi <= 0 || yppi <= 0 {
			continue
		}
		out[page] += (w / xppi * 72) * (h / yppi * 72)
	}
	return out
}

// onlyGlyphless reports whether pdffonts lists fonts and all of them are
// glyph-less OCR fonts (Tesseract's, OCRmyPDF's and Lector's GlyphLessFont).
func onlyGlyphless(pdffonts []byte) bool {
	lines := strings.Split(strings.TrimSpace(string(pdffonts)), "\n")
	if len(lines) < 3 {
		return false
	}
	for _, l := range lines[2:] {
		if !strings.Contains(l, "GlyphLess") {
			return false
		}
	}
	return true
}

// TextPage returns page i read from the PDF's own text under mode, or nil
// when the page is to be OCR'd. The first call reads the whole document's
// text (pdftotext, pdfimages); a timeout or a cancelled ctx is an error,
// any other failure to read the text means every page is OCR'd.
func (p *PDF) TextPage(ctx context.Context, i int, mode lector.PDFText) (*result.Page, error) {
	if mode == lector.PDFTextForce {
		return nil, nil
	}
	p.textOnce.Do(func() { p.textErr = p.readText(ctx) })
	switch {
	case p.textErr == nil:
	case ctx.Err() != nil || errcode.Of(p.textErr) == errcode.Timeout:
		return nil, p.textErr
	default: // text poppler cannot give: the pages are OCR'd
		return nil, nil
	}
	t := p.text[i]
	if !t.fromText(mode) {
		return nil, nil
	}
	s := float64(p.dpi[i]) / 72
	px := func(v float64) int { return int(math.Round(v * s)) }
	page := &result.Page{Number: i + 1, Width: p.sizes[i][0], Height: p.sizes[i][1], Engine: "pdftotext", Source: result.SourceText}
	for _, b := range t.blocks {
		blk := result.Block{Type: result.BlockText, Confidence: 100}
		para := result.Paragraph{}
		for _, l := range b {
			line := result.Line{Confidence: 100}
			for _, w := range l.words {
				box := result.Box{X0: px(w.xMin), Y0: px(w.yMin), X1: px(w.xMax), Y1: px(w.yMax)}
				line.Words = append(line.Words, result.Word{Text: w.s, Box: box, Confidence: 100})
				line.Box = line.Box.Union(box)
			}
			if len(line.Words) == 0 {
				continue
			}
			para.Lines = append(para.Lines, line)
			para.Box = para.Box.Union(line.Box)
		}
		if len(para.Lines) == 0 {
			continue
		}
		blk.Box = para.Box
		blk.Order = len(page.Blocks)
		blk.Paragraphs = []result.Paragraph{para}
		page.Blocks = append(page.Blocks, blk)
	}
	return page, nil
}

// String describes the page's text for logs and tests.
func (t *pageText) String() string {
	return fmt.Sprintf("words=%d text=%.3f images=%.3f glyphs=%d ocr_layer=%v glyphless=%v", t.words, t.textCover, t.imageCover, t.glyphs, t.ocrLayer, t.glyphless)
}
