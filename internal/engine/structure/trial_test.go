package structure

import (
	"image"
	"image/color"
	"image/draw"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/image/font"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/result"
)

// Tests of the results a new user's first trial got wrong (issue 15), on
// documents drawn here as the trial's were made: screenshots of HTML
// tables and letters.

// rect fills a rectangle black (1-pixel rules of a screenshot).
func (p *page) rect(x0, y0, x1, y1 int) {
	draw.Draw(p.img, image.Rect(x0, y0, x1, y1), &image.Uniform{color.Black}, image.Point{}, draw.Src)
}

// TestSmallRuledTableWordsInTheirCells: a screenshot of a ruled table in
// small print (10 and 12 px, 2 px cell padding, 1 px rules, each column as
// wide as its longest text: about 330 px wide) has every word in its own
// cell. The recogniser reads two neighbouring cells' words as one across
// the rule ("license/300") and a rule touching a word with it ("[120");
// before, "300" landed in the description's cell and the rate's was empty.
func TestSmallRuledTableWordsInTheirCells(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"Code", "Description", "Rate", "Amount"}, {"A17", "Consulting fee", "120", "2400"}, {"B22", "Travel expenses", "85", "340"}, {"C09", "Software license", "300", "900"}, {"D41", "Support hours", "95", "1140"}}
	for _, size := range []float64{10, 12} {
		const pad = 2
		p := newPage(t, 10, 10)
		xs := []int{6}
		for c := range rows[0] {
			w := 0
			for _, row := range rows {
				d := font.Drawer{Face: p.face(size, false)}
				w = max(w, d.MeasureString(row[c]).Round()+2*pad+1)
			}
			xs = append(xs, xs[c]+w)
		}
		rh := int(size*1.2) + 2*pad + 1
		p = newPage(t, xs[4]+7, rh*len(rows)+13)
		for r := 0; r <= len(rows); r++ {
			p.rect(6, 6+r*rh, xs[4]+1, 6+r*rh+1)
		}
		for _, x := range xs {
			p.rect(x, 6, x+1, 6+len(rows)*rh+1)
		}
		for r, row := range rows {
			for c, s := range row {
				p.text(xs[c]+1+pad, 6+r*rh+1+pad+int(size*0.95), size, r == 0, s)
			}
		}
		tb := onlyTable(t, analyse(t, p, engine.Options{}))
		cells := cellsOf(tb)
		if tb.Rows != 5 || tb.Cols != 4 || len(cells) != 20 {
			t.Fatalf("%v px: table %d×%d, %d cells, want 5×4: %s", size, tb.Rows, tb.Cols, len(cells), tb.HTML)
		}
		if got := strings.Join(cells[:4], "|"); got != strings.Join(rows[0], "|") {
			t.Errorf("%v px: header %s, want %s", size, got, strings.Join(rows[0], "|"))
		}
		// The text of small print may be misread ("8S", and a rule read as
		// "1/" stays: "1/2" is text), where it lands may not.
		for r := 1; r < 5; r++ {
			desc, rate, amount := cells[r*4+1], cells[r*4+2], cells[r*4+3]
			if strings.ContainsFunc(desc, unicode.IsDigit) || rate == "" || amount == "" ||
				strings.ContainsAny(rate+amount, "|[]{}") {
				t.Errorf("%v px: row %d read %q | %q | %q, want the description, the rate and the amount each in its cell", size, r, desc, rate, amount)
			}
		}
	}
}

// TestLetterDateAndGreetingApart: a screenshot of a letter (18 px print,
// lines 22 px apart, paragraphs a line's height apart) comes out a
// paragraph per paragraph: the date and the greeting, a blank line apart,
// had come out as one; the body's paragraphs of several lines, and the
// signature's name and title set line under line, stay whole.
func TestLetterDateAndGreetingApart(t *testing.T) {
	t.Parallel()
	paras := [][]string{
		{"14 March 2026"},
		{"Dear Ms Smith,"},
		{"Thank you for your letter of 2 March about the renovation of the",
			"community library. We have read the proposal with the committee and",
			"are pleased to confirm that the work can begin in April."},
		{"The contractor has agreed to finish the reading room first, so that",
			"the children's section can open again before the summer holidays."},
		{"Yours sincerely,"},
		{"Robert Hale", "Secretary"},
	}
	p := newPage(t, 740, 420)
	y := 40
	for _, para := range paras {
		for _, l := range para {
			p.text(30, y, 18, false, l)
			y += 22
		}
		y += 18
	}
	out := analyse(t, p, engine.Options{})
	var got []string
	for _, b := range out.Blocks {
		got = append(got, b.Words())
	}
	var want []string
	for _, para := range paras {
		want = append(want, strings.Join(para, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("blocks (%s):\n%s\nwant a block a paragraph:\n%s", blockTypes(out), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTextPageCodesTableRowsStay: a page given its own words (a
// born-digital PDF's text layer) holding a two-column table of codes —
// "|", "a|b" and "||" beside lower-case one-word meanings — keeps a row a
// line and every cell's exact text: the row "a|b or" had joined the row
// "| pipe" above it as a wrapped line.
func TestTextPageCodesTableRowsStay(t *testing.T) {
	t.Parallel()
	p := newPage(t, 1275, 700)
	text := &result.Page{Width: 1275, Height: 700, Source: result.SourceText}
	rows := [][]string{{"Flag", "Meaning"}, {"x", "y"}, {"|", "pipe"}, {"a|b", "or"}, {"||", "either"}}
	for r, row := range rows {
		for c, s := range row {
			w := p.word(150+c*300, 150+r*60, 30, s)
			l := result.Line{Box: w.Box, Words: []result.Word{w}, Confidence: 100}
			text.Blocks = append(text.Blocks, result.Block{Type: result.BlockText, Box: w.Box, Confidence: 100,
				Paragraphs: []result.Paragraph{{Box: w.Box, Lines: []result.Line{l}}}})
		}
	}
	out := analyse(t, p, engine.Options{}, text)
	tb := onlyTable(t, out)
	var want []string
	for _, row := range rows {
		want = append(want, row...)
	}
	if got := strings.Join(cellsOf(tb), " ¦ "); tb.Rows != len(rows) || tb.Cols != 2 || got != strings.Join(want, " ¦ ") {
		t.Fatalf("table %d×%d: %s\nwant %d×2: %s", tb.Rows, tb.Cols, got, len(rows), strings.Join(want, " ¦ "))
	}
}
