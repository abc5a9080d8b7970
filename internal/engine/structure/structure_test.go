package structure

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/result"
)

// page draws test documents: text in Go's fonts, ruling lines, at sizes
// Tesseract reads well.
type page struct {
	img *image.Gray
	t   testing.TB
}

func newPage(t testing.TB, w, h int) *page {
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	return &page{img: img, t: t}
}

func (p *page) face(size float64, bold bool) font.Face {
	data := goregular.TTF
	if bold {
		data = gobold.TTF
	}
	f, err := opentype.Parse(data)
	if err != nil {
		p.t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		p.t.Fatal(err)
	}
	return face
}

// text draws s with its baseline at (x, y).
func (p *page) text(x, y int, size float64, bold bool, s string) {
	d := font.Drawer{Dst: p.img, Src: image.Black, Face: p.face(size, bold), Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// hline and vline draw 3-pixel rules.
func (p *page) hline(x0, x1, y int) {
	draw.Draw(p.img, image.Rect(x0, y-1, x1, y+2), &image.Uniform{color.Black}, image.Point{}, draw.Src)
}

func (p *page) vline(x, y0, y1 int) {
	draw.Draw(p.img, image.Rect(x-1, y0, x+2, y1), &image.Uniform{color.Black}, image.Point{}, draw.Src)
}

func (p *page) png() []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, p.img); err != nil {
		p.t.Fatal(err)
	}
	return buf.Bytes()
}

// analyse runs the structure engine (Tesseract in-process) on the page,
// given its own text when text is given.
func analyse(t *testing.T, p *page, opts engine.Options, text ...*result.Page) *result.Page {
	t.Helper()
	out, _ := process(t, Engine{Tesseract: tesseract.Engine{PageTimeout: time.Minute}}, p, opts, text...)
	return out
}

// process loads structure:default from e (Tesseract in-process), runs it
// on the page (with its own text when text is given) and returns the page
// and the model, closed.
func process(t *testing.T, e Engine, p *page, opts engine.Options, text ...*result.Page) (*result.Page, engine.Model) {
	t.Helper()
	if len(tesseract.Languages(tesseract.DataDir(""))) == 0 {
		t.Skip("skipping: no Tesseract language data (make setup installs it)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, err := e.Load(context.Background(), engine.Spec{Model: "structure:default", Config: "default", Device: "cpu", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h, err := m.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	b := p.img.Bounds()
	im := engine.Image{Number: 1, Width: b.Dx(), Height: b.Dy(), Format: "png", Data: p.png()}
	if len(text) > 0 {
		im.Text = text[0]
	}
	out, err := h.Process(context.Background(), im, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

// TestTwoColumnsHeadingsAndAList: a title, a heading, two columns of
// paragraphs and a numbered list come out typed, in reading order: the
// whole left column before the right one.
func TestTwoColumnsHeadingsAndAList(t *testing.T) {
	t.Parallel()
	p := newPage(t, 1700, 2000)
	p.text(120, 150, 64, true, "Quarterly Review")
	p.text(120, 300, 44, true, "Introduction")
	left := []string{"The left column opens", "with this paragraph and", "runs down the page in", "several short lines."}
	right := []string{"The right column is read", "only after the left one", "has ended, as readers", "of newspapers expect."}
	for i, s := range left {
		p.text(120, 420+i*50, 32, false, s)
	}
	for i, s := range right {
		p.text(900, 420+i*50, 32, false, s)
	}
	p.text(120, 800, 44, true, "Findings")
	items := []string{"1. Revenue grew in every region.", "2. Costs fell for the third time.", "3. The outlook remains steady."}
	for i, s := range items {
		p.text(120, 900+i*70, 32, false, s)
	}
	out := analyse(t, p, engine.Options{})
	var got []string
	for _, b := range out.Blocks {
		got = append(got, string(b.Type)+": "+b.Words())
	}
	want := []string{
		"title: Quarterly Review",
		"heading: Introduction",
		"paragraph: " + strings.Join(left, " "),
		"paragraph: " + strings.Join(right, " "),
		"heading: Findings",
		"list_item: " + items[0],
		"list_item: " + items[1],
		"list_item: " + items[2],
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("blocks in reading order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, b := range out.Blocks {
		if b.Order != i {
			t.Fatalf("block %d has order %d", i, b.Order)
		}
	}
}

func cellsOf(t *result.Table) []string {
	var out []string
	for _, c := range t.Cells {
		s := c.Text
		if c.ColSpan > 1 || c.RowSpan > 1 {
			s += "[" + string(rune('0'+c.RowSpan)) + "x" + string(rune('0'+c.ColSpan)) + "]"
		}
		out = append(out, s)
	}
	return out
}

func onlyTable(t *testing.T, out *result.Page) *result.Table {
	t.Helper()
	var tables []*result.Table
	for _, b := range out.Blocks {
		if b.Type == result.BlockTable {
			tables = append(tables, b.Table)
		}
	}
	if len(tables) != 1 {
		t.Fatalf("%d tables found, want 1; blocks: %+v", len(tables), out.Blocks)
	}
	return tables[0]
}

// TestRuledTableWithMergedHeader: a ruled grid whose header cell has no
// rule under... beside it spans two columns; every cell's text comes from
// the page's words.
func TestRuledTableWithMergedHeader(t *testing.T) {
	t.Parallel()
	p := newPage(t, 1400, 900)
	p.text(100, 120, 32, false, "Results of the spring term are below.")
	xs := []int{100, 400, 650, 900, 1200}
	ys := []int{200, 290, 380, 470}
	for _, y := range ys {
		p.hline(xs[0], xs[4], y)
	}
	for i, x := range xs {
		if i == 2 { // no rule between the two score columns in the header row
			p.vline(x, ys[1], ys[3])
			continue
		}
		p.vline(x, ys[0], ys[3])
	}
	p.text(130, 260, 32, true, "Student")
	p.text(560, 260, 32, true, "Scores")
	p.text(930, 260, 32, true, "Total")
	for r, row := range [][]string{{"Alice", "41", "38", "79"}, {"Bruno", "35", "44", "79"}} {
		for c, s := range row {
			p.text(xs[c]+30, ys[r+1]+60, 32, false, s)
		}
	}
	tb := onlyTable(t, analyse(t, p, engine.Options{}))
	if !tb.Ruled || tb.Rows != 3 || tb.Cols != 4 || tb.HeaderRows != 1 {
		t.Fatalf("table: ruled %v, %d×%d, header %d: %s", tb.Ruled, tb.Rows, tb.Cols, tb.HeaderRows, tb.HTML)
	}
	want := "Student|Scores[1x2]|Total|Alice|41|38|79|Bruno|35|44|79"
	if got := strings.Join(cellsOf(tb), "|"); got != want {
		t.Fatalf("cells %s\nwant  %s\n%s", got, want, tb.HTML)
	}
	if !strings.Contains(tb.HTML, `<th colspan="2">Scores</th>`) || !strings.HasPrefix(tb.HTML, "<table><thead><tr>") {
		t.Fatalf("html: %s", tb.HTML)
	}
}

// TestBorderlessTable: columns from the words' alignment, the header above
// the rule under it, no spans: a Markdown pipe table.
func TestBorderlessTable(t *testing.T) {
	t.Parallel()
	p := newPage(t, 1300, 700)
	xs := []int{100, 520, 860}
	rows := [][]string{{"City", "Population", "Area"}, {"Lisbon", "545923", "100"}, {"Porto", "231800", "41"}, {"Braga", "193333", "183"}}
	p.hline(90, 1100, 110)
	p.hline(90, 1100, 185)
	for r, row := range rows {
		y := 160 + r*80
		if r > 0 {
			y += 20
		}
		for c, s := range row {
			p.text(xs[c], y, 34, r == 0, s)
		}
	}
	p.hline(90, 1100, 500)
	out := analyse(t, p, engine.Options{})
	tb := onlyTable(t, out)
	if tb.Ruled || tb.Rows != 4 || tb.Cols != 3 || tb.HeaderRows != 1 {
		t.Fatalf("table: ruled %v, %d×%d, header %d: %s", tb.Ruled, tb.Rows, tb.Cols, tb.HeaderRows, tb.HTML)
	}
	want := "City|Population|Area|Lisbon|545923|100|Porto|231800|41|Braga|193333|183"
	if got := strings.Join(cellsOf(tb), "|"); got != want {
		t.Fatalf("cells %s\nwant  %s", got, want)
	}
}

// TestFigureIsCropped: a picture on a page of text becomes a figure block
// with its PNG, between the paragraphs around it in reading order.
func TestFigureIsCropped(t *testing.T) {
	t.Parallel()
	p := newPage(t, 1400, 1600)
	p.text(100, 150, 32, false, "The chart below shows the results.")
	for y := 250; y < 850; y++ {
		for x := 200; x < 1100; x++ {
			p.img.Pix[y*p.img.Stride+x] = uint8(128 + 100*((x/20+y/30)%2))
		}
	}
	p.text(100, 950, 32, false, "It is followed by this closing remark.")
	out := analyse(t, p, engine.Options{})
	var types []string
	for _, b := range out.Blocks {
		types = append(types, string(b.Type))
	}
	if strings.Join(types, ",") != "paragraph,figure,paragraph" {
		t.Fatalf("blocks %v, want paragraph, figure, paragraph", types)
	}
	fig := out.Blocks[1]
	im, err := png.Decode(bytes.NewReader(fig.Image))
	if err != nil {
		t.Fatalf("figure image: %v", err)
	}
	if b := fig.Box; b.X0 > 210 || b.Y0 > 260 || b.X1 < 1090 || b.Y1 < 840 || b.Width() > 1000 || b.Height() > 700 {
		t.Fatalf("figure box %+v, want about 200,250-1100,850", b)
	}
	if im.Bounds().Dx() < 800 {
		t.Fatalf("crop %v", im.Bounds())
	}
}

// word draws s with its baseline at (x, y) and returns it as a word with
// its box, as a PDF's text layer gives it.
func (p *page) word(x, y int, size float64, s string) result.Word {
	face := p.face(size, false)
	b, _ := font.BoundString(face, s)
	p.text(x, y, size, false, s)
	m := face.Metrics()
	return result.Word{Text: s, Confidence: 100, Box: result.Box{X0: x + b.Min.X.Floor(), Y0: y - m.Ascent.Ceil(), X1: x + b.Max.X.Ceil(), Y1: y + m.Descent.Ceil()}}
}

// TestPageGivenItsTextKeepsItsWords: a page given its own words (a
// PDF's text layer, one block per cell as pdftotext groups them) keeps
// them as they are, and its borderless table is found from Tesseract's
// layout analysis of the image, as on a recognised page: a table whose
// cells are the given words, exactly, after the paragraph above it.
func TestPageGivenItsTextKeepsItsWords(t *testing.T) {
	t.Parallel()
	p := newPage(t, 2400, 2200)
	text := &result.Page{Width: 2400, Height: 2200, Source: result.SourceText}
	block := func(ws ...result.Word) {
		l := result.Line{Words: ws, Confidence: 100}
		for _, w := range ws {
			l.Box = l.Box.Union(w.Box)
		}
		para := result.Paragraph{Box: l.Box, Lines: []result.Line{l}}
		text.Blocks = append(text.Blocks, result.Block{Type: result.BlockText, Box: l.Box, Confidence: 100, Paragraphs: []result.Paragraph{para}})
	}
	intro := []string{"Each", "code", "below", "is", "printed", "in", "a", "font", "where", "letters", "and", "digits", "look", "alike."}
	var ws []result.Word
	x := 150
	for _, s := range intro {
		w := p.word(x, 200, 40, s)
		ws = append(ws, w)
		x = w.Box.X1 + 22
	}
	block(ws...)
	rows := [][]string{{"Type", "Code", "Lot", "Status"}}
	for i := range 12 {
		rows = append(rows, []string{[]string{"PISTOL", "RIFLE", "SHOTGUN"}[i%3], []string{"Il1O0", "O0Il1", "lI0O1", "1lIO0"}[i%4], "SJ" + strings.Repeat("1", i%3+1) + "0" + string(rune('A'+i)), "FOUND"})
	}
	xs := []int{150, 700, 1250, 1800}
	for r, row := range rows {
		for c, s := range row {
			block(p.word(xs[c], 400+r*110, 36, s))
		}
	}
	out := analyse(t, p, engine.Options{}, text)
	if out.Source != result.SourceText || out.Engine != "structure:default" {
		t.Fatalf("source %q, engine %q", out.Source, out.Engine)
	}
	var types []string
	var tb *result.Table
	for _, b := range out.Blocks {
		types = append(types, string(b.Type))
		if b.Table != nil {
			tb = b.Table
		}
	}
	// Tesseract's region may leave out the last row or so (it then reads
	// as lines below the table, as on a recognised page).
	if tb == nil || tb.Rows < 10 || tb.Rows > len(rows) || tb.Cols != 4 {
		t.Fatalf("blocks %v; table %+v, want 10 to %d rows × 4", types, tb, len(rows))
	}
	var want []string
	for _, row := range rows[:tb.Rows] {
		want = append(want, row...)
	}
	if got := strings.Join(cellsOf(tb), "|"); got != strings.Join(want, "|") {
		t.Fatalf("cells %s\nwant  %s", got, strings.Join(want, "|"))
	}
	if got := out.Blocks[0].Words(); got != strings.Join(intro, " ") {
		t.Fatalf("first block %s %q", out.Blocks[0].Type, got)
	}
}

// blockTypes lists out's block types in reading order.
func blockTypes(out *result.Page) string {
	var types []string
	for i, b := range out.Blocks {
		if b.Order != i {
			return "order out of place"
		}
		types = append(types, string(b.Type))
	}
	return strings.Join(types, ",")
}

// TestCroppedTableIsOneTable: a small image that is only a table (a crop
// of an article's table in small print, rules above, under the header and
// below, as PubTabNet's are) comes out as exactly one table block, with
// nobody telling the engine it is a table.
func TestCroppedTableIsOneTable(t *testing.T) {
	t.Parallel()
	p := newPage(t, 560, 210)
	xs := []int{12, 200, 320, 440}
	rows := [][]string{{"Group", "Cases", "Mean", "Range"}, {"Control", "41", "12.5", "8-17"}, {"Treated", "38", "14.2", "9-21"}, {"Placebo", "40", "11.9", "7-16"}, {"Total", "119", "12.9", "7-21"}}
	p.hline(6, 554, 12)
	p.hline(6, 554, 46)
	for r, row := range rows {
		for c, s := range row {
			p.text(xs[c], 36+r*36+min(r, 1)*6, 15, r == 0, s)
		}
	}
	p.hline(6, 554, 200)
	out := analyse(t, p, engine.Options{})
	if got := blockTypes(out); got != "table" {
		t.Fatalf("blocks %s, want exactly one table: %+v", got, out.Blocks)
	}
	tb := out.Blocks[0].Table
	if tb.Rows != 5 || tb.Cols != 4 || tb.HeaderRows != 1 {
		t.Fatalf("table %d×%d, header %d: %s", tb.Rows, tb.Cols, tb.HeaderRows, tb.HTML)
	}
	var want []string
	for _, row := range rows {
		want = append(want, row...)
	}
	if got := strings.Join(cellsOf(tb), "|"); got != strings.Join(want, "|") {
		t.Fatalf("cells %s\nwant  %s", got, strings.Join(want, "|"))
	}
}

// TestTextHasNoTable: a screenshot of text (a heading and two
// paragraphs, small print) has no table block.
func TestTextHasNoTable(t *testing.T) {
	t.Parallel()
	p := newPage(t, 900, 420)
	p.text(20, 40, 26, true, "Notes on the survey")
	para1 := []string{"The survey was sent to every household in the two", "districts in March and most of the answers came back", "within three weeks of the first letter."}
	para2 := []string{"Answers that arrived after the end of April were read", "but are not counted in the figures of this report."}
	for i, s := range para1 {
		p.text(20, 100+i*30, 18, false, s)
	}
	for i, s := range para2 {
		p.text(20, 230+i*30, 18, false, s)
	}
	out := analyse(t, p, engine.Options{})
	if got := blockTypes(out); got != "title,paragraph,paragraph" {
		t.Fatalf("blocks %s, want title, paragraph, paragraph (no table): %+v", got, out.Blocks)
	}
}

// TestTableBetweenParagraphs: a scanned page (300 DPI size) with a
// borderless table between two paragraphs comes out as paragraph, table,
// paragraph in reading order, the table's cells its rows' words and the
// paragraphs the text around it.
func TestTableBetweenParagraphs(t *testing.T) {
	t.Parallel()
	p := newPage(t, 1700, 1500)
	before := []string{"The committee counted the votes of each district on the", "evening of the election and reported them as follows."}
	after := []string{"Turnout was higher than in any election of the last ten", "years, and the count was confirmed the next morning."}
	for i, s := range before {
		p.text(150, 200+i*50, 34, false, s)
	}
	xs := []int{150, 650, 1050}
	rows := [][]string{{"District", "Votes", "Share"}, {"North", "12408", "41%"}, {"Harbour", "9115", "30%"}, {"Hills", "8702", "29%"}}
	for r, row := range rows {
		for c, s := range row {
			p.text(xs[c], 480+r*70, 34, r == 0, s)
		}
	}
	for i, s := range after {
		p.text(150, 880+i*50, 34, false, s)
	}
	out := analyse(t, p, engine.Options{})
	if got := blockTypes(out); got != "paragraph,table,paragraph" {
		t.Fatalf("blocks %s, want paragraph, table, paragraph: %+v", got, out.Blocks)
	}
	if got, want := out.Blocks[0].Words(), strings.Join(before, " "); got != want {
		t.Errorf("first paragraph %q, want %q", got, want)
	}
	if got, want := out.Blocks[2].Words(), strings.Join(after, " "); got != want {
		t.Errorf("last paragraph %q, want %q", got, want)
	}
	tb := out.Blocks[1].Table
	var want []string
	for _, row := range rows {
		want = append(want, row...)
	}
	if got := strings.Join(cellsOf(tb), "|"); tb.Rows != 4 || tb.Cols != 3 || got != strings.Join(want, "|") {
		t.Fatalf("table %d×%d, cells %s\nwant 4×3, %s", tb.Rows, tb.Cols, got, strings.Join(want, "|"))
	}
}

// sizer is an engine.Engine with a Sizer of its own (PP-OCR's stand-in).
type sizer struct{ engine.Engine }

func (sizer) WorkMegapixels(string, engine.PageShape) float64 { return 0.5 }

// TestWorkMegapixelsCountTheEnlargedPage: structure:default reads a small
// page enlarged by scaleFor, so a 503×249 table crop counts as 5.75 times
// its megapixels (the enlargement's side); a large page as given (a 1-bit
// one at Tesseract's weight); structure:ppocr asks PP-OCR.
func TestWorkMegapixelsCountTheEnlargedPage(t *testing.T) {
	t.Parallel()
	e := Engine{PPOCR: sizer{}}
	crop := engine.PageShape{Width: 503, Height: 249, Bits: 24}
	if got, want := e.WorkMegapixels("default", crop), crop.Megapixels()*5.75; got != want {
		t.Errorf("a table crop: %.3f work megapixels, want %.3f", got, want)
	}
	page := engine.PageShape{Width: 2550, Height: 3300, Bits: 1}
	if got, want := e.WorkMegapixels("default", page), tesseract.WorkMegapixels(page); got != want || got >= page.Megapixels() {
		t.Errorf("a 1-bit page: %.3f work megapixels, want %.3f", got, want)
	}
	if got := e.WorkMegapixels("ppocr", crop); got != 0.5 {
		t.Errorf("structure:ppocr: %.3f work megapixels, want PP-OCR's 0.5", got)
	}
}
