// Package table recognises a table's structure in a region of a page from
// its ruling lines and the words already recognised there — no second
// recognition. Ruled tables (a grid of lines) give cells directly, a rule
// missing between two grid cells merging them into one spanning cell;
// borderless tables get their rows from the words' lines and their columns
// from the gaps that run down the whole region. HTML (with rowspan and
// colspan) and Markdown (a pipe table when nothing spans) come out.
package table

import (
	"html"
	"image"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/lector-ocr/lector/internal/result"
)

// Rule is a ruling line: horizontal (Y0==Y1 up to its thickness) or
// vertical.
type Rule struct {
	Box        result.Box
	Horizontal bool
}

// Rules finds ruling lines in region of g: runs of dark pixels at least
// minLen long and at most maxThick thick. Pieces of three quarters of that
// length (longer than a glyph's stroke) that continue one another across
// a gap of at most maxThick are one rule (joinCollinear).
func Rules(g *image.Gray, region result.Box, minLenH, minLenV, maxThick int) []Rule {
	region = clip(region, g.Rect)
	w, h := region.Width(), region.Height()
	if w <= 0 || h <= 0 {
		return nil
	}
	// The region's dark pixels, row by row, read once for both scans.
	thr := threshold(g, region)
	dark := make([]bool, w*h)
	for y := range h {
		row := g.Pix[(region.Y0+y-g.Rect.Min.Y)*g.Stride+region.X0-g.Rect.Min.X:]
		for x := range w {
			dark[y*w+x] = row[x] < thr
		}
	}
	var pieces []Rule
	// Horizontal rules: runs along x on each row y.
	for _, r := range runs(dark, h, w, w, 1, minLenH*3/4, maxThick) {
		pieces = append(pieces, Rule{Box: result.Box{X0: region.X0 + r.a, Y0: region.Y0 + r.c0, X1: region.X0 + r.b, Y1: region.Y0 + r.c1}, Horizontal: true})
	}
	// Vertical rules: runs along y on each column x.
	for _, r := range runs(dark, w, h, 1, w, minLenV*3/4, maxThick) {
		pieces = append(pieces, Rule{Box: result.Box{X0: region.X0 + r.c0, Y0: region.Y0 + r.a, X1: region.X0 + r.c1, Y1: region.Y0 + r.b}})
	}
	var out []Rule
	for _, r := range joinCollinear(pieces, maxThick) {
		if r.Horizontal && r.Box.Width() >= minLenH || !r.Horizontal && r.Box.Height() >= minLenV {
			out = append(out, r)
		}
	}
	return out
}

// joinCollinear joins rules that continue one another: the same direction,
// overlapping across, and end to end along with a gap of at most gap
// pixels. A rule is often broken where it meets or crosses another by a
// few pixels of lighter gray (an anti-aliased or enlarged image), and its
// pieces are each too short to span the table or its last row.
func joinCollinear(rules []Rule, gap int) []Rule {
	along := func(b result.Box, horizontal bool) (a0, a1, c0, c1 int) {
		if horizontal {
			return b.X0, b.X1, b.Y0, b.Y1
		}
		return b.Y0, b.Y1, b.X0, b.X1
	}
	sort.SliceStable(rules, func(i, j int) bool {
		ai, _, _, _ := along(rules[i].Box, rules[i].Horizontal)
		aj, _, _, _ := along(rules[j].Box, rules[j].Horizontal)
		return ai < aj
	})
	var out []Rule
	for _, r := range rules {
		a0, a1, c0, c1 := along(r.Box, r.Horizontal)
		joined := false
		for i := range out {
			o := &out[i]
			if o.Horizontal != r.Horizontal {
				continue
			}
			b0, b1, d0, d1 := along(o.Box, o.Horizontal)
			if c0 < d1 && d0 < c1 && a0 <= b1+gap && b0 <= a1+gap {
				o.Box = o.Box.Union(r.Box)
				joined = true
				break
			}
		}
		if !joined {
			out = append(out, r)
		}
	}
	return out
}

// run is a band of dark pixels: from a to b along its length, from c0 to
// c1 across it.
type run struct{ a, b, c0, c1 int }

// runs scans lines c in [0, n) for dark runs along [0, length) at least
// minLen long, merges runs that overlap on consecutive lines into bands,
// and keeps the bands at most maxThick thick. Pixel (c, a) is
// dark[c*cStride+a*aStride].
func runs(dark []bool, n, length, cStride, aStride, minLen, maxThick int) []run {
	var out, open []run
	flush := func(r run) {
		if r.c1-r.c0 <= maxThick {
			out = append(out, r)
		}
	}
	for c := range n {
		var cur []run
		line := c * cStride
		for a := 0; a < length; {
			if !dark[line+a*aStride] {
				a++
				continue
			}
			s := a
			for a < length && dark[line+a*aStride] {
				a++
			}
			if a-s >= minLen {
				cur = append(cur, run{s, a, c, c + 1})
			}
		}
		var next []run
		used := make([]bool, len(cur))
		for _, o := range open {
			merged := false
			for i, r := range cur {
				if !used[i] && r.a < o.b && o.a < r.b {
					used[i] = true
					next = append(next, run{min(o.a, r.a), max(o.b, r.b), o.c0, c + 1})
					merged = true
					break
				}
			}
			if !merged {
				flush(o)
			}
		}
		for i, r := range cur {
			if !used[i] {
				next = append(next, r)
			}
		}
		open = next
	}
	for _, o := range open {
		flush(o)
	}
	return out
}

func clip(b result.Box, r image.Rectangle) result.Box {
	return result.Box{X0: max(b.X0, r.Min.X), Y0: max(b.Y0, r.Min.Y), X1: min(b.X1, r.Max.X), Y1: min(b.Y1, r.Max.Y)}
}

// threshold is Otsu's threshold of the region's gray levels.
func threshold(g *image.Gray, b result.Box) uint8 {
	var hist [256]int
	n := 0
	for y := b.Y0; y < b.Y1; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride:]
		for x := b.X0; x < b.X1; x++ {
			hist[row[x-g.Rect.Min.X]]++
			n++
		}
	}
	if n == 0 {
		return 128
	}
	var sum float64
	for i, c := range hist {
		sum += float64(i * c)
	}
	var sumB, wB float64
	best, bestT := -1.0, 128
	for t := range 256 {
		wB += float64(hist[t])
		if wB == 0 {
			continue
		}
		wF := float64(n) - wB
		if wF == 0 {
			break
		}
		sumB += float64(t * hist[t])
		mB, mF := sumB/wB, (sum-sumB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > best {
			best, bestT = v, t
		}
	}
	return uint8(min(bestT+1, 255))
}

// Recognize finds the structure of the table in region: from its ruling
// lines when they form a grid, else from the alignment of its words. The
// words are taken as they are (a born-digital page's own text, where "|"
// or "[" beside a rule is text); words a recogniser read go to
// RecognizeRead.
func Recognize(g *image.Gray, words []result.Word, region result.Box) *result.Table {
	return recognize(g, words, region, false)
}

// RecognizeRead is Recognize for words a recogniser read from g: in a
// ruled grid, a word that runs across a column rule (the rule read as a
// character between two cells' words, or as nothing: "license}300") is
// split at it, and marks at a word's end facing a column rule (the rule
// read with it: "[120", "Code}") are trimmed (splitAtRules).
func RecognizeRead(g *image.Gray, words []result.Word, region result.Box) *result.Table {
	return recognize(g, words, region, true)
}

func recognize(g *image.Gray, words []result.Word, region result.Box, read bool) *result.Table {
	var in []result.Word
	for _, w := range words {
		if cx, cy := (w.Box.X0+w.Box.X1)/2, (w.Box.Y0+w.Box.Y1)/2; cx >= region.X0 && cx < region.X1 && cy >= region.Y0 && cy < region.Y1 && strings.TrimSpace(w.Text) != "" {
			in = append(in, w)
		}
	}
	h := medianHeight(in)
	var rules []Rule
	if g != nil {
		rules = Rules(g, region, max(3*h, 20), max(2*h, 16), max(h/3, 4))
	}
	var t *result.Table
	if hs, vs := split(rules); frame(hs, vs, region) {
		cells := in
		if read {
			cells = splitAtRules(in, vs)
		}
		t = ruled(cells, hs, vs)
	}
	if t == nil || len(t.Cells) == 0 {
		t = borderless(in, rules, h)
	}
	t.HTML = HTML(t)
	return t
}

// frame reports whether the rules make a grid: at least two horizontal
// rules across most of the region's width and two vertical ones down most
// of its height (shorter rules inside then bound merged cells). Strokes of
// text and shading never pass this.
func frame(hs, vs []Rule, region result.Box) bool {
	long := func(rs []Rule, horizontal bool) int {
		n := 0
		for _, r := range rs {
			if horizontal && r.Box.Width()*10 >= region.Width()*6 || !horizontal && r.Box.Height()*10 >= region.Height()*6 {
				n++
			}
		}
		return n
	}
	return long(hs, true) >= 2 && long(vs, false) >= 2
}

func split(rules []Rule) (hs, vs []Rule) {
	for _, r := range rules {
		if r.Horizontal {
			hs = append(hs, r)
		} else {
			vs = append(vs, r)
		}
	}
	return hs, vs
}

// DropRuleMarks returns words without vertical bars at their ends, and
// without those that hold only bars (or spaces): a column rule read by a
// recogniser as a character ("|", or stuck to a word: "|987"),
// whose box runs the height of the rows beside it and would join their
// lines and make cells of "|". Recognize and Find take every word they
// are given, so words that are exact (a PDF's own text, where "|" is
// text) are given to them as they are.
func DropRuleMarks(words []result.Word) []result.Word {
	out := make([]result.Word, 0, len(words))
	for _, w := range words {
		// A rule touching a word is read as part of it ("|987"): the bars
		// at its ends are the rule's.
		if w.Text = strings.Trim(w.Text, " \t|¦‖│"); w.Text != "" {
			out = append(out, w)
		}
	}
	return out
}

// ruleMarks are the characters a recogniser reads a vertical ruling line
// as, when the line touches or runs close to a word ('l', 'I' and '1'
// left out: they are letters and digits far more often).
const ruleMarks = "|¦‖│[]{}/\\"

// splitAtRules returns words (recognised) with the column rules vs taken
// out of them. A word running across a rule that spans its middle height,
// by at least half its height on either side, is two cells' words read as
// one (the gap between them, padding and rule, is narrower than a space
// in small print): it is split at the rule, at the rule mark nearest to
// where the rule falls in its text (within a fifth of its length, at least
// 1.5 characters, the mark dropped), else at that proportion of its
// characters. A rule mark at a word's end is trimmed when a column rule
// lies within half the word's height of that end, beside it (a bracket
// only when unmatched in the word: "[1]" stays). Measured on a new user's
// 324×135 ruled screenshot in 8 px print: "Rate/Amount" and "Software
// license}300" had landed in one cell each, "Code}" and "/|340" kept the
// rule's marks.
func splitAtRules(words []result.Word, vs []Rule) []result.Word {
	vs = append([]Rule(nil), vs...)
	sort.Slice(vs, func(i, j int) bool { return vs[i].Box.X0 < vs[j].Box.X0 })
	covers := func(v Rule, w result.Word) bool {
		cy := (w.Box.Y0 + w.Box.Y1) / 2
		return v.Box.Y0 <= cy && cy < v.Box.Y1
	}
	var out []result.Word
	for _, w := range words {
		for _, v := range vs {
			rx, m := (v.Box.X0+v.Box.X1)/2, max(w.Box.Height()/2, 2)
			rs := []rune(w.Text)
			if !covers(v, w) || rx-w.Box.X0 < m || w.Box.X1-rx < m || len(rs) < 2 {
				continue
			}
			pos := float64(len(rs)) * float64(rx-w.Box.X0) / float64(w.Box.Width())
			cut, skip, best := min(max(int(pos+0.5), 1), len(rs)-1), 0, max(1.5, float64(len(rs))/5)
			for i, r := range rs {
				if d := math.Abs(float64(i) + 0.5 - pos); strings.ContainsRune(ruleMarks, r) && d <= best {
					cut, skip, best = i, 1, d
				}
			}
			left := result.Word{Text: string(rs[:cut]), Box: w.Box, Confidence: w.Confidence}
			left.Box.X1 = v.Box.X0
			if strings.TrimSpace(left.Text) != "" {
				out = append(out, left)
			}
			w.Text, w.Box.X0 = string(rs[min(cut+skip, len(rs)):]), v.Box.X1
		}
		if strings.TrimSpace(w.Text) != "" {
			out = append(out, w)
		}
	}
	kept := out[:0]
	for _, w := range out {
		tol := max(w.Box.Height()/2, 2)
		near := func(at int) bool {
			for _, v := range vs {
				if covers(v, w) && at >= v.Box.X0-tol && at <= v.Box.X1+tol {
					return true
				}
			}
			return false
		}
		for {
			rs := []rune(w.Text)
			if len(rs) == 0 {
				break
			}
			if first := rs[0]; strings.ContainsRune(ruleMarks, first) && near(w.Box.X0) && !matched(rs, 0) {
				w.Text = string(rs[1:])
				continue
			}
			if last := rs[len(rs)-1]; strings.ContainsRune(ruleMarks, last) && near(w.Box.X1) && !matched(rs, len(rs)-1) {
				w.Text = string(rs[:len(rs)-1])
				continue
			}
			break
		}
		if strings.TrimSpace(w.Text) != "" {
			kept = append(kept, w)
		}
	}
	return kept
}

// matched reports whether the bracket rs[i] has its partner in rs (an
// opening one after it, a closing one before it).
func matched(rs []rune, i int) bool {
	pair := map[rune]rune{'[': ']', ']': '[', '{': '}', '}': '{'}
	p, ok := pair[rs[i]]
	if !ok {
		return false
	}
	if rs[i] == '[' || rs[i] == '{' {
		return slices.Contains(rs[i+1:], p)
	}
	return slices.Contains(rs[:i], p)
}

func medianHeight(ws []result.Word) int {
	if len(ws) == 0 {
		return 20
	}
	hs := make([]int, len(ws))
	for i, w := range ws {
		hs[i] = w.Box.Height()
	}
	sort.Ints(hs)
	return max(hs[len(hs)/2], 4)
}

// cluster groups sorted positions closer than tol and returns their means.
func cluster(pos []int, tol int) []int {
	sort.Ints(pos)
	var out []int
	for i := 0; i < len(pos); {
		j, sum := i, 0
		for j < len(pos) && pos[j]-pos[i] <= tol {
			sum += pos[j]
			j++
		}
		out = append(out, sum/(j-i))
		i = j
	}
	return out
}

// ruled builds a grid from the rules' positions; a grid edge with no rule
// along most of it merges the cells on either side.
func ruled(words []result.Word, hs, vs []Rule) *result.Table {
	var ypos, xpos []int
	for _, r := range hs {
		ypos = append(ypos, (r.Box.Y0+r.Box.Y1)/2)
	}
	for _, r := range vs {
		xpos = append(xpos, (r.Box.X0+r.Box.X1)/2)
	}
	ys, xs := cluster(ypos, 6), cluster(xpos, 6)
	if len(ys) < 2 || len(xs) < 2 {
		return nil
	}
	xs, ys = outerEdges(words, xs, ys)
	ys, virtual := unruledRows(words, ys, xs)
	var cxs, cys []int
	for _, w := range words {
		cxs, cys = append(cxs, (w.Box.X0+w.Box.X1)/2), append(cys, (w.Box.Y0+w.Box.Y1)/2)
	}
	xs, ys = dropEmpty(xs, cxs), dropEmpty(ys, cys)
	if len(ys) < 2 || len(xs) < 2 {
		return nil
	}
	rows, cols := len(ys)-1, len(xs)-1
	covered := func(horizontal bool, at, a, b int) bool {
		if horizontal && virtual[at] {
			return true
		}
		need := (b - a) / 2
		got := 0
		for _, r := range hs {
			if horizontal && abs((r.Box.Y0+r.Box.Y1)/2-at) <= 6 {
				got += max(0, min(b, r.Box.X1)-max(a, r.Box.X0))
			}
		}
		for _, r := range vs {
			if !horizontal && abs((r.Box.X0+r.Box.X1)/2-at) <= 6 {
				got += max(0, min(b, r.Box.Y1)-max(a, r.Box.Y0))
			}
		}
		return got >= need
	}
	parent := make([]int, rows*cols)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	for r := range rows {
		for c := range cols {
			if c+1 < cols && !covered(false, xs[c+1], ys[r], ys[r+1]) {
				union(r*cols+c, r*cols+c+1)
			}
			if r+1 < rows && !covered(true, ys[r+1], xs[c], xs[c+1]) {
				union(r*cols+c, (r+1)*cols+c)
			}
		}
	}
	type span struct{ r0, c0, r1, c1 int }
	spans := map[int]*span{}
	var order []int
	for r := range rows {
		for c := range cols {
			root := find(r*cols + c)
			s := spans[root]
			if s == nil {
				s = &span{r, c, r, c}
				spans[root] = s
				order = append(order, root)
			}
			s.r0, s.c0, s.r1, s.c1 = min(s.r0, r), min(s.c0, c), max(s.r1, r), max(s.c1, c)
		}
	}
	t := &result.Table{Rows: rows, Cols: cols, HeaderRows: 1, Ruled: true}
	for _, root := range order {
		s := spans[root]
		box := result.Box{X0: xs[s.c0], Y0: ys[s.r0], X1: xs[s.c1+1], Y1: ys[s.r1+1]}
		t.Cells = append(t.Cells, result.Cell{Row: s.r0, Col: s.c0, RowSpan: s.r1 - s.r0 + 1, ColSpan: s.c1 - s.c0 + 1,
			Text: textIn(words, box), Box: box})
		if s.r0 == 0 {
			t.HeaderRows = max(t.HeaderRows, s.r1-s.r0+1)
		}
	}
	if t.HeaderRows >= rows {
		t.HeaderRows = 1
	}
	joinContinued(t, func(r int) bool { return virtual[ys[r]] })
	return t
}

// outerEdges adds an edge beyond the grid's outermost rules where words lie
// outside them (a table ruled between its columns but not around them:
// its first and last columns, and rows above the first rule or below the
// last one, are cells too).
func outerEdges(words []result.Word, xs, ys []int) ([]int, []int) {
	x0, y0, x1, y1 := xs[0], ys[0], xs[len(xs)-1], ys[len(ys)-1]
	for _, w := range words {
		x0, y0 = min(x0, w.Box.X0-1), min(y0, w.Box.Y0-1)
		x1, y1 = max(x1, w.Box.X1+1), max(y1, w.Box.Y1+1)
	}
	// Only a whole word outside a rule makes a new cell (a word touching a
	// frame rule does not).
	outside := func(lo, hi int, before bool, horizontal bool) bool {
		for _, w := range words {
			a, b := w.Box.X0, w.Box.X1
			if horizontal {
				a, b = w.Box.Y0, w.Box.Y1
			}
			if before && b <= hi || !before && a >= lo {
				return true
			}
		}
		return false
	}
	if outside(0, xs[0], true, false) {
		xs = append([]int{x0}, xs...)
	}
	if outside(xs[len(xs)-1], 0, false, false) {
		xs = append(xs, x1)
	}
	if outside(0, ys[0], true, true) {
		ys = append([]int{y0}, ys...)
	}
	if outside(ys[len(ys)-1], 0, false, true) {
		ys = append(ys, y1)
	}
	return xs, ys
}

// dropEmpty removes the grid's rows (or columns) that hold no word:
// double rules and thick ones read as two make empty strips between
// them, which are not rows. edges are the strips' edges, centres the
// words' centres along the same axis.
func dropEmpty(edges, centres []int) []int {
	sort.Ints(centres)
	out := []int{edges[0]}
	for i := 1; i < len(edges); i++ {
		k := sort.SearchInts(centres, out[len(out)-1])
		if k < len(centres) && centres[k] < edges[i] || len(out) == 1 && i == len(edges)-1 {
			out = append(out, edges[i])
			continue
		}
		if len(out) == 1 { // an empty first strip: its upper edge goes
			out[0] = edges[i]
			continue
		}
		out[len(out)-1] = edges[i] // an empty strip: its upper edge goes
	}
	return out
}

// unruledRows splits the grid's rows that hold several rows of text with
// no rule between them (tables ruled only between columns, or only under
// the header): a band between two rules that holds at least three text
// lines and at least half of the grid's, three quarters of them (or three)
// with words in at least 60 % of the columns, is split between its lines.
// A table ruled row by row has its text spread over many bands, and a
// header's wrapped cells fill fewer columns a line. A band of two lines or
// more each filling 60 % of the columns with figures in three quarters of
// the columns after the first is split too, whatever its size: a number
// never wraps onto a second line. It returns the rows' edges and the edges
// it added.
func unruledRows(words []result.Word, ys, xs []int) ([]int, map[int]bool) {
	cols := len(xs) - 1
	bands := make([][]textLine, len(ys)-1)
	total := 0
	for r := range bands {
		var in []result.Word
		for _, w := range words {
			if cx, cy := (w.Box.X0+w.Box.X1)/2, (w.Box.Y0+w.Box.Y1)/2; cy >= ys[r] && cy < ys[r+1] && cx >= xs[0] && cx < xs[cols] {
				in = append(in, w)
			}
		}
		bands[r] = lines(in)
		total += len(bands[r])
	}
	out := []int{ys[0]}
	virtual := map[int]bool{}
	for r, ls := range bands {
		full, figures := 0, 0
		for _, l := range ls {
			seen := map[int]bool{}
			digits := map[int]bool{}
			for _, w := range l.words {
				c := sort.SearchInts(xs, (w.Box.X0+w.Box.X1)/2+1) - 1
				seen[c] = true
				if c > 0 && strings.ContainsAny(w.Text, "0123456789") {
					digits[c] = true
				}
			}
			if len(seen)*10 >= cols*6 {
				full++
				if len(digits)*4 >= (cols-1)*3 && cols > 1 {
					figures++
				}
			}
		}
		if len(ls) >= 3 && len(ls)*2 >= total && (full*4 >= len(ls)*3 || full >= 3) || len(ls) >= 2 && figures == len(ls) {
			for i := 1; i < len(ls); i++ {
				y := (ls[i-1].y1 + ls[i].y0) / 2
				if y > out[len(out)-1] && y < ys[r+1] {
					out = append(out, y)
					virtual[y] = true
				}
			}
		}
		out = append(out, ys[r+1])
	}
	return out, virtual
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// textIn joins the words whose centres fall in box, line by line.
func textIn(words []result.Word, box result.Box) string {
	var in []result.Word
	for _, w := range words {
		if cx, cy := (w.Box.X0+w.Box.X1)/2, (w.Box.Y0+w.Box.Y1)/2; cx >= box.X0 && cx < box.X1 && cy >= box.Y0 && cy < box.Y1 {
			in = append(in, w)
		}
	}
	var parts []string
	for _, line := range lines(in) {
		for _, w := range line.words {
			parts = append(parts, w.Text)
		}
	}
	return strings.Join(parts, " ")
}

type textLine struct {
	y0, y1 int
	words  []result.Word
}

// phraseGap is the median height of the lines ls (pixels; ls not empty)
// and the gap that separates phrases, which column gaps are: most of a
// line's height (an em, roughly; spaces between words are a third of it),
// at least 3 px.
func phraseGap(ls []textLine) (lineH, gap int) {
	lhs := make([]int, 0, len(ls))
	for _, l := range ls {
		lhs = append(lhs, l.y1-l.y0)
	}
	sort.Ints(lhs)
	lineH = lhs[len(lhs)/2]
	return lineH, max(lineH*8/10, 3)
}

// lines groups words into lines by vertical overlap, top to bottom, each
// line's words left to right.
func lines(words []result.Word) []textLine {
	ws := append([]result.Word(nil), words...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].Box.Y0+ws[i].Box.Y1 < ws[j].Box.Y0+ws[j].Box.Y1 })
	var out []textLine
	for _, w := range ws {
		placed := false
		for i := range out {
			l := &out[i]
			ov := min(l.y1, w.Box.Y1) - max(l.y0, w.Box.Y0)
			if ov*2 >= min(l.y1-l.y0, w.Box.Height()) {
				l.words = append(l.words, w)
				l.y0, l.y1 = min(l.y0, w.Box.Y0), max(l.y1, w.Box.Y1)
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, textLine{w.Box.Y0, w.Box.Y1, []result.Word{w}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].y0 < out[j].y0 })
	for i := range out {
		sort.Slice(out[i].words, func(a, b int) bool { return out[i].words[a].Box.X0 < out[i].words[b].Box.X0 })
	}
	return out
}

// borderless finds rows from lines and columns from the vertical gaps
// that (almost) no line crosses; a phrase that crosses a column gap where
// nothing else in its row is becomes a spanning cell. The header is the
// rows above the first horizontal rule below the first line, else the
// first row.
func borderless(words []result.Word, rules []Rule, h int) *result.Table {
	ls := lines(words)
	t := &result.Table{HeaderRows: 1}
	if len(ls) == 0 {
		return t
	}
	x0, x1 := ls[0].words[0].Box.X0, 0
	for _, l := range ls {
		for _, w := range l.words {
			x0, x1 = min(x0, w.Box.X0), max(x1, w.Box.X1)
		}
	}
	// Phrases: words closer than a gap that can separate columns — most of
	// a line's height (an em, roughly), where spaces between words are a
	// third of it. Line heights, not word heights: short words of x-height
	// would make the measure too small.
	_, gap := phraseGap(ls)
	type phrase struct {
		a, b  int
		words []result.Word
	}
	rowPhrases := make([][]phrase, len(ls))
	for i, l := range ls {
		for _, w := range l.words {
			ps := rowPhrases[i]
			if n := len(ps); n > 0 && w.Box.X0-ps[n-1].b < gap {
				ps[n-1].b = max(ps[n-1].b, w.Box.X1)
				ps[n-1].words = append(ps[n-1].words, w)
				continue
			}
			rowPhrases[i] = append(ps, phrase{w.Box.X0, w.Box.X1, []result.Word{w}})
		}
	}
	// Coverage of each x by phrases of rows with more than one phrase (a
	// lone phrase is a label or a spanning cell, not evidence of columns).
	width := x1 - x0 + 1
	cov := make([]int, width)
	multi := 0
	for _, ps := range rowPhrases {
		if len(ps) < 2 {
			continue
		}
		multi++
		for _, p := range ps {
			for x := p.a; x < p.b; x++ {
				cov[x-x0]++
			}
		}
	}
	if multi == 0 { // one column
		for _, ps := range rowPhrases {
			for _, p := range ps {
				cov[p.a-x0]++
			}
		}
	}
	allow := multi / 5 // a spanning header (or a stray long cell) may cross a column gap: measured best of /3, /5, /10 on the PubTabNet examples
	var seps []int
	for x := 0; x < width; {
		if cov[x] > allow {
			x++
			continue
		}
		s := x
		for x < width && cov[x] <= allow {
			x++
		}
		if s > 0 && x < width && x-s >= gap {
			seps = append(seps, x0+(s+x)/2)
		}
	}
	cols := len(seps) + 1
	colOf := func(x int) int { return sort.SearchInts(seps, x+1) }
	t.Cols = cols
	// Header: rows above the first rule that lies below the first line.
	var ruleYs []int
	for _, r := range rules {
		if r.Horizontal && r.Box.Width() >= (x1-x0)/2 {
			ruleYs = append(ruleYs, (r.Box.Y0+r.Box.Y1)/2)
		}
	}
	sort.Ints(ruleYs)
	header := 1
	for _, y := range ruleYs {
		if y > ls[0].y1 {
			n := 0
			for _, l := range ls {
				if l.y1 <= y {
					n++
				}
			}
			if n >= 1 && n < len(ls) && n <= max(len(ls)/2, 1) {
				header = n
			}
			break
		}
	}
	t.HeaderRows = header
	for r, ps := range rowPhrases {
		type cellAt struct {
			c0, c1 int
			words  []result.Word
		}
		var cells []cellAt
		for _, p := range ps {
			c0, c1 := colOf(p.a), colOf(p.b-1)
			if c1 > c0 { // crosses a gap: a spanning cell only if nothing else is in those columns
				clash := false
				for _, q := range ps {
					if q.a == p.a {
						continue
					}
					if qc0, qc1 := colOf(q.a), colOf(q.b-1); qc0 <= c1 && qc1 >= c0 {
						clash = true
					}
				}
				if clash {
					for _, w := range p.words {
						c := colOf((w.Box.X0 + w.Box.X1) / 2)
						cells = append(cells, cellAt{c, c, []result.Word{w}})
					}
					continue
				}
			}
			cells = append(cells, cellAt{c0, c1, p.words})
		}
		// Merge cells sharing a column.
		sort.Slice(cells, func(i, j int) bool { return cells[i].c0 < cells[j].c0 })
		var merged []cellAt
		for _, c := range cells {
			if n := len(merged); n > 0 && c.c0 <= merged[n-1].c1 {
				merged[n-1].c1 = max(merged[n-1].c1, c.c1)
				merged[n-1].words = append(merged[n-1].words, c.words...)
				continue
			}
			merged = append(merged, c)
		}
		next := 0
		for _, c := range merged {
			for ; next < c.c0; next++ {
				t.Cells = append(t.Cells, result.Cell{Row: r, Col: next, RowSpan: 1, ColSpan: 1})
			}
			var parts []string
			var box result.Box
			for _, w := range c.words {
				parts = append(parts, w.Text)
				box = box.Union(w.Box)
			}
			t.Cells = append(t.Cells, result.Cell{Row: r, Col: c.c0, RowSpan: 1, ColSpan: c.c1 - c.c0 + 1, Text: strings.Join(parts, " "), Box: box})
			next = c.c1 + 1
		}
		for ; next < cols; next++ {
			t.Cells = append(t.Cells, result.Cell{Row: r, Col: next, RowSpan: 1, ColSpan: 1})
		}
	}
	t.Rows = len(ls)
	joinWrapped(t)
	joinContinued(t, func(int) bool { return true })
	joinCentred(t)
	joinStackedHeads(t)
	return t
}

// plainRows reports whether t is a table the line-joining rules read:
// two columns or more and no cell spanning rows.
func plainRows(t *result.Table) bool {
	if t.Cols < 2 {
		return false
	}
	for _, c := range t.Cells {
		if c.RowSpan > 1 {
			return false
		}
	}
	return true
}

// rowsOf lists t's cells row by row (pointers into t.Cells; a cell whose
// row is past t.Rows is left out).
func rowsOf(t *result.Table) [][]*result.Cell {
	rows := make([][]*result.Cell, t.Rows)
	for i := range t.Cells {
		c := &t.Cells[i]
		if c.Row < t.Rows {
			rows[c.Row] = append(rows[c.Row], c)
		}
	}
	return rows
}

// dropJoined removes the rows marked in join (rows whose cells were
// joined into another row: their cells are empty or moved) and numbers
// the remaining rows from 0; join has t.Rows entries.
func dropJoined(t *result.Table, join []bool) {
	var cells []result.Cell
	newRow := make([]int, t.Rows)
	n := 0
	for r := range t.Rows {
		if !join[r] {
			n++
		}
		newRow[r] = n - 1
	}
	for _, c := range t.Cells {
		if c.Row < t.Rows && join[c.Row] {
			continue
		}
		if c.Row < t.Rows {
			c.Row = newRow[c.Row]
		}
		cells = append(cells, c)
	}
	t.Cells, t.Rows = cells, n
}

// joinStackedHeads joins the lines of column headings wrapped over
// several lines: above the first row of figures (a row whose filled
// cells are figures, half of them or more), a line that leaves the
// label column empty, spans no columns (a group heading does) and has
// text only over filled cells of the next line, which is above the
// figures too, goes into that line, each heading's words first.
func joinStackedHeads(t *result.Table) {
	if !plainRows(t) {
		return
	}
	rows := rowsOf(t)
	figures := t.Rows
	for r := range t.Rows {
		filled, digits := 0, 0
		for _, c := range rows[r] {
			if s := strings.TrimSpace(c.Text); s != "" {
				filled++
				if figure(s) {
					digits++
				}
			}
		}
		if filled > 0 && digits*2 >= filled {
			figures = r
			break
		}
	}
	if figures == t.Rows || figures > t.Rows/2 {
		return
	}
	cellAt := func(row []*result.Cell, col int) *result.Cell {
		for _, c := range row {
			if col >= c.Col && col < c.Col+c.ColSpan {
				return c
			}
		}
		return nil
	}
	join := make([]bool, t.Rows) // row r goes into the row below
	for r := 0; r+1 < figures; r++ {
		ok, text := true, 0
		for _, c := range rows[r] {
			if strings.TrimSpace(c.Text) == "" {
				continue
			}
			text++
			b := cellAt(rows[r+1], c.Col)
			if c.Col == 0 || c.ColSpan > 1 || b == nil || b.Col != c.Col || strings.TrimSpace(b.Text) == "" {
				ok = false
			}
		}
		if !ok || text == 0 {
			continue
		}
		join[r] = true
		for _, c := range rows[r] {
			if strings.TrimSpace(c.Text) == "" {
				continue
			}
			b := cellAt(rows[r+1], c.Col)
			b.Text = c.Text + " " + b.Text
			b.Box = b.Box.Union(c.Box)
		}
	}
	header := t.HeaderRows
	for r := range min(t.HeaderRows, t.Rows) {
		if join[r] {
			header--
		}
	}
	dropJoined(t, join)
	t.HeaderRows = max(min(header, t.Rows), 1)
}

// figure reports whether a cell's text s is a figure: it opens with a
// digit and holds more digits than letters ("1.38 (4.79)", "12 (30%)",
// not the heading "6-Month").
func figure(s string) bool {
	r := []rune(s)
	if len(r) == 0 || !unicode.IsDigit(r[0]) {
		return false
	}
	digits, letters := 0, 0
	for _, c := range r {
		switch {
		case unicode.IsDigit(c):
			digits++
		case unicode.IsLetter(c):
			letters++
		}
	}
	return digits > letters
}

// joinCentred joins a row label set on three lines around its row's
// figures (the figures vertically centred on a wrapped label): a line
// with only the label column filled, a line of figures with the label
// column empty, and again a line with only the label column filled
// become one row, the label's two parts joined in reading order. Section
// headings are lines of a label alone too, but the rows under them carry
// their own labels.
func joinCentred(t *result.Table) {
	if !plainRows(t) {
		return
	}
	rows := rowsOf(t)
	label := func(r int) *result.Cell {
		for _, c := range rows[r] {
			if c.Col == 0 && c.ColSpan == 1 {
				return c
			}
		}
		return nil
	}
	filledOther := func(r int) int {
		n := 0
		for _, c := range rows[r] {
			if c.Col > 0 && strings.TrimSpace(c.Text) != "" {
				n++
			}
		}
		return n
	}
	labelOnly := func(r int) bool {
		l := label(r)
		return l != nil && strings.TrimSpace(l.Text) != "" && filledOther(r) == 0
	}
	join := make([]bool, t.Rows)
	for r := max(t.HeaderRows, 1); r+1 < t.Rows; r++ {
		l := label(r)
		if join[r-1] || l == nil || strings.TrimSpace(l.Text) != "" || filledOther(r)*2 < t.Cols-1 || !labelOnly(r-1) || !labelOnly(r+1) || r-1 < t.HeaderRows {
			continue
		}
		top, bottom := label(r-1), label(r+1)
		l.Text = top.Text + " " + bottom.Text
		l.Box = top.Box.Union(bottom.Box)
		join[r-1], join[r+1] = true, true
	}
	dropJoined(t, join)
}

// joinContinued merges into the row above each body row that continues
// it: a cell's text wrapped onto more lines of a table whose first column
// labels its rows. Such a row leaves the first column empty under a
// filled one, has text only under filled cells of the row above, each
// set as the cell above is (aligned), and is not a row of figures filling every other column (a group's second
// row) nor a heading spanning more than half the columns; the first
// column must be filled in at least a third of the body rows (a column of
// labels). may(r) says whether rows r-1 and r may be joined
// at all (a ruled table: no rule between them). Cells spanning rows stop
// a join. It is the classic multi-line cell rule of table readers
// (continuation lines sit under a cell's first line, the other columns
// blank).
func joinContinued(t *result.Table, may func(r int) bool) {
	rows := rowsOf(t)
	cellAt := func(row []*result.Cell, col int) *result.Cell {
		for _, c := range row {
			if col >= c.Col && col < c.Col+c.ColSpan {
				return c
			}
		}
		return nil
	}
	filled := func(row []*result.Cell, col int) bool {
		c := cellAt(row, col)
		return c != nil && strings.TrimSpace(c.Text) != ""
	}
	body, labelled := 0, 0
	for r := t.HeaderRows; r < t.Rows; r++ {
		body++
		if filled(rows[r], 0) {
			labelled++
		}
	}
	if body < 3 || labelled*3 < body || t.Cols < 2 {
		return
	}
	for _, c := range t.Cells {
		if c.RowSpan > 1 {
			return
		}
	}
	join := make([]bool, t.Rows) // row r goes into the row above
	prev := t.HeaderRows
	for r := t.HeaderRows + 1; r < t.Rows; r++ {
		above := rows[prev]
		ok := may(r) && !filled(rows[r], 0) && filled(above, 0)
		text, digits, empty := 0, false, false
		for col := 1; ok && col < t.Cols; col++ {
			c := cellAt(rows[r], col)
			if c == nil || strings.TrimSpace(c.Text) == "" {
				empty = true
				continue
			}
			if c.Col != col {
				continue
			}
			text++
			if c.ColSpan*2 > t.Cols { // a heading across the columns
				ok = false
			}
			if a := cellAt(above, col); a == nil || strings.TrimSpace(a.Text) == "" || a.Col != c.Col || !aligned(a.Box, c.Box) {
				ok = false
			}
			if unicode.IsDigit([]rune(strings.TrimSpace(c.Text))[0]) {
				digits = true
			}
		}
		if !ok || text == 0 || digits && !empty {
			prev = r
			continue
		}
		join[r] = true
		for _, c := range rows[r] {
			if strings.TrimSpace(c.Text) == "" {
				continue
			}
			a := cellAt(above, c.Col)
			a.Text += " " + c.Text
			a.Box = a.Box.Union(c.Box)
		}
	}
	dropJoined(t, join)
}

// aligned reports whether a line b continues the cell a above it as a
// wrapped line does: set the same way, flush with it on the left or the
// right or centred on it, within a line's height (b's). A heading centred
// over several columns lines up with none of their cells.
func aligned(a, b result.Box) bool {
	tol := max(b.Height(), 4)
	return abs(a.X0-b.X0) <= tol || abs(a.X1-b.X1) <= tol || abs(a.X0+a.X1-b.X0-b.X1) <= 2*tol
}

// joinWrapped merges rows that continue the cells above them — every
// non-empty cell opens in lower case under a non-empty cell of the row
// above, and not a line of single words in most columns under another,
// nor one filling the same columns as the line above with single words
// under single words — into that row: a cell's text wrapped onto more
// lines.
func joinWrapped(t *result.Table) {
	rows := make([][]result.Cell, t.Rows)
	for _, c := range t.Cells {
		rows[c.Row] = append(rows[c.Row], c)
	}
	cellAt := func(row []result.Cell, col int) *result.Cell {
		for i := range row {
			if col >= row[i].Col && col < row[i].Col+row[i].ColSpan {
				return &row[i]
			}
		}
		return nil
	}
	// oneWords reports whether no cell of row holds more than one word.
	oneWords := func(row []result.Cell) bool {
		for _, c := range row {
			if strings.ContainsRune(strings.TrimSpace(c.Text), ' ') {
				return false
			}
		}
		return true
	}
	// wraps reports whether row continues the row above: text in some
	// cell, every such cell opening in lower case under a filled one; not
	// a line filling three quarters of the columns or more with single
	// words under another such line (rows of cells written in lower case,
	// "yes" and "no": a wrapped line continues the phrases above it).
	wraps := func(row, above []result.Cell) bool {
		filled := 0
		for _, c := range row {
			if c.Text == "" {
				continue
			}
			filled++
			if a := cellAt(above, c.Col); !unicode.IsLower([]rune(c.Text)[0]) || a == nil || a.Text == "" {
				return false
			}
		}
		// A line of single words filling the same columns as the line
		// above, itself of single words, is a row however few the
		// columns (codes and flags: "a|b", "or" under "|", "pipe"): a
		// wrapped line continues phrases. Not any line filling the same
		// columns: in two columns of sentences both wrap together
		// (measured on ICDAR 2013, that rule took four tables lower,
		// us-016_01 0.785 → 0.540; this one changes no image of either
		// set).
		aboveFilled := 0
		for _, c := range above {
			if c.Text != "" {
				aboveFilled++
			}
		}
		if filled >= 2 && filled == aboveFilled && oneWords(row) && oneWords(above) {
			return false
		}
		return filled > 0 && (t.Cols < 3 || filled*4 < t.Cols*3 || !oneWords(row) || !oneWords(above))
	}
	var out [][]result.Cell
	header := t.HeaderRows
	for r, row := range rows {
		if len(out) == 0 || !wraps(row, out[len(out)-1]) {
			out = append(out, row)
			continue
		}
		prev := out[len(out)-1]
		for _, c := range row {
			if c.Text == "" {
				continue
			}
			above := cellAt(prev, c.Col)
			above.Text += " " + c.Text
			above.Box = above.Box.Union(c.Box)
		}
		if r < t.HeaderRows {
			header--
		}
	}
	t.Cells = t.Cells[:0]
	for r, row := range out {
		for _, c := range row {
			c.Row = r
			t.Cells = append(t.Cells, c)
		}
	}
	t.Rows = len(out)
	t.HeaderRows = max(min(header, t.Rows), 1)
}

// HTML renders t as an HTML table: the header rows in <thead>, their cells
// <th> (header cells, as HTML marks them), the rest in <tbody> as <td>,
// spans as rowspan and colspan.
func HTML(t *result.Table) string {
	var b strings.Builder
	b.WriteString("<table>")
	byRow := make([][]result.Cell, t.Rows)
	for _, c := range t.Cells {
		if c.Row < t.Rows {
			byRow[c.Row] = append(byRow[c.Row], c)
		}
	}
	for r, cells := range byRow {
		switch {
		case r == 0 && t.HeaderRows > 0:
			b.WriteString("<thead>")
		case r == t.HeaderRows:
			b.WriteString("<tbody>")
		}
		b.WriteString("<tr>")
		sort.Slice(cells, func(i, j int) bool { return cells[i].Col < cells[j].Col })
		tag := "td"
		if r < t.HeaderRows {
			tag = "th"
		}
		for _, c := range cells {
			b.WriteString("<" + tag)
			if c.ColSpan > 1 {
				b.WriteString(` colspan="` + strconv.Itoa(c.ColSpan) + `"`)
			}
			if c.RowSpan > 1 {
				b.WriteString(` rowspan="` + strconv.Itoa(c.RowSpan) + `"`)
			}
			b.WriteString(">" + html.EscapeString(c.Text) + "</" + tag + ">")
		}
		b.WriteString("</tr>")
		if r == t.HeaderRows-1 {
			b.WriteString("</thead>")
		}
	}
	if t.Rows > t.HeaderRows {
		b.WriteString("</tbody>")
	}
	b.WriteString("</table>")
	return b.String()
}

// Markdown renders t as a pipe table when no cell spans, else as its HTML
// (Markdown allows HTML blocks).
func Markdown(t *result.Table) string {
	for _, c := range t.Cells {
		if c.RowSpan > 1 || c.ColSpan > 1 {
			return t.HTML
		}
	}
	if t.Rows == 0 || t.Cols == 0 {
		return ""
	}
	grid := make([][]string, t.Rows)
	for i := range grid {
		grid[i] = make([]string, t.Cols)
	}
	for _, c := range t.Cells {
		if c.Row < t.Rows && c.Col < t.Cols {
			grid[c.Row][c.Col] = EscapeMarkdown(c.Text)
		}
	}
	var b strings.Builder
	row := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	row(grid[0])
	sep := make([]string, t.Cols)
	for i := range sep {
		sep[i] = "---"
	}
	row(sep)
	for _, r := range grid[1:] {
		row(r)
	}
	return b.String()
}

// Find returns the regions of borderless tables among a page's words (in
// the page's pixels, top to bottom): runs of consecutive lines of which
// most are rows — two or more phrases apart by a column gap, of a few
// words each (running text in columns has long phrases). A run needs two
// such rows; up to two lines of one phrase may sit between rows (a label
// row, a wrapped cell), and a line of one phrase right above the first
// row that stands over a later column (a spanning header) belongs to it.
// Lines of two phrases or more whose last phrases are set flush right and
// ragged on the left (flushRight) are rows whatever their phrases' length.
// A vertical gap of more than two lines ends a run, and a run whose rows'
// phrases open in lower case a third of the time or more is columns of
// running text (lines continuing lines), not a table, unless its phrases
// are mostly single words (cells of "yes" and "no", running text's lines
// are phrases). Words, phrases and
// gaps are measured as borderless does — but for a line taller than the
// median (a heading in large type, whose word spaces are wider than the
// body's column gap), where the gap is most of that line's own height —
// so a region found here is one Recognize reads as a table of at least
// two columns.
func Find(words []result.Word) []result.Box {
	var in []result.Word
	for _, w := range words {
		if strings.TrimSpace(w.Text) != "" {
			in = append(in, w)
		}
	}
	ls := lines(in)
	if len(ls) < 2 {
		return nil
	}
	lineH, gap := phraseGap(ls)
	type info struct {
		box     result.Box
		phrases []result.Box
		lower   int // phrases opening in lower case
		words   int
		row     bool
	}
	infos := make([]info, len(ls))
	for i, l := range ls {
		var ps []result.Box
		words, lower := 0, 0
		// A line in larger type than the page's body (a heading) has its
		// word spaces in proportion: phrases there are apart by most of
		// its own height.
		lgap := max(gap, (l.y1-l.y0)*8/10)
		for _, w := range l.words {
			words++
			if n := len(ps); n > 0 && (w.Box.X0-ps[n-1].X1 < lgap || !linedUp(ls, i, ps[n-1].X1, w.Box.X0, lineH, gap)) {
				ps[n-1] = ps[n-1].Union(w.Box)
				continue
			}
			ps = append(ps, w.Box)
			if r := []rune(w.Text); unicode.IsLower(r[0]) {
				lower++
			}
		}
		var box result.Box
		for _, p := range ps {
			box = box.Union(p)
		}
		infos[i] = info{box: box, phrases: ps, lower: lower, words: words, row: len(ps) >= 2 && words <= maxPhraseWords*len(ps)}
	}
	// A column of cells set flush right and ragged on the left is a
	// table's, however long its phrases: running text in columns is set
	// flush left (or justified, flush on both sides).
	multi := func(k int) bool { return len(infos[k].phrases) >= 2 }
	for i := 0; i < len(ls); i++ {
		if !multi(i) {
			continue
		}
		last, members := i, []int{i}
		for k := i + 1; k < len(ls) && ls[k].y0-ls[k-1].y1 <= 2*lineH; k++ {
			if multi(k) {
				last, members = k, append(members, k)
			} else if k-last > 2 {
				break
			}
		}
		if flushRight(members, func(k int) result.Box { p := infos[k].phrases; return p[len(p)-1] }, lineH) {
			for _, k := range members {
				infos[k].row = true
			}
		}
		i = last
	}
	var out []result.Box
	for i := 0; i < len(ls); i++ {
		if !infos[i].row {
			continue
		}
		last, rows := i, 1
		for k := i + 1; k < len(ls) && ls[k].y0-ls[k-1].y1 <= 2*lineH; k++ {
			if infos[k].row {
				last, rows = k, rows+1
			} else if k-last > 2 {
				break
			}
		}
		phrases, lower, words := 0, 0, 0
		for k := i; k <= last; k++ {
			if infos[k].row {
				phrases, lower, words = phrases+len(infos[k].phrases), lower+infos[k].lower, words+infos[k].words
			}
		}
		if rows >= 2 && (lower*3 < phrases || words < 2*phrases) {
			first := i
			for k := i - 1; k >= 0 && k >= i-2; k-- {
				p := infos[k].phrases
				if len(p) != 1 || ls[first].y0-ls[k].y1 > lineH || p[0].X0 <= infos[i].phrases[0].X1 {
					break
				}
				first = k
			}
			var r result.Box
			for k := first; k <= last; k++ {
				r = r.Union(infos[k].box)
			}
			out = append(out, r)
		}
		i = last
	}
	return out
}

// linedUp reports whether the gap between x0 and x1 in line i of ls can
// be a column gap: a table's column gap runs through the rows, empty in
// the line above or below it (within two line heights, lineH), whereas a
// justified line's stretched word spaces move from line to line and the
// lines around them cover them. It is lined up when a neighbouring line
// that spans it (has words on both sides) leaves a piece of it empty at
// least min(x1-x0, gap) wide, or when no neighbouring line spans it
// (the last row of a table whose last cells are empty, a lone line).
func linedUp(ls []textLine, i, x0, x1, lineH, gap int) bool {
	w := min(x1-x0, gap)
	spanned := false
	for _, k := range []int{i - 1, i + 1} {
		if k < 0 || k >= len(ls) || max(ls[k].y0-ls[i].y1, ls[i].y0-ls[k].y1) > 2*lineH {
			continue
		}
		ws := ls[k].words // left to right
		if len(ws) == 0 || ws[0].Box.X0 >= x0 || ws[len(ws)-1].Box.X1 <= x1 {
			hi := 0
			for _, b := range ws {
				hi = max(hi, b.Box.X1)
			}
			if len(ws) == 0 || ws[0].Box.X0 >= x0 || hi <= x1 {
				continue
			}
		}
		spanned = true
		at, widest := x0, 0
		for _, b := range ws {
			if b.Box.X1 <= at || b.Box.X0 >= x1 {
				continue
			}
			widest = max(widest, b.Box.X0-at)
			at = max(at, b.Box.X1)
		}
		if max(widest, x1-at) >= w {
			return true
		}
	}
	return !spanned
}

// flushRight reports whether the last phrases of lines (at least three)
// end at one x, give or take half a line's height, three in four of them,
// while their starts spread over three lines' heights or more.
func flushRight(lines []int, last func(int) result.Box, lineH int) bool {
	if len(lines) < 3 {
		return false
	}
	var ends []int
	for _, k := range lines {
		ends = append(ends, last(k).X1)
	}
	sort.Ints(ends)
	end := ends[len(ends)/2]
	lo, hi, flush := 0, 0, 0
	for _, k := range lines {
		if b := last(k); abs(b.X1-end) <= lineH/2 {
			if flush == 0 || b.X0 < lo {
				lo = b.X0
			}
			hi = max(hi, b.X0)
			flush++
		}
	}
	return flush*4 >= len(lines)*3 && hi-lo >= 3*lineH
}

// maxPhraseWords is the most words a row's phrases have on average: table
// cells are a few words; a line of two columns of running text has more.
const maxPhraseWords = 4
