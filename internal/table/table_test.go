package table

import (
	"image"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/result"
)

func blank(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	return g
}

func hline(g *image.Gray, x0, x1, y int) {
	for x := x0; x < x1; x++ {
		for d := range 2 {
			g.Pix[(y+d)*g.Stride+x] = 0
		}
	}
}

func vline(g *image.Gray, x, y0, y1 int) {
	for y := y0; y < y1; y++ {
		for d := range 2 {
			g.Pix[y*g.Stride+x+d] = 0
		}
	}
}

func word(text string, x, y int) result.Word {
	return result.Word{Text: text, Box: result.Box{X0: x, Y0: y, X1: x + 12*len(text), Y1: y + 20}}
}

// TestRuledGridMergesWhereARuleIsMissing: the header's two middle cells
// have no rule between them and become one cell spanning two columns.
func TestRuledGridMergesWhereARuleIsMissing(t *testing.T) {
	t.Parallel()
	g := blank(600, 300)
	xs, ys := []int{10, 150, 300, 450, 590}, []int{10, 80, 150, 220}
	for _, y := range ys {
		hline(g, xs[0], xs[4]+2, y)
	}
	for i, x := range xs {
		if i == 2 {
			vline(g, x, ys[1], ys[3]+2)
		} else {
			vline(g, x, ys[0], ys[3]+2)
		}
	}
	words := []result.Word{word("Name", 30, 35), word("Scores", 250, 35), word("Sum", 470, 35),
		word("Ann", 30, 105), word("4", 170, 105), word("5", 320, 105), word("9", 470, 105),
		word("Bo", 30, 175), word("1", 170, 175), word("2", 320, 175), word("3", 470, 175)}
	tb := Recognize(g, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 300})
	want := `<table><thead><tr><th>Name</th><th colspan="2">Scores</th><th>Sum</th></tr></thead><tbody><tr><td>Ann</td><td>4</td><td>5</td><td>9</td></tr><tr><td>Bo</td><td>1</td><td>2</td><td>3</td></tr></tbody></table>`
	if !tb.Ruled || tb.HTML != want {
		t.Fatalf("ruled %v\n%s\nwant\n%s", tb.Ruled, tb.HTML, want)
	}
	if md := Markdown(tb); md != tb.HTML {
		t.Fatalf("a table with spans is Markdown as its HTML: %q", md)
	}
}

// TestBorderlessColumnsAndSpanningHeader: columns come from the gaps no
// more than a fifth of the rows cross; a header phrase over two columns spans them; a pipe table
// comes out when nothing spans.
func TestBorderlessColumnsAndSpanningHeader(t *testing.T) {
	t.Parallel()
	words := []result.Word{
		word("Group", 10, 10), word("Weight", 210, 10), word("(kg)", 294, 10),
		word("Ann", 10, 50), word("61", 210, 50), word("64", 330, 50),
		word("Bo", 10, 90), word("70", 210, 90), word("72", 330, 90),
		word("Cy", 10, 130), word("55", 210, 130), word("57", 330, 130),
		word("Di", 10, 170), word("80", 210, 170), word("79", 330, 170),
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 400, Y1: 200})
	if tb.Ruled || tb.Rows != 5 || tb.Cols != 3 {
		t.Fatalf("%d×%d ruled %v: %s", tb.Rows, tb.Cols, tb.Ruled, tb.HTML)
	}
	if !strings.Contains(tb.HTML, `<th colspan="2">Weight (kg)</th>`) {
		t.Fatalf("spanning header: %s", tb.HTML)
	}
	plain := Recognize(nil, words[3:9], result.Box{X0: 0, Y0: 0, X1: 400, Y1: 200})
	want := "| Ann | 61 | 64 |\n| --- | --- | --- |\n| Bo | 70 | 72 |\n"
	if md := Markdown(plain); md != want {
		t.Fatalf("markdown %q, want %q", md, want)
	}
}

// TestProseIsNotAGrid: strokes of text never make a ruled grid.
func TestProseIsNotAGrid(t *testing.T) {
	t.Parallel()
	g := blank(400, 200)
	for x := 20; x < 380; x += 8 { // letter-like vertical strokes
		vline(g, x, 50, 70)
	}
	tb := Recognize(g, []result.Word{word("lllllll", 20, 50)}, result.Box{X0: 0, Y0: 0, X1: 400, Y1: 200})
	if tb.Ruled {
		t.Fatalf("text strokes read as a grid: %s", tb.HTML)
	}
}

// TestWrappedCellsJoin: a line whose cells all open in lower case under
// filled cells continues them; a line that opens a new row does not.
func TestWrappedCellsJoin(t *testing.T) {
	t.Parallel()
	words := []result.Word{
		word("Item", 10, 10), word("Score", 300, 10),
		word("Drug", 10, 50), word("treatment", 70, 50), word("is", 190, 50), word("7.1", 300, 50),
		word("most", 10, 80), word("effective", 70, 80),
		word("Second", 10, 120), word("item", 92, 120), word("4.5", 300, 120),
		word("Third", 10, 160), word("5.0", 300, 160),
		word("Fourth", 10, 200), word("6.2", 300, 200),
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 400, Y1: 240})
	want := `<table><thead><tr><th>Item</th><th>Score</th></tr></thead><tbody><tr><td>Drug treatment is most effective</td><td>7.1</td></tr><tr><td>Second item</td><td>4.5</td></tr><tr><td>Third</td><td>5.0</td></tr><tr><td>Fourth</td><td>6.2</td></tr></tbody></table>`
	if tb.HTML != want || tb.Rows != 5 {
		t.Fatalf("%d rows\n%s\nwant\n%s", tb.Rows, tb.HTML, want)
	}
}

// TestContinuationLinesJoin: a line with the label column empty and text
// only under filled cells continues the row above, capitals or not; a
// line of figures filling every other column under a label is a row of
// its own (a group's second row).
func TestContinuationLinesJoin(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for _, l := range []struct {
		y     int
		cells [3]string
	}{
		{10, [3]string{"Name", "Use", "Cost"}},
		{50, [3]string{"Alpha", "Cleans floors", "12"}},
		{80, [3]string{"", "Polishes tables", ""}},
		{120, [3]string{"Beta", "Paints walls", "30"}},
		{160, [3]string{"", "Primer", "5"}},
		{200, [3]string{"Gamma", "Seals", "8"}},
	} {
		for i, x := range []int{10, 150, 400} {
			words = append(words, sentence(l.cells[i], x, l.y)...)
		}
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 460, Y1: 240})
	want := `<table><thead><tr><th>Name</th><th>Use</th><th>Cost</th></tr></thead><tbody><tr><td>Alpha</td><td>Cleans floors Polishes tables</td><td>12</td></tr><tr><td>Beta</td><td>Paints walls</td><td>30</td></tr><tr><td></td><td>Primer</td><td>5</td></tr><tr><td>Gamma</td><td>Seals</td><td>8</td></tr></tbody></table>`
	if tb.HTML != want || tb.Rows != 5 {
		t.Fatalf("%d rows\n%s\nwant\n%s", tb.Rows, tb.HTML, want)
	}
}

// TestCentredLabelJoins: a label wrapped onto a line above and a line
// below its row's figures is one row; a section heading over rows with
// their own labels stays a row.
func TestCentredLabelJoins(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for _, l := range []struct {
		y     int
		cells [3]string
	}{
		{10, [3]string{"Measure", "1997", "1998"}},
		{50, [3]string{"Median income", "49", "51"}},
		{90, [3]string{"Mean health", "", ""}},
		{120, [3]string{"", "0.87", "0.88"}},
		{150, [3]string{"ages 18-65", "", ""}},
		{190, [3]string{"Rates", "", ""}},
		{230, [3]string{"Births", "12", "13"}},
		{270, [3]string{"Deaths", "8", "9"}},
	} {
		for i, x := range []int{10, 250, 400} {
			words = append(words, sentence(l.cells[i], x, l.y)...)
		}
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 460, Y1: 300})
	want := `<table><thead><tr><th>Measure</th><th>1997</th><th>1998</th></tr></thead><tbody><tr><td>Median income</td><td>49</td><td>51</td></tr><tr><td>Mean health ages 18-65</td><td>0.87</td><td>0.88</td></tr><tr><td>Rates</td><td></td><td></td></tr><tr><td>Births</td><td>12</td><td>13</td></tr><tr><td>Deaths</td><td>8</td><td>9</td></tr></tbody></table>`
	if tb.HTML != want || tb.Rows != 6 {
		t.Fatalf("%d rows\n%s\nwant\n%s", tb.Rows, tb.HTML, want)
	}
}

// TestStackedHeadingsJoin: column headings wrapped onto lines above the
// figures are one heading row; the label's own heading line stays whole.
func TestStackedHeadingsJoin(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for _, l := range []struct {
		y     int
		cells [3]string
	}{
		{10, [3]string{"", "Body", "Weight"}},
		{40, [3]string{"Dose", "weight", "gain"}},
		{80, [3]string{"0", "5.8", "102"}},
		{120, [3]string{"250", "5.9", "101"}},
		{160, [3]string{"500", "6.0", "99"}},
		{200, [3]string{"1000", "5.8", "98"}},
	} {
		for i, x := range []int{10, 250, 400} {
			words = append(words, sentence(l.cells[i], x, l.y)...)
		}
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 480, Y1: 240})
	want := `<table><thead><tr><th>Dose</th><th>Body weight</th><th>Weight gain</th></tr></thead><tbody><tr><td>0</td><td>5.8</td><td>102</td></tr><tr><td>250</td><td>5.9</td><td>101</td></tr><tr><td>500</td><td>6.0</td><td>99</td></tr><tr><td>1000</td><td>5.8</td><td>98</td></tr></tbody></table>`
	if tb.HTML != want || tb.Rows != 5 {
		t.Fatalf("%d rows\n%s\nwant\n%s", tb.Rows, tb.HTML, want)
	}
}

// sentence lays out s's words from x on a line at y (12 px a character,
// 8 px spaces).
func sentence(s string, x, y int) []result.Word {
	var out []result.Word
	for _, f := range strings.Fields(s) {
		w := word(f, x, y)
		out = append(out, w)
		x = w.Box.X1 + 8
	}
	return out
}

// TestFindTableAmongText: rows aligned in columns between two paragraphs
// are one region, from the spanning header over the second column to the
// last row; the paragraphs and a page of two columns of running text are
// not tables.
func TestFindTableAmongText(t *testing.T) {
	t.Parallel()
	var words []result.Word
	words = append(words, sentence("The votes were counted on the evening of the election", 20, 10)...)
	words = append(words, sentence("and are reported in the table below for each district.", 20, 40)...)
	words = append(words, sentence("Share of votes", 300, 90)...)
	for i, row := range [][]string{{"District", "Votes", "Share"}, {"North", "12408", "41%"}, {"Harbour", "9115", "30%"}, {"Hills", "8702", "29%"}} {
		y := 120 + 30*i
		words = append(words, word(row[0], 20, y), word(row[1], 300, y), word(row[2], 500, y))
	}
	words = append(words, sentence("Turnout was higher than in any election of the last ten", 20, 270)...)
	words = append(words, sentence("years and the count was confirmed the next morning.", 20, 300)...)
	got := Find(words)
	want := result.Box{X0: 20, Y0: 90, X1: 560, Y1: 230}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("regions %+v, want one, %+v", got, want)
	}

	var prose []result.Word
	left := []string{"The left column of this page runs", "down in lines of running text that", "fill the column from edge to edge", "as a newspaper's columns do."}
	right := []string{"and the right column reads on from", "the left one in the same way, line", "after line of words, which a table", "of short cells never has."}
	for i := range left {
		prose = append(prose, sentence(left[i], 20, 10+30*i)...)
		prose = append(prose, sentence(right[i], 500, 10+30*i)...)
	}
	if got := Find(prose); len(got) != 0 {
		t.Fatalf("two columns of text: regions %+v, want none", got)
	}
}

// TestFindLeavesLargeHeadingAlone: a heading in large type, whose word
// space (20 px) is wider than the body's column gap (0.8 of a 20-px line),
// is no row of two cells: the table found starts at its header row, and
// the heading and the paragraph under it stay text.
func TestFindLeavesLargeHeadingAlone(t *testing.T) {
	t.Parallel()
	var words []result.Word
	big := func(s string, x, y int) result.Word {
		return result.Word{Text: s, Box: result.Box{X0: x, Y0: y, X1: x + 24*len(s), Y1: y + 44}}
	}
	words = append(words, big("Sales", 20, 10), big("Report", 160, 10))
	words = append(words, sentence("Sales grew in every region this quarter, led by", 20, 64)...)
	words = append(words, sentence("strong demand for our new products.", 20, 88)...)
	for i, row := range [][]string{{"Region", "Sales"}, {"North", "1,250"}, {"South", "980"}} {
		y := 122 + 26*i
		words = append(words, word(row[0], 20, y), word(row[1], 400, y))
	}
	words = append(words, sentence("We expect demand to stay strong in the next quarter.", 20, 212)...)
	got := Find(words)
	want := result.Box{X0: 20, Y0: 122, X1: 460, Y1: 194}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("regions %+v, want one, %+v", got, want)
	}
}

// justifiedLine lays out s's words (12 px a character) from x, stretched
// to end at x+measure: a justified line's widened spaces.
func justifiedLine(s string, x, y, measure int) []result.Word {
	fs := strings.Fields(s)
	chars := 0
	for _, f := range fs {
		chars += len(f)
	}
	space := (measure - 12*chars) / max(len(fs)-1, 1)
	var out []result.Word
	for _, f := range fs {
		w := word(f, x, y)
		out = append(out, w)
		x = w.Box.X1 + space
	}
	return out
}

// TestFindLeavesJustifiedColumnsAlone: two columns of justified text,
// their lines' spaces stretched past the phrase gap (0.8 of a 20-px line)
// to 16–32 px, are no table — those spaces move from line to line, and
// a column gap runs down the rows — while the table under them, whose
// gaps line up, is found as it is.
func TestFindLeavesJustifiedColumnsAlone(t *testing.T) {
	t.Parallel()
	left := []string{"compact vision models trade a small", "loss of accuracy for large savings", "in computation and in this note we", "compare several families of models", "on two standard benchmarks here."}
	right := []string{"all models were trained with the", "same schedule of three hundred", "epochs with identical augmentation", "so that differences reflect the", "architectures rather than recipes."}
	var words []result.Word
	for i := range left {
		words = append(words, justifiedLine(left[i], 20, 10+30*i, 440)...)
		words = append(words, justifiedLine(right[i], 540, 10+30*i, 440)...)
	}
	widest := 0
	for i := 1; i < len(words); i++ {
		if words[i].Box.Y0 == words[i-1].Box.Y0 && words[i].Box.X0-words[i-1].Box.X1 < 80 {
			widest = max(widest, words[i].Box.X0-words[i-1].Box.X1)
		}
	}
	if widest <= 16 {
		t.Fatalf("widest stretched space %d px, want past the phrase gap (16)", widest)
	}
	if got := Find(words); len(got) != 0 {
		t.Fatalf("two justified columns: regions %+v, want none", got)
	}
	for i, row := range [][]string{{"Method", "Top-1", "Params"}, {"ResNet", "76.1", "25.6"}, {"ViT-B", "81.8", "86.6"}} {
		y := 200 + 30*i
		words = append(words, word(row[0], 300, y), word(row[1], 420, y), word(row[2], 520, y))
	}
	want := result.Box{X0: 300, Y0: 200, X1: 592, Y1: 280}
	if got := Find(words); len(got) != 1 || got[0] != want {
		t.Fatalf("regions %+v, want one, %+v", got, want)
	}
}
