package layout

import (
	"image"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/result"
)

func para(x, y, w int, lines ...string) result.Paragraph {
	p := result.Paragraph{}
	for i, s := range lines {
		l := result.Line{}
		x0 := x
		for _, t := range strings.Fields(s) {
			wb := result.Box{X0: x0, Y0: y + i*40, X1: x0 + 14*len(t), Y1: y + i*40 + 30}
			l.Words = append(l.Words, result.Word{Text: t, Box: wb})
			l.Box = l.Box.Union(wb)
			x0 = wb.X1 + 10
		}
		p.Lines = append(p.Lines, l)
		p.Box = p.Box.Union(l.Box)
	}
	return p
}

func blocks(ps ...result.Paragraph) []result.Block {
	var out []result.Block
	for _, p := range ps {
		out = append(out, result.Block{Type: result.BlockText, Box: p.Box, Paragraphs: []result.Paragraph{p}})
	}
	return out
}

func summary(bs []result.Block) string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b.Type)+":"+strings.Fields(b.Words())[0])
	}
	return strings.Join(out, " ")
}

// TestReadingOrderColumnsThenSection: two columns read left then right,
// and the section below them after both.
func TestReadingOrderColumnsThenSection(t *testing.T) {
	t.Parallel()
	page := &result.Page{Number: 2, Width: 1400, Height: 2000, Blocks: blocks(
		para(800, 300, 400, "Right one here", "and more of it"),
		para(100, 300, 400, "Left one here", "and more of it"),
		para(100, 420, 400, "Left two here", "and the end."),
		para(800, 420, 400, "Right two here", "and the end."),
		para(100, 700, 1000, "Below both columns the text goes on across the page."),
	)}
	got := summary(Analyze(nil, page, Options{}))
	want := "paragraph:Left paragraph:Left paragraph:Right paragraph:Right paragraph:Below"
	if got != want {
		t.Fatalf("order %s\nwant  %s", got, want)
	}
}

// TestListItemsSplitAndMarginals: a paragraph of numbered lines becomes
// one item per number; a lone number at the bottom is the page number.
func TestListItemsSplitAndMarginals(t *testing.T) {
	t.Parallel()
	page := &result.Page{Number: 3, Width: 1400, Height: 2000, Blocks: blocks(
		para(100, 300, 800, "1. Open the lid", "2. Insert the tray", "3. Close it again."),
		para(680, 1900, 40, "17"),
	)}
	got := summary(Analyze(nil, page, Options{}))
	want := "list_item:1. list_item:2. list_item:3. page_number:17"
	if got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
}

// TestRepeatedHeadersAcrossPages: the same running head on every page is a
// header, whatever its page number.
func TestRepeatedHeadersAcrossPages(t *testing.T) {
	t.Parallel()
	var pages []*result.Page
	for n := 1; n <= 3; n++ {
		pages = append(pages, &result.Page{Number: n, Width: 1400, Height: 2000, Blocks: []result.Block{
			{Type: result.BlockParagraph, Paragraphs: []result.Paragraph{para(100, 100, 900, "Annual Report 2026 page "+string(rune('0'+n)))}, Box: result.Box{X0: 100, Y0: 100, X1: 900, Y1: 130}},
			{Type: result.BlockParagraph, Paragraphs: []result.Paragraph{para(100, 500, 900, "Body text differs on page "+string(rune('0'+n)))}, Box: result.Box{X0: 100, Y0: 500, X1: 900, Y1: 530}},
		}})
	}
	Pages(pages)
	for _, p := range pages {
		if p.Blocks[0].Type != result.BlockHeader || p.Blocks[1].Type != result.BlockParagraph {
			t.Fatalf("page %d: %s, %s", p.Number, p.Blocks[0].Type, p.Blocks[1].Type)
		}
	}
}

func white(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	return g
}

func rule(g *image.Gray, x0, y0, x1, y1 int) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			g.Pix[y*g.Stride+x] = 0
		}
	}
}

// TestRowRuledTableWithOneColumnRule: a table of terms and their
// descriptions, ruled row by row with one rule between its two columns
// (and none around them), is a table, though its cells are sentences; a
// paragraph in a drawn box (one cell) is not a table, and its text stays.
func TestRowRuledTableWithOneColumnRule(t *testing.T) {
	t.Parallel()
	g := white(1400, 1000)
	var ps []result.Paragraph
	for i, row := range [][2]string{
		{"Type", "Description"},
		{"Scale", "A line of fixed length with words at its ends only"},
		{"Checklist", "A simple choice between a limited set of options"},
		{"Diary", "Events recorded as they occur in a log the patient keeps"},
	} {
		y := 100 + 80*i
		rule(g, 50, y, 1350, y+3)
		ps = append(ps, para(80, y+25, 200, row[0]), para(420, y+25, 900, row[1]))
	}
	rule(g, 50, 420, 1350, 423)
	rule(g, 390, 100, 393, 423)
	page := &result.Page{Number: 1, Width: 1400, Height: 1000, Blocks: blocks(ps...)}
	bs := Analyze(g, page, Options{})
	if len(bs) != 1 || bs[0].Type != result.BlockTable || bs[0].Table.Rows != 4 || bs[0].Table.Cols != 2 {
		var types []string
		for _, b := range bs {
			types = append(types, string(b.Type))
		}
		t.Fatalf("blocks %v, want one table of 4 rows and 2 columns", types)
	}

	g = white(1400, 1000)
	rule(g, 50, 100, 1350, 103)
	rule(g, 50, 300, 1350, 303)
	rule(g, 50, 100, 53, 303)
	rule(g, 1347, 100, 1350, 303)
	page = &result.Page{Number: 1, Width: 1400, Height: 1000, Blocks: blocks(
		para(80, 140, 1200, "Note: the figures for the last year are estimates", "and will be revised when the final count is in."))}
	paragraph := false
	for _, b := range Analyze(g, page, Options{}) {
		if b.Type == result.BlockTable {
			t.Fatalf("a boxed paragraph came out as a table: %s", b.Table.HTML)
		}
		paragraph = paragraph || b.Type == result.BlockParagraph && strings.HasPrefix(b.Words(), "Note:")
	}
	if !paragraph {
		t.Fatal("a boxed paragraph: its text is lost")
	}
}

// TestLineCutByTheCropIsNotARow: a table cropped from its page with the
// bottom of the line above still at the image's top edge (short glyph
// stumps, read as nonsense) is one table of its own rows only.
func TestLineCutByTheCropIsNotARow(t *testing.T) {
	t.Parallel()
	var ps []result.Paragraph
	stumps := result.Paragraph{Lines: []result.Line{{}}}
	for i, s := range []string{"VN", "Ved", "yw", "NAAR"} {
		w := result.Word{Text: s, Box: result.Box{X0: 40 + 200*i, Y0: 0, X1: 40 + 200*i + 60, Y1: 12}}
		stumps.Lines[0].Words = append(stumps.Lines[0].Words, w)
		stumps.Lines[0].Box = stumps.Lines[0].Box.Union(w.Box)
	}
	stumps.Box = stumps.Lines[0].Box
	ps = append(ps, stumps)
	for i, row := range [][3]string{{"Answers", "Freq.", "Percent"}, {"0", "138", "6.9"}, {"1", "178", "8.8"}, {"2", "626", "31.1"}} {
		y := 40 + 50*i
		ps = append(ps, para(40, y, 200, row[0]), para(500, y, 200, row[1]), para(900, y, 200, row[2]))
	}
	page := &result.Page{Number: 1, Width: 1200, Height: 260, Blocks: blocks(ps...)}
	bs := Analyze(nil, page, Options{})
	if len(bs) != 1 || bs[0].Type != result.BlockTable {
		t.Fatalf("%d blocks, want one table", len(bs))
	}
	if tb := bs[0].Table; tb.Rows != 4 || tb.Cols != 3 || strings.Contains(tb.HTML, "yw") {
		t.Fatalf("table %d×%d %s, want the 4×3 table without the cut line", tb.Rows, tb.Cols, tb.HTML)
	}
}

// TestParagraphSplitAtABlankLine: lines a paragraph's spacing apart in one
// of Tesseract's paragraphs (a letter's date over its greeting) are two
// paragraphs; lines whose spacing varies by a descender's worth, and
// double-spaced lines, stay one.
func TestParagraphSplitAtABlankLine(t *testing.T) {
	t.Parallel()
	// Lines 30 px tall, 40 px apart (10 px leading); body text size 30.
	letter := para(100, 100, 800, "14 March 2026", "Dear Ms Smith,")
	letter.Lines[1] = shift(letter.Lines[1], 30) // a blank line's spacing more
	body := para(100, 300, 800, "Thank you for your letter of the", "second of March about the", "library and its reading room.", "We have read it with the", "committee and will write again.")
	body.Lines[2] = shift(body.Lines[2], 12) // no ascender on the line below a line without descenders
	double := para(100, 500, 800, "Set double spaced the lines", "of this paragraph stand apart", "but evenly so they stay one.")
	for i := range double.Lines {
		double.Lines[i] = shift(double.Lines[i], 30*i)
	}
	page := &result.Page{Number: 1, Width: 1000, Height: 1000, Blocks: blocks(letter, body)}
	got := summary(Analyze(nil, page, Options{}))
	if want := "paragraph:14 paragraph:Dear paragraph:Thank"; got != want {
		t.Fatalf("blocks %s\nwant   %s", got, want)
	}
	// A page set double-spaced: its leading is 40 px, and no line stands
	// further apart.
	page = &result.Page{Number: 1, Width: 1000, Height: 1000, Blocks: blocks(double, shiftPara(body, 400))}
	for i := range page.Blocks[1].Paragraphs[0].Lines {
		page.Blocks[1].Paragraphs[0].Lines[i] = shift(page.Blocks[1].Paragraphs[0].Lines[i], 30*i)
	}
	if got, want := summary(Analyze(nil, page, Options{})), "paragraph:Set paragraph:Thank"; got != want {
		t.Fatalf("double-spaced: blocks %s\nwant   %s", got, want)
	}
}

func shiftPara(p result.Paragraph, dy int) result.Paragraph {
	ls := append([]result.Line(nil), p.Lines...)
	for i := range ls {
		ls[i] = shift(ls[i], dy)
	}
	p.Lines = ls
	p.Box.Y0, p.Box.Y1 = p.Box.Y0+dy, p.Box.Y1+dy
	return p
}

func shift(l result.Line, dy int) result.Line {
	l.Box.Y0, l.Box.Y1 = l.Box.Y0+dy, l.Box.Y1+dy
	ws := append([]result.Word(nil), l.Words...)
	for i := range ws {
		ws[i].Box.Y0, ws[i].Box.Y1 = ws[i].Box.Y0+dy, ws[i].Box.Y1+dy
	}
	l.Words = ws
	return l
}

// TestFirstBodyLineInTheTopBandIsNotAHeader: a one-page document's first
// line, in the top band but at paragraph spacing from what follows (a
// born-digital page with narrow margins, trial15's born_esc.pdf), is body
// text; a line in the band set well apart from the body is a header, and
// one likewise at the bottom a footer.
func TestFirstBodyLineInTheTopBandIsNotAHeader(t *testing.T) {
	t.Parallel()
	near := &result.Page{Number: 1, Width: 1400, Height: 2000, Blocks: blocks(
		para(100, 90, 900, "Operators and markup in cells:"),
		para(100, 150, 900, "The body goes on here for a while", "and ends on this line."),
	)}
	if got, want := summary(Analyze(nil, near, Options{})), "paragraph:Operators paragraph:The"; got != want {
		t.Fatalf("near the body: %s\nwant %s", got, want)
	}
	apart := &result.Page{Number: 1, Width: 1400, Height: 2000, Blocks: blocks(
		para(100, 40, 900, "Acme quarterly bulletin"),
		para(100, 300, 900, "The body goes on here for a while", "and ends on this line."),
		para(100, 1920, 900, "Confidential draft only"),
	)}
	if got, want := summary(Analyze(nil, apart, Options{})), "header:Acme paragraph:The footer:Confidential"; got != want {
		t.Fatalf("apart from the body: %s\nwant %s", got, want)
	}
}

// justified lays out lines as para does (14 px a character, 30 px tall,
// 40 px apart) but set justified: every line but the last is stretched to
// measure pixels, its spaces widened evenly.
func justified(x, y, measure int, lines ...string) result.Paragraph {
	p := result.Paragraph{}
	for i, s := range lines {
		fs := strings.Fields(s)
		space := 10
		if i < len(lines)-1 && len(fs) > 1 {
			chars := 0
			for _, f := range fs {
				chars += len(f)
			}
			space = (measure - 14*chars) / (len(fs) - 1)
		}
		l := result.Line{}
		x0 := x
		for _, t := range fs {
			wb := result.Box{X0: x0, Y0: y + i*40, X1: x0 + 14*len(t), Y1: y + i*40 + 30}
			l.Words = append(l.Words, result.Word{Text: t, Box: wb})
			l.Box = l.Box.Union(wb)
			x0 = wb.X1 + space
		}
		p.Lines = append(p.Lines, l)
		p.Box = p.Box.Union(l.Box)
	}
	return p
}

// fragments returns p's line i as a paragraph a word (a PDF's text layer
// gives a justified line's words as blocks of their own), and the lines
// before and after it as paragraphs.
func fragments(p result.Paragraph, i int) []result.Paragraph {
	var out []result.Paragraph
	part := func(ls []result.Line) {
		if len(ls) == 0 {
			return
		}
		q := result.Paragraph{Lines: ls}
		for _, l := range ls {
			q.Box = q.Box.Union(l.Box)
		}
		out = append(out, q)
	}
	part(p.Lines[:i])
	for _, w := range p.Lines[i].Words {
		part([]result.Line{{Box: w.Box, Words: []result.Word{w}}})
	}
	part(p.Lines[i+1:])
	return out
}

func texts(bs []result.Block) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b.Type)+": "+b.Words())
	}
	return out
}

var (
	riverText = []string{
		"Rivers are dynamic systems in which water,",
		"sediment and living organisms interact",
		"continuously. The upper reaches are usually",
		"steep and fast, with cold water rich in",
		"oxygen, while the lower reaches are slow.",
	}
	leftText = []string{
		"Compact vision models trade a small loss",
		"of accuracy for large savings",
		"in computation. In this note we compare",
		"families on two standard benchmarks.",
	}
	rightText = []string{
		"All models were trained with the same",
		"schedule of the three epochs,",
		"with identical data augmentation, so that",
		"the differences reflect the models.",
	}
)

// TestJustifiedLineIsOneLine: a justified paragraph whose second line is
// stretched to spaces wider than a column gap (56 px in 30-px text) is one
// paragraph, whether the line comes as one line (a recognition) or as a
// paragraph a word (a PDF's text layer): the lines above and below cover
// those spaces, which no column's gutter is.
func TestJustifiedLineIsOneLine(t *testing.T) {
	t.Parallel()
	p := justified(100, 200, 700, riverText...)
	if sp := p.Lines[1].Words[1].Box.X0 - p.Lines[1].Words[0].Box.X1; sp <= columnGap(30) {
		t.Fatalf("the stretched line's space is %d px, want wider than a column gap (%d)", sp, columnGap(30))
	}
	want := []string{"paragraph: " + strings.Join(riverText, " ")}
	for _, ps := range [][]result.Paragraph{{p}, fragments(p, 1)} {
		page := &result.Page{Number: 1, Width: 1000, Height: 1400, Blocks: blocks(ps...)}
		if got := texts(Analyze(nil, page, Options{ExactWords: len(ps) > 1})); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%d paragraphs in: blocks\n%s\nwant\n%s", len(ps), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestJustifiedColumns: two justified columns 80 px apart, their stretched
// lines' spaces (52 px) wider than a column gap, are two paragraphs,
// left then right — read as whole rows across both columns (the gutter
// runs down every row and splits them; the stretched spaces do not), and
// given as a PDF's text layer gives them, the stretched lines a block a
// word.
func TestJustifiedColumns(t *testing.T) {
	t.Parallel()
	left := justified(100, 200, 560, leftText...)
	right := justified(740, 200, 560, rightText...)
	for _, p := range []result.Paragraph{left, right} {
		if sp := p.Lines[1].Words[1].Box.X0 - p.Lines[1].Words[0].Box.X1; sp <= columnGap(30) || sp >= 80 {
			t.Fatalf("a stretched line's space is %d px, want wider than a column gap (%d), narrower than the gutter", sp, columnGap(30))
		}
	}
	want := []string{"paragraph: " + strings.Join(leftText, " "), "paragraph: " + strings.Join(rightText, " ")}
	across := result.Paragraph{Box: left.Box.Union(right.Box)}
	for i := range left.Lines {
		l := result.Line{Box: left.Lines[i].Box.Union(right.Lines[i].Box)}
		l.Words = append(append(l.Words, left.Lines[i].Words...), right.Lines[i].Words...)
		across.Lines = append(across.Lines, l)
	}
	cases := map[string][]result.Paragraph{
		"rows across":    {across},
		"a text layer":   append(fragments(left, 1), fragments(right, 1)...),
		"one per column": {left, right},
	}
	for name, ps := range cases {
		page := &result.Page{Number: 1, Width: 1400, Height: 1400, Blocks: blocks(ps...)}
		if got := texts(Analyze(nil, page, Options{ExactWords: name == "a text layer"})); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: blocks\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
