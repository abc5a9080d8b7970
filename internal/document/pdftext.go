package document

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// The rule for a page that has both a picture and text: a page is a scan
// when images cover at least ScanImageCover of it, and its text is then
// "a little typed text" (a stamp, a form field, a page number added later)
// when its words cover under LittleTextCover of it — such a page is OCR'd,
// so that its scan is read. A page with more text than that is read from
// its text (a born-digital page with a large figure).
const (
	ScanImageCover  = 0.5
	LittleTextCover = 0.15
)

// pageText is what a PDF page's own text says about it.
type pageText struct {
	blocks     [][]textLine // blocks of lines, points of the page as shown
	words      int
	textCover  float64 // word boxes' area over the page's
	imageCover float64 // images' shown area over the page's (capped at 1)
	ocrLayer   bool    // every font of the page is a glyph-less OCR font
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
	case t.ocrLayer:
		return mode == lector.PDFTextSkip
	case t.imageCover >= ScanImageCover && t.textCover < LittleTextCover:
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
		}
	}
	p.text = pages
	return nil
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
	return fmt.Sprintf("words=%d text=%.3f images=%.3f ocr_layer=%v", t.words, t.textCover, t.imageCover, t.ocrLayer)
}
