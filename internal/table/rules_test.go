package table

import (
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/result"
)

// Tests of the rules for ruling lines, table finding and row joining,
// on tables drawn here (helpers in table_test.go).

// TestColumnRulesReadAsBars: the rules between a table's columns, read by
// the recogniser as "|" words as tall as two rows, are not text: the rows
// stay apart (Find finds the table, Recognize reads three rows) and no
// cell holds a bar.
func TestColumnRulesReadAsBars(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for i, row := range [][]string{{"Item", "2019", "2020"}, {"Tea", "0.31", "0.29"}, {"Coffee", "0.27", "0.34"}} {
		y := 10 + 30*i
		words = append(words, word(row[0], 20, y), word(row[1], 300, y), word(row[2], 500, y))
	}
	// Bars on the rules at x=250 and x=450, each running over two rows.
	for _, b := range []result.Box{{X0: 250, Y0: 5, X1: 256, Y1: 55}, {X0: 450, Y0: 35, X1: 456, Y1: 85}, {X0: 250, Y0: 38, X1: 254, Y1: 88}} {
		words = append(words, result.Word{Text: "|", Box: b})
	}
	words = DropRuleMarks(words)
	if got := Find(words); len(got) != 1 {
		t.Fatalf("regions %+v, want one", got)
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 100})
	want := `<table><thead><tr><th>Item</th><th>2019</th><th>2020</th></tr></thead><tbody><tr><td>Tea</td><td>0.31</td><td>0.29</td></tr><tr><td>Coffee</td><td>0.27</td><td>0.34</td></tr></tbody></table>`
	if tb.HTML != want {
		t.Fatalf("got\n%s\nwant\n%s", tb.HTML, want)
	}
}

// TestBrokenRulesJoin: rules broken by a few light pixels where they meet
// (an anti-aliased or enlarged image) are whole rules: each piece of a
// horizontal rule is too short to span the table, and the column rules'
// pieces beside the short last row are shorter than a rule; joined, the
// grid reads as ruled, row by row.
func TestBrokenRulesJoin(t *testing.T) {
	t.Parallel()
	g := blank(600, 200)
	xs, ys := []int{10, 200, 400, 590}, []int{10, 60, 110, 150}
	for _, y := range ys {
		for i := 0; i+1 < len(xs); i++ {
			hline(g, xs[i]+4, xs[i+1]-1, y)
		}
	}
	for _, x := range xs {
		for i := 0; i+1 < len(ys); i++ {
			vline(g, x, ys[i]+4, ys[i+1]-1)
		}
	}
	words := []result.Word{word("Years", 30, 25), word("1990", 220, 25), word("1992", 420, 25),
		word("Tea", 30, 75), word("0.32", 220, 75), word("0.27", 420, 75),
		word("Herb", 30, 120), word("0.29", 220, 120), word("0.34", 420, 120)}
	tb := Recognize(g, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 200})
	want := `<table><thead><tr><th>Years</th><th>1990</th><th>1992</th></tr></thead><tbody><tr><td>Tea</td><td>0.32</td><td>0.27</td></tr><tr><td>Herb</td><td>0.29</td><td>0.34</td></tr></tbody></table>`
	if !tb.Ruled || tb.HTML != want {
		t.Fatalf("ruled %v\n%s\nwant\n%s", tb.Ruled, tb.HTML, want)
	}
}

// sentenceTo lays s out in words ending at x1.
func sentenceTo(s string, x1, y int) []result.Word {
	n := 0
	for _, f := range strings.Fields(s) {
		n += 12*len(f) + 8
	}
	return sentence(s, x1-n+8, y)
}

// TestFindRightSetColumnOfSentences: a table whose second column holds
// sentences set flush right (ragged on the left) is found, though its
// phrases are long; the same sentences set flush left, as two columns of
// running text are, are not a table.
func TestFindRightSetColumnOfSentences(t *testing.T) {
	t.Parallel()
	rows := [][2]string{
		{"Population", "Projections are consistent with the census bureau estimates"},
		{"Young adults", "Census projection: average annual growth rate of 0.1%"},
		{"Inflation rate", "Inflation rate ranges between 1.0% and 2.0% a year"},
		{"Older adults", "Remains between 5.3% and 7.9% in every year"},
	}
	var right, left []result.Word
	for i, r := range rows {
		y := 10 + 30*i
		right = append(right, sentence(r[0], 20, y)...)
		right = append(right, sentenceTo(r[1], 1200, y)...)
		left = append(left, sentence(r[0], 20, y)...)
		left = append(left, sentence(r[1], 500, y)...)
	}
	if got := Find(right); len(got) != 1 || got[0].Y0 != 10 || got[0].Y1 != 120 {
		t.Fatalf("set flush right: regions %+v, want one over the four lines", got)
	}
	if got := Find(left); len(got) != 0 {
		t.Fatalf("set flush left: regions %+v, want none", got)
	}
}

// TestRuledGroupsOfFigureRows: a table ruled between groups of rows, not
// between the rows of a group, has a row for each line of figures (a
// number never wraps onto a second line), even where a group is two lines.
func TestRuledGroupsOfFigureRows(t *testing.T) {
	t.Parallel()
	g := blank(600, 300)
	xs, ys := []int{10, 200, 400, 590}, []int{10, 60, 160, 260}
	for _, y := range ys {
		hline(g, xs[0], xs[3]+2, y)
	}
	for _, x := range xs {
		vline(g, x, ys[0], ys[3]+2)
	}
	words := []result.Word{word("Group", 30, 25), word("Low", 220, 25), word("High", 420, 25),
		word("Ann", 30, 75), word("5%", 220, 75), word("8%", 420, 75),
		word("Bo", 30, 115), word("15%", 220, 115), word("15%", 420, 115),
		word("Cy", 30, 175), word("1.5%", 220, 175), word("1.6%", 420, 175),
		word("Di", 30, 215), word("2.3%", 220, 215), word("2.4%", 420, 215)}
	tb := Recognize(g, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 300})
	if !tb.Ruled || tb.Rows != 5 || tb.Cols != 3 || !strings.Contains(tb.HTML, "<tr><td>Bo</td><td>15%</td><td>15%</td></tr>") {
		t.Fatalf("ruled %v, %d×%d\n%s\nwant 5×3, a row a line", tb.Ruled, tb.Rows, tb.Cols, tb.HTML)
	}
}

// TestStackedHeadingsOpeningWithDigits: headings that open with a digit
// but are words ("6-Month" over "(n = 80)") are headings, not the first
// row of figures, and join the line below.
func TestStackedHeadingsOpeningWithDigits(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for _, l := range []struct {
		y     int
		cells [3]string
	}{
		{10, [3]string{"", "6-Month", "12-Month"}},
		{40, [3]string{"", "(n = 80)", "(n = 78)"}},
		{80, [3]string{"Manual", "1.38 (4.79)", "1.15 (2.53)"}},
		{120, [3]string{"Web", "0.53 (1.47)", "0.25 (0.67)"}},
		{160, [3]string{"Overall", "0.95 (3.55)", "0.70 (1.89)"}},
	} {
		for i, x := range []int{10, 250, 450} {
			words = append(words, sentence(l.cells[i], x, l.y)...)
		}
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 200})
	if tb.Rows != 4 || !strings.HasPrefix(tb.HTML, `<table><thead><tr><th></th><th>6-Month (n = 80)</th><th>12-Month (n = 78)</th></tr></thead>`) {
		t.Fatalf("%d rows\n%s\nwant 4, the headings joined", tb.Rows, tb.HTML)
	}
}

// TestCentredGroupHeadingStaysARow: a group heading set centred over the
// figure columns, under a row of figures, lines up with none of the
// cells above it: it is a row of its own, not their continuation.
func TestCentredGroupHeadingStaysARow(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for _, l := range []struct {
		y     int
		cells [4]string
	}{
		{10, [4]string{"Source", "2007", "2008", "2009"}},
		{50, [4]string{"Actual", "49,293", "49,266", "49,373"}},
		{130, [4]string{"Report 17", "49,644", "49,825", "50,067"}},
		{170, [4]string{"Report 18", "49,470", "49,623", "49,788"}},
		{210, [4]string{"Report 19", "49,101", "49,265", "49,312"}},
		{250, [4]string{"Report 20", "49,003", "49,282", "49,306"}},
	} {
		for i, x := range []int{10, 250, 400, 550} {
			words = append(words, sentence(l.cells[i], x, l.y)...)
		}
	}
	words = append(words, sentence("Projected values", 370, 90)...)
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 700, Y1: 300})
	if tb.Rows != 7 || !strings.Contains(tb.HTML, "<td>Actual</td><td>49,293</td><td>49,266</td><td>49,373</td></tr><tr><td></td>") {
		t.Fatalf("%d rows\n%s\nwant 7, the heading a row of its own", tb.Rows, tb.HTML)
	}
}

// TestLowerCaseCodesTable: a table whose cells are single words in lower
// case ("yes", "no", names of subnetworks) is found, though its phrases
// open in lower case as running text's continued lines do, and each of
// its lines is a row, not a wrapped line of the one above.
func TestLowerCaseCodesTable(t *testing.T) {
	t.Parallel()
	var words []result.Word
	words = append(words, word("Network", 20, 10), word("Dimer", 200, 10), word("Monomer", 350, 10), word("Binding", 500, 10))
	for i, row := range [][4]string{{"ab", "no", "no", "yes"}, {"abc", "no", "yes", "no"}, {"abe", "yes", "no", "no"}, {"abef", "yes", "yes", "yes"}} {
		y := 50 + 30*i
		for j, x := range []int{20, 200, 350, 500} {
			words = append(words, word(row[j], x, y))
		}
	}
	if got := Find(words); len(got) != 1 {
		t.Fatalf("regions %+v, want one", got)
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 180})
	if tb.Rows != 5 || tb.Cols != 4 {
		t.Fatalf("%d×%d\n%s\nwant 5×4, a row a line", tb.Rows, tb.Cols, tb.HTML)
	}
}

// TestBarsThatAreTextStay: Recognize and Find read every word they are
// given, so a table of exact words (a PDF's own text) keeps a cell that
// is "|" or "||"; only DropRuleMarks, for recognised words, removes them.
func TestBarsThatAreTextStay(t *testing.T) {
	t.Parallel()
	var words []result.Word
	for i, row := range [][]string{{"Op", "Sign", "Use"}, {"or", "|", "pipes"}, {"oror", "||", "logic"}} {
		y := 10 + 30*i
		words = append(words, word(row[0], 20, y), word(row[1], 300, y), word(row[2], 500, y))
	}
	if got := Find(words); len(got) != 1 {
		t.Fatalf("regions %+v, want one", got)
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 100})
	if !strings.Contains(tb.HTML, "<td>|</td>") || !strings.Contains(tb.HTML, "<td>||</td>") {
		t.Fatalf("the bars that are text were dropped: %s", tb.HTML)
	}
	if n := len(DropRuleMarks(words)); n != len(words)-2 {
		t.Fatalf("DropRuleMarks kept %d of %d words, want all but the two bar words", n, len(words))
	}
	if got := DropRuleMarks([]result.Word{word("|987", 0, 0), word("$48,160|", 0, 0), word("a|b", 0, 0)}); len(got) != 3 ||
		got[0].Text != "987" || got[1].Text != "$48,160" || got[2].Text != "a|b" {
		t.Fatalf("a rule stuck to a recognised word: %+v, want its bars at the ends trimmed, inner ones kept", got)
	}
}

// TestWordsAcrossColumnRulesSplit: in a ruled grid of small print a
// recogniser reads two cells' words as one across the column rule
// ("license}300", "Rate/Amount") and reads a rule touching a word with it
// ("[120", "Code}"); RecognizeRead splits the first at the rule and trims
// the second, so each cell holds its own words. A bracket the word closes
// ("[1]") stays, and Recognize (exact words) keeps every word as given.
func TestWordsAcrossColumnRulesSplit(t *testing.T) {
	t.Parallel()
	g := blank(460, 130)
	xs, ys := []int{10, 80, 260, 340, 450}, []int{10, 50, 90, 125}
	for _, y := range ys {
		hline(g, xs[0], xs[4]+2, y)
	}
	for _, x := range xs {
		vline(g, x, ys[0], ys[3]+2)
	}
	w := func(text string, x0, x1, y int) result.Word {
		return result.Word{Text: text, Box: result.Box{X0: x0, Y0: y, X1: x1, Y1: y + 20}}
	}
	words := []result.Word{
		w("Code}", 16, 72, 20), w("Description", 90, 220, 20), w("Rate/Amount", 268, 420, 20),
		w("A17", 16, 50, 60), w("Software", 90, 180, 60), w("license}300", 188, 300, 60), w("[120", 348, 400, 60),
		w("B22", 16, 50, 100), w("Travel", 90, 150, 100), w("[1]", 268, 300, 100), w("{95", 348, 380, 100),
	}
	region := result.Box{X0: 0, Y0: 0, X1: 460, Y1: 130}
	tb := RecognizeRead(g, words, region)
	want := "Code|Description|Rate|Amount|A17|Software license|300|120|B22|Travel|[1]|95"
	var got []string
	for _, c := range tb.Cells {
		got = append(got, c.Text)
	}
	if tb.Rows != 3 || tb.Cols != 4 || strings.Join(got, "|") != want {
		t.Fatalf("%d×%d cells %s\nwant 3×4 %s", tb.Rows, tb.Cols, strings.Join(got, "|"), want)
	}
	exact := Recognize(g, words, region)
	if !strings.Contains(exact.HTML, "license}300") || !strings.Contains(exact.HTML, "[120") {
		t.Fatalf("exact words were changed: %s", exact.HTML)
	}
}

// TestOneWordRowsUnderOneWordRowsStay: in a two-column table of codes
// (a PDF's own words: "|", "a|b", "||"), a row of lower-case single
// words filling the same columns as the row above is a row, not a wrapped
// line of it ("a|b or" had joined "| pipe"); a wrapped phrase still joins.
func TestOneWordRowsUnderOneWordRowsStay(t *testing.T) {
	t.Parallel()
	var words []result.Word
	rows := [][]string{{"Flag", "Meaning"}, {"x", "y"}, {"|", "pipe"}, {"a|b", "or"}, {"||", "either"}}
	for i, row := range rows {
		y := 10 + 30*i
		words = append(words, word(row[0], 20, y), word(row[1], 300, y))
	}
	tb := Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 180})
	var want []string
	for _, row := range rows {
		want = append(want, row...)
	}
	var got []string
	for _, c := range tb.Cells {
		got = append(got, c.Text)
	}
	if tb.Rows != len(rows) || strings.Join(got, " ¦ ") != strings.Join(want, " ¦ ") {
		t.Fatalf("%d rows: %s\nwant %d rows: %s", tb.Rows, strings.Join(got, " ¦ "), len(rows), strings.Join(want, " ¦ "))
	}
	// Phrases wrapped in both columns at once still join their row.
	words = nil
	for i, row := range [][]string{{"Name", "Use"}, {"Alpha", "Cleans floors"}, {"Beta red", "Paints walls"}, {"and blue", "and doors"}, {"Gamma", "Seals"}} {
		y := 10 + 30*i
		words = append(words, sentence(row[0], 20, y)...)
		words = append(words, sentence(row[1], 300, y)...)
	}
	tb = Recognize(nil, words, result.Box{X0: 0, Y0: 0, X1: 600, Y1: 180})
	if tb.Rows != 4 || !strings.Contains(tb.HTML, "<td>Beta red and blue</td><td>Paints walls and doors</td>") {
		t.Fatalf("wrapped phrases: %d rows %s", tb.Rows, tb.HTML)
	}
}
