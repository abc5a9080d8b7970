package render

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

func word(t string, x int) result.Word {
	return result.Word{Text: t, Box: result.Box{X0: x, Y0: 10, X1: x + 40, Y1: 30}, Confidence: 91}
}

func doc() Document {
	p1 := &result.Page{Number: 1, Width: 100, Height: 200, Blocks: []result.Block{
		{Type: result.BlockHeading, Paragraphs: []result.Paragraph{{Lines: []result.Line{{Words: []result.Word{word("Title", 0)}}}}}},
		{Type: result.BlockText, Paragraphs: []result.Paragraph{{Lines: []result.Line{
			{Words: []result.Word{word("a", 0), word("<b>", 50)}},
			{Words: []result.Word{word("c", 0)}},
		}}}},
		{Type: result.BlockFigure},
	}}
	p2 := &result.Page{Number: 2, Width: 100, Height: 200, Blocks: []result.Block{
		{Type: result.BlockText, Paragraphs: []result.Paragraph{{Lines: []result.Line{{Words: []result.Word{word("end", 0)}}}}}},
	}}
	return Document{Pages: []*result.Page{p1, p2}, PDF: []byte("%PDF-")}
}

func TestText(t *testing.T) {
	t.Parallel()
	if got, want := Text(doc()), "Title\n\na <b>\nc\n\fend\n"; got != want {
		t.Fatalf("Text = %q, want %q", got, want)
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	if got, want := Markdown(doc()), "## Title\n\na \\<b\\> c\n\n\n---\n\nend\n\n"; got != want {
		t.Fatalf("Markdown = %q, want %q", got, want)
	}
}

func TestJSONIsVersionedAndLeavesPDFsOut(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := JSON(&buf, doc()); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Schema string           `json:"schema"`
		Pages  []map[string]any `json:"pages"`
	}
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Schema != Schema || len(v.Pages) != 2 || v.Pages[1]["pdf"] != nil {
		t.Fatalf("JSON %s", buf.String())
	}
}

func TestHOCRIsWellFormedWithEveryWord(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := HOCR(&buf, doc()); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	pages, words := 0, []string{}
	inWord := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			for _, a := range e.Attr {
				if a.Name.Local == "class" && a.Value == "ocr_page" {
					pages++
				}
				if a.Name.Local == "class" && a.Value == "ocrx_word" {
					inWord = true
				}
			}
		case xml.CharData:
			if inWord {
				words = append(words, string(e))
				inWord = false
			}
		}
	}
	if pages != 2 || strings.Join(words, " ") != "Title a <b> c end" || !strings.Contains(buf.String(), "x_wconf 91") {
		t.Fatalf("%d pages, words %q\n%s", pages, words, buf.String())
	}
}

func TestPDFNeedsTheSearchablePDF(t *testing.T) {
	t.Parallel()
	if err := PDF(&bytes.Buffer{}, Document{Pages: doc().Pages}); errcode.Of(err) != errcode.InvalidArgument {
		t.Fatalf("err = %v", err)
	}
	if err := Write(&bytes.Buffer{}, "docx", doc()); errcode.Of(err) != errcode.InvalidArgument {
		t.Fatalf("unknown format: %v", err)
	}
}

// Tesseract's layout (the ocr pipeline) calls some regions tables without
// recognising a table in them: their paragraphs must still be written.
func TestTableBlockWithoutTableKeepsItsText(t *testing.T) {
	t.Parallel()
	d := Document{Pages: []*result.Page{{Number: 1, Width: 100, Height: 100, Blocks: []result.Block{
		{Type: result.BlockTable, Paragraphs: []result.Paragraph{
			{Lines: []result.Line{{Words: []result.Word{word("alpha", 0), word("beta", 50)}}}},
			{Lines: []result.Line{{Words: []result.Word{word("<gamma>", 0)}}}},
		}},
	}}}}
	if got, want := Markdown(d), "alpha beta\n\n\\<gamma\\>\n\n"; got != want {
		t.Fatalf("Markdown = %q, want %q", got, want)
	}
	var buf bytes.Buffer
	if err := HTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<p>alpha beta</p>\n<p>&lt;gamma&gt;</p>") {
		t.Fatalf("HTML lacks the table block's paragraphs:\n%s", buf.String())
	}
}

func tableDoc() Document {
	tb := &result.Table{Rows: 2, Cols: 3, HeaderRows: 1, Cells: []result.Cell{
		{Row: 0, Col: 0, RowSpan: 1, ColSpan: 1, Text: "Name", Box: result.Box{X0: 0, Y0: 40, X1: 30, Y1: 50}},
		{Row: 0, Col: 1, RowSpan: 1, ColSpan: 2, Text: "Value & unit", Box: result.Box{X0: 30, Y0: 40, X1: 90, Y1: 50}},
		{Row: 1, Col: 0, RowSpan: 1, ColSpan: 1, Text: "", Box: result.Box{X0: 0, Y0: 50, X1: 30, Y1: 60}},
		{Row: 1, Col: 1, RowSpan: 1, ColSpan: 1, Text: "3", Box: result.Box{X0: 30, Y0: 50, X1: 60, Y1: 60}},
		{Row: 1, Col: 2, RowSpan: 1, ColSpan: 1, Text: "kg", Box: result.Box{X0: 60, Y0: 50, X1: 90, Y1: 60}},
	}}
	return Document{Pages: []*result.Page{{Number: 1, Width: 100, Height: 100, Blocks: []result.Block{
		{Type: result.BlockHeading, Paragraphs: []result.Paragraph{{Lines: []result.Line{{Words: []result.Word{word("Before", 0)}}}}}},
		{Type: result.BlockTable, Box: result.Box{X0: 0, Y0: 40, X1: 90, Y1: 60}, Confidence: 88, Table: tb},
		{Type: result.BlockText, Paragraphs: []result.Paragraph{{Lines: []result.Line{{Words: []result.Word{word("After", 0)}}}}}},
	}}}}
}

// A structure result's table cells carry its text: txt writes a row per
// line, cells separated by tabs, in reading order with the other blocks.
func TestTextWritesTableCells(t *testing.T) {
	t.Parallel()
	if got, want := Text(tableDoc()), "Before\n\nName\tValue & unit\n\t3\tkg\n\nAfter\n"; got != want {
		t.Fatalf("Text = %q, want %q", got, want)
	}
}

func TestHOCRWritesTableCellsWithTheirBoxes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := HOCR(&buf, tableDoc()); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{
		`title="bbox 30 40 90 50; x_wconf 88">Value &amp; unit</span>`,
		`title="bbox 60 50 90 60; x_wconf 88">kg</span>`,
		">Before</span>", ">After</span>",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("hOCR lacks %q:\n%s", want, s)
		}
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Entity = xml.HTMLEntity
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
	}
}

// Recognised text that looks like Markdown is escaped in paragraphs,
// headings, list items and table cells (trial15's born_esc.pdf): it must
// render as the text, not as bold, italics, HTML or a heading.
func TestMarkdownEscapesRecognisedText(t *testing.T) {
	t.Parallel()
	line := func(ws ...string) []result.Paragraph {
		var l result.Line
		for i, w := range ws {
			l.Words = append(l.Words, word(w, 50*i))
		}
		return []result.Paragraph{{Lines: []result.Line{l}}}
	}
	tb := &result.Table{Rows: 2, Cols: 2, HeaderRows: 1, Cells: []result.Cell{
		{Row: 0, Col: 0, RowSpan: 1, ColSpan: 1, Text: "Expr"},
		{Row: 0, Col: 1, RowSpan: 1, ColSpan: 1, Text: "Meaning"},
		{Row: 1, Col: 0, RowSpan: 1, ColSpan: 1, Text: "x < y && y > z"},
		{Row: 1, Col: 1, RowSpan: 1, ColSpan: 1, Text: "<b>bold</b>"},
	}}
	d := Document{Pages: []*result.Page{{Number: 1, Width: 100, Height: 100, Blocks: []result.Block{
		{Type: result.BlockHeading, Paragraphs: line("#1", "*not", "italic*")},
		{Type: result.BlockText, Paragraphs: line("_under_", "score,", "snake_case", "[link](x)", "`code`", "a\\b", "&amp;", "x&&y", "&#42;")},
		{Type: result.BlockText, Paragraphs: line("1.", "not", "a", "list")},
		{Type: result.BlockText, Paragraphs: line("-", "not", "an", "item.", "Fine.")},
		{Type: result.BlockListItem, Paragraphs: line("•", "# not a heading")},
		{Type: result.BlockTable, Table: tb},
	}}}}
	want := "## \\#1 \\*not italic\\*\n\n" +
		"\\_under\\_ score, snake_case \\[link\\](x) \\`code\\` a\\\\b \\&amp; x&&y \\&#42;\n\n" +
		"1\\. not a list\n\n" +
		"\\- not an item. Fine.\n\n" +
		"- \\# not a heading\n\n" +
		"| Expr | Meaning |\n| --- | --- |\n| x \\< y && y \\> z | \\<b\\>bold\\</b\\> |\n\n"
	if got := Markdown(d); got != want {
		t.Fatalf("Markdown =\n%s\nwant\n%s", got, want)
	}
}

// TestHOCRBoxesAreInTheInputsFrame: a page the engine turned upright (an
// input 300 wide and 100 high, read turned 90° clockwise, so the result is
// 100×300) is written with the input's size and its boxes taken back onto
// the input, lines marked with textangle; an upright page is unchanged.
func TestHOCRBoxesAreInTheInputsFrame(t *testing.T) {
	t.Parallel()
	// Upright frame: a word at x 10..50, y 20..40 of the 100×300 page.
	// Turned back (u = y, v = W − x): u 20..40, v 50..90 of the 300×100 input.
	w := result.Word{Text: "up", Box: result.Box{X0: 10, Y0: 20, X1: 50, Y1: 40}, Confidence: 90}
	page := func(rot int) *result.Page {
		return &result.Page{Number: 1, Width: 100, Height: 300, Rotation: rot, Blocks: []result.Block{{Type: result.BlockText, Box: w.Box,
			Paragraphs: []result.Paragraph{{Box: w.Box, Lines: []result.Line{{Box: w.Box, Words: []result.Word{w}}}}}}}}
	}
	cases := []struct {
		rot        int
		page, word string
		angle      bool
	}{
		{0, "bbox 0 0 100 300", "bbox 10 20 50 40", false},
		{90, "bbox 0 0 300 100", "bbox 20 50 40 90", true},
		{180, "bbox 0 0 100 300", "bbox 50 260 90 280", true},
		{270, "bbox 0 0 300 100", "bbox 260 10 280 50", true},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := HOCR(&buf, Document{Pages: []*result.Page{page(c.rot)}}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, `title="`+c.page+`; ppageno 0"`) || !strings.Contains(out, `title="`+c.word+`; x_wconf 90"`) {
			t.Errorf("rotation %d: want page %q and word %q in\n%s", c.rot, c.page, c.word, out)
		}
		if got := strings.Contains(out, fmt.Sprintf("; textangle %d", c.rot)); got != c.angle {
			t.Errorf("rotation %d: textangle present %v, want %v", c.rot, got, c.angle)
		}
	}
}

// TestHOCRUndoesTheDeskew: a deskewed page's boxes are turned back about the
// page's centre as the searchable PDF's words are; a page whose skew was not
// applied (ppocr) keeps its boxes.
func TestHOCRUndoesTheDeskew(t *testing.T) {
	t.Parallel()
	w := result.Word{Text: "edge", Box: result.Box{X0: 0, Y0: 0, X1: 100, Y1: 10}, Confidence: 90}
	p := &result.Page{Number: 1, Width: 200, Height: 200, Skew: 2, Blocks: []result.Block{{Type: result.BlockText,
		Paragraphs: []result.Paragraph{{Lines: []result.Line{{Words: []result.Word{w}}}}}}}}
	var buf bytes.Buffer
	if err := HOCR(&buf, Document{Pages: []*result.Page{p}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `"bbox 0 0 100 10; x_wconf`) {
		t.Errorf("deskewed page's word kept its deskewed box:\n%s", buf.String())
	}
	p.SkewNotApplied = true
	buf.Reset()
	if err := HOCR(&buf, Document{Pages: []*result.Page{p}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"bbox 0 0 100 10; x_wconf`) {
		t.Errorf("skew_not_applied page's word moved:\n%s", buf.String())
	}
}
