// Package render writes recognised pages in the formats users ask for:
// JSON (a versioned schema), plain text in reading order, Markdown
// (paragraphs; headings and list items as such), hOCR (multi-page) and a
// searchable PDF: the input's own pages with the words as an invisible text
// layer (searchable.go).
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/table"
)

// Schema names the JSON format; it changes only with incompatible changes.
const Schema = "lector.ocr/v1"

// Formats lists the formats, with their content types.
var Formats = map[string]string{
	"json": "application/json",
	"txt":  "text/plain; charset=utf-8",
	"md":   "text/markdown; charset=utf-8",
	"html": "text/html; charset=utf-8",
	"hocr": "application/xhtml+xml",
	"pdf":  "application/pdf",
}

// Document is what renderers read.
type Document struct {
	Pages []*result.Page
	// PDF is the searchable PDF made over the input (SearchablePDF,
	// ImagePDF), which the pdf format writes as it is.
	PDF []byte
	// Title names the document (the input file's name), as the html
	// format's <title>; "" leaves it empty.
	Title string
}

// Write renders doc in format to w. An unknown format is invalid_argument;
// pdf without the searchable PDF is too.
func Write(w io.Writer, format string, doc Document) error {
	switch format {
	case "json":
		return JSON(w, doc)
	case "txt":
		_, err := io.WriteString(w, Text(doc))
		return err
	case "md":
		_, err := io.WriteString(w, Markdown(doc))
		return err
	case "hocr":
		return HOCR(w, doc)
	case "html":
		return HTML(w, doc)
	case "pdf":
		return PDF(w, doc)
	}
	return errcode.New(errcode.InvalidArgument, "unknown format %q (json, txt, md, html, hocr, pdf)", format)
}

// JSON writes {"schema": Schema, "pages": [...]}: result.Page's JSON form
// (page PDFs and figure images are results of their own, not in it).
func JSON(w io.Writer, doc Document) error {
	return json.NewEncoder(w).Encode(struct {
		Schema string         `json:"schema"`
		Pages  []*result.Page `json:"pages"`
	}{Schema, doc.Pages})
}

// Text is the words in reading order: lines by newline, paragraphs by a
// blank line, pages by a form feed.
func Text(doc Document) string {
	var parts []string
	for _, p := range doc.Pages {
		parts = append(parts, p.Text())
	}
	return strings.Join(parts, "\n\f") + "\n"
}

func paraText(p result.Paragraph) string {
	ls := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		ls[i] = l.String()
	}
	return strings.Join(ls, " ")
}

// Markdown writes paragraphs as Markdown paragraphs, headings as "##" and
// title as "#", recognised tables as pipe tables; other blocks' text
// (a table block without a recognised Table among them) as paragraphs. Pages are separated by a
// rule. Recognised text is escaped (table.EscapeMarkdown) so that it renders
// as the text it is, never as markup.
func Markdown(doc Document) string {
	var b strings.Builder
	for pi, p := range doc.Pages {
		if pi > 0 {
			b.WriteString("\n---\n\n")
		}
		for _, blk := range p.Blocks {
			switch blk.Type {
			case result.BlockTable:
				if blk.Table != nil {
					b.WriteString(table.Markdown(blk.Table))
					b.WriteString("\n")
					continue
				}
				// A table block without a recognised table (the ocr
				// pipeline's: Tesseract's layout) keeps its text as
				// paragraphs, below.
			case result.BlockFigure:
				if blk.Asset != "" {
					fmt.Fprintf(&b, "![Figure](%s)\n\n", blk.Asset)
				}
				continue
			case result.BlockHeader, result.BlockFooter, result.BlockPageNumber:
				continue // page furniture, not document text
			}
			for _, para := range blk.Paragraphs {
				t := paraText(para)
				if blk.Type == result.BlockListItem {
					t = strings.TrimLeft(t, "•·▪◦*-–¢©®«» ")
				}
				t = table.EscapeMarkdown(t)
				switch blk.Type {
				case result.BlockTitle:
					t = "# " + t
				case result.BlockHeading:
					t = "## " + t
				case result.BlockListItem:
					t = "- " + t
				case result.BlockCaption:
					t = "*" + t + "*"
				}
				b.WriteString(t)
				b.WriteString("\n\n")
			}
		}
	}
	return b.String()
}

// HTML writes the document as semantic HTML: headings, paragraphs, lists,
// tables (with spans), figures with their captions' text, page furniture
// left out; doc.Title is its <title>.
func HTML(w io.Writer, doc Document) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(doc.Title) + "</title></head><body>\n")
	for _, p := range doc.Pages {
		fmt.Fprintf(&b, "<section class=\"page\" data-page=\"%d\">\n", p.Number)
		inList := false
		for _, blk := range p.Blocks {
			if blk.Type != result.BlockListItem && inList {
				b.WriteString("</ul>\n")
				inList = false
			}
			text := ""
			for _, para := range blk.Paragraphs {
				text = strings.TrimSpace(text + " " + paraText(para))
			}
			esc := html.EscapeString(text)
			switch blk.Type {
			case result.BlockTitle:
				b.WriteString("<h1>" + esc + "</h1>\n")
			case result.BlockHeading:
				b.WriteString("<h2>" + esc + "</h2>\n")
			case result.BlockListItem:
				if !inList {
					b.WriteString("<ul>\n")
					inList = true
				}
				b.WriteString("<li>" + html.EscapeString(strings.TrimLeft(text, "•·▪◦*-–¢©®«» ")) + "</li>\n")
			case result.BlockTable:
				if blk.Table != nil {
					b.WriteString(blk.Table.HTML + "\n")
					break
				}
				// Tesseract's table block (ocr pipeline), no recognised
				// table: its paragraphs.
				for _, para := range blk.Paragraphs {
					if t := paraText(para); t != "" {
						b.WriteString("<p>" + html.EscapeString(t) + "</p>\n")
					}
				}
			case result.BlockFigure:
				if blk.Asset != "" {
					fmt.Fprintf(&b, "<figure><img src=\"%s\" alt=\"\"></figure>\n", html.EscapeString(blk.Asset))
				}
			case result.BlockCaption:
				b.WriteString("<p class=\"caption\"><em>" + esc + "</em></p>\n")
			case result.BlockHeader, result.BlockFooter, result.BlockPageNumber:
			default:
				if esc != "" {
					b.WriteString("<p>" + esc + "</p>\n")
				}
			}
		}
		if inList {
			b.WriteString("</ul>\n")
		}
		b.WriteString("</section>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Assets returns the figure images the Markdown and HTML link, by name.
func Assets(doc Document) map[string][]byte {
	out := map[string][]byte{}
	for _, p := range doc.Pages {
		for _, blk := range p.Blocks {
			if blk.Asset != "" && len(blk.Image) > 0 {
				out[blk.Asset] = blk.Image
			}
		}
	}
	return out
}

// inputFrame maps boxes of a result page (the frame the engine read it in)
// back to the input image's pixels, w×h.
type inputFrame struct {
	m    [][6]float64 // layerMatrices with points = the input's pixels
	w, h int          // the input's size
	he   float64      // the result page's height (its y axis is flipped for m)
	rot  int          // Page.Rotation in [0, 360)
}

func newInputFrame(p *result.Page) inputFrame {
	rot := ((p.Rotation % 360) + 360) % 360
	w, h := p.Width, p.Height
	if rot%180 == 90 {
		w, h = h, w
	}
	return inputFrame{m: layerMatrices(p, float64(w), float64(h)), w: w, h: h, he: float64(p.Height), rot: rot}
}

// bbox writes box b, in the input's frame, as an hOCR bbox property.
func (f inputFrame) bbox(b result.Box) string {
	if len(f.m) == 1 { // neither turned nor deskewed: the frames agree
		return fmt.Sprintf("bbox %d %d %d %d", b.X0, b.Y0, b.X1, b.Y1)
	}
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]int{{b.X0, b.Y0}, {b.X1, b.Y0}, {b.X0, b.Y1}, {b.X1, b.Y1}} {
		x, y := float64(c[0]), f.he-float64(c[1]) // PDF's y-up space
		for i := len(f.m) - 1; i >= 0; i-- {      // cm concatenation: the last matrix applies first
			m := f.m[i]
			x, y = m[0]*x+m[2]*y+m[4], m[1]*x+m[3]*y+m[5]
		}
		y = float64(f.h) - y
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	cl := func(v float64, hi int) int { return max(0, min(hi, int(math.Round(v)))) }
	return fmt.Sprintf("bbox %d %d %d %d", cl(x0, f.w), cl(y0, f.h), cl(x1, f.w), cl(y1, f.h))
}

// HOCR writes one hOCR document with a div per page; a recognised table's
// cells are written as words with the cell's box (hocrTable).
//
// Boxes are in the frame of the input image, as Tesseract's own hOCR
// renderer writes them and as hOCR tools (hocr-tools, OCRmyPDF's hocrtransform,
// viewers that overlay an ocr_page on its image) expect: the page's bbox is the
// input's size, and each box is the axis-aligned hull of the result's box
// taken back through the engine's quarter turn (Page.Rotation) and deskew
// (Page.Skew unless SkewNotApplied) — the same mapping the searchable PDF's
// text layer uses (layerMatrices). On a turned page each ocr_line carries
// `textangle` (hOCR 1.2: degrees counter-clockwise of the text against the
// page; Tesseract writes it the same way), so a line read upright from a page
// turned 90° clockwise says `textangle 90`.
func HOCR(w io.Writer, doc Document) error {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title></title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name="ocr-system" content="lector"/>
  <meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word"/>
 </head>
 <body>
`)
	for pi, p := range doc.Pages {
		n := pi + 1
		fr := newInputFrame(p)
		bbox := fr.bbox
		fmt.Fprintf(&b, "  <div class=\"ocr_page\" id=\"page_%d\" title=\"bbox 0 0 %d %d; ppageno %d\">\n", n, fr.w, fr.h, pi)
		angle := ""
		if fr.rot != 0 {
			angle = fmt.Sprintf("; textangle %d", fr.rot)
		}
		ids := [4]int{}
		for _, blk := range p.Blocks {
			if blk.Table != nil {
				hocrTable(&b, n, &ids, blk, bbox)
				continue
			}
			if len(blk.Paragraphs) == 0 {
				continue
			}
			ids[0]++
			fmt.Fprintf(&b, "   <div class=\"ocr_carea\" id=\"block_%d_%d\" title=\"%s\">\n", n, ids[0], bbox(blk.Box))
			for _, para := range blk.Paragraphs {
				ids[1]++
				fmt.Fprintf(&b, "    <p class=\"ocr_par\" id=\"par_%d_%d\" title=\"%s\">\n", n, ids[1], bbox(para.Box))
				for _, l := range para.Lines {
					ids[2]++
					fmt.Fprintf(&b, "     <span class=\"ocr_line\" id=\"line_%d_%d\" title=\"%s%s\">", n, ids[2], bbox(l.Box), angle)
					for _, wd := range l.Words {
						ids[3]++
						fmt.Fprintf(&b, "<span class=\"ocrx_word\" id=\"word_%d_%d\" title=\"%s; x_wconf %.0f\">%s</span> ", n, ids[3], bbox(wd.Box), wd.Confidence, html.EscapeString(wd.Text))
					}
					b.WriteString("</span>\n")
				}
				b.WriteString("    </p>\n")
			}
			b.WriteString("   </div>\n")
		}
		b.WriteString("  </div>\n")
	}
	b.WriteString(" </body>\n</html>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// hocrTable writes a recognised table's cells: the table an ocr_carea,
// each non-empty cell an ocr_par holding one ocr_line and one ocrx_word with
// the cell's box and text (cells carry no word boxes; the block's
// confidence stands for the word's).
func hocrTable(b *bytes.Buffer, n int, ids *[4]int, blk result.Block, bbox func(result.Box) string) {
	ids[0]++
	fmt.Fprintf(b, "   <div class=\"ocr_carea\" id=\"block_%d_%d\" title=\"%s\">\n", n, ids[0], bbox(blk.Box))
	for _, c := range blk.Table.Cells {
		if strings.TrimSpace(c.Text) == "" {
			continue
		}
		ids[1]++
		ids[2]++
		ids[3]++
		fmt.Fprintf(b, "    <p class=\"ocr_par\" id=\"par_%d_%d\" title=\"%s\">\n", n, ids[1], bbox(c.Box))
		fmt.Fprintf(b, "     <span class=\"ocr_line\" id=\"line_%d_%d\" title=\"%s\">", n, ids[2], bbox(c.Box))
		fmt.Fprintf(b, "<span class=\"ocrx_word\" id=\"word_%d_%d\" title=\"%s; x_wconf %.0f\">%s</span> </span>\n", n, ids[3], bbox(c.Box), blk.Confidence, html.EscapeString(c.Text))
		b.WriteString("    </p>\n")
	}
	b.WriteString("   </div>\n")
}

// PDF writes the document's searchable PDF (made over the input by
// SearchablePDF or ImagePDF); without one it is invalid_argument.
func PDF(w io.Writer, doc Document) error {
	if len(doc.PDF) == 0 {
		return errcode.New(errcode.InvalidArgument, "no searchable PDF was made (it was not asked for)")
	}
	_, err := w.Write(doc.PDF)
	return err
}
