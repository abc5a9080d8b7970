// Package layout turns a recognised page (Tesseract's blocks, paragraphs,
// lines and words, and the page image) into a document page: blocks typed
// as title, heading, paragraph, list item, table, figure, caption, header,
// footer, page number or formula, tables given their structure, figures
// cropped, and every block given its place in reading order (recursive
// XY-cut). Pages decides headers and footers that repeat across pages.
package layout

import (
	"bytes"
	"image"
	"image/png"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/table"
)

// Options describe the words analysed. What the page is (a cropped
// table, a page with tables among its text, a page of text) is never told
// by the caller: it is decided from the page.
type Options struct {
	// ExactWords says the words are the page's own (a born-digital PDF's
	// text layer), not recognised: a "|" among them is text, never a
	// ruling line misread, so none is dropped (table.DropRuleMarks) nor
	// split or trimmed at a rule (table.RecognizeRead).
	ExactWords bool
}

// Analyze returns page's blocks as a document's: one block per paragraph
// of text, typed; tables recognised; figures cropped from g; sorted in
// reading order with Order set. g is the page as recognised (may be nil:
// then no ruling lines are found and no figure is cropped).
//
// Tables are grids of ruling lines, Tesseract's table blocks that read as
// tables, and runs of lines aligned in columns (table.Find), each where it
// is: an image that is a table (a crop or a screenshot of one) is one such
// run holding every word, and comes out as one table block, the whole
// page.
func Analyze(g *image.Gray, page *result.Page, o Options) []result.Block {
	var words []result.Word
	for _, b := range page.Blocks {
		for _, p := range b.Paragraphs {
			for _, l := range p.Lines {
				words = append(words, l.Words...)
			}
		}
	}
	bodyH := bodyLineHeight(page.Blocks)
	all := words
	words = uncut(words, page.Height)
	tw := words // the words tables are read from: recognised rules read as "|" left out
	if !o.ExactWords {
		tw = table.DropRuleMarks(words)
	}
	// A region is recognised once: a candidate that stays as it is after
	// the merge is not read again.
	read := map[result.Box]*result.Table{}
	recognize := func(r result.Box) *result.Table {
		if t, ok := read[r]; ok {
			return t
		}
		t := table.RecognizeRead(g, tw, r)
		if o.ExactWords {
			t = table.Recognize(g, tw, r)
		}
		read[r] = t
		return t
	}
	found := table.Find(tw)
	for i, r := range found { // the rules just above and below its lines belong to it
		pad := bodyH / 2
		found[i] = result.Box{X0: max(r.X0-pad, 0), Y0: max(r.Y0-pad, 0), X1: min(r.X1+pad, page.Width), Y1: min(r.Y1+pad, page.Height)}
	}
	// Every word in one run: the image is a table (a crop, a screenshot),
	// read whole — its frame rules included, and no time spent looking for
	// anything else.
	if len(found) == 1 && len(words) > 0 && len(wordsIn(words, found[0])) == len(words) {
		region := result.Box{X0: 0, Y0: 0, X1: page.Width, Y1: page.Height}
		if t := recognize(region); t.Rows >= 2 && t.Cols >= 2 {
			return []result.Block{{Type: result.BlockTable, Box: region, Table: t, Confidence: meanConf(words)}}
		}
	}

	// Table regions: grids of ruling lines, and Tesseract's table blocks
	// that hold up as tables (two columns and rows of short cells: Tesseract
	// also calls two columns of running text a table).
	var regions []result.Box
	if g != nil {
		regions = append(regions, ruledGrids(g, bodyH)...)
	}
	for _, b := range page.Blocks {
		if b.Type == result.BlockTable && tableLike(recognize(b.Box)) {
			regions = append(regions, b.Box)
		}
	}
	for _, r := range found {
		if t := recognize(r); t.Rows >= 2 && t.Cols >= 2 {
			regions = append(regions, r)
		}
	}
	regions = mergeBoxes(regions)

	var out []result.Block
	kept := regions[:0]
	for _, r := range regions {
		t := recognize(r)
		if t.Rows < 2 || t.Cols < 2 { // a box or a frame round a note: not a table, its words are text
			continue
		}
		kept = append(kept, r)
		out = append(out, result.Block{Type: result.BlockTable, Box: r, Table: t, Confidence: meanConf(wordsIn(words, r))})
	}
	regions = kept
	inTable := func(b result.Box) bool {
		cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
		for _, r := range regions {
			if cx >= r.X0 && cx < r.X1 && cy >= r.Y0 && cy < r.Y1 {
				return true
			}
		}
		return false
	}
	var paras []result.Paragraph
	var conf []float64
	for _, b := range page.Blocks {
		if len(b.Paragraphs) == 0 && inTable(b.Box) {
			continue
		}
		switch b.Type {
		case result.BlockSeparator:
			continue
		case result.BlockFigure:
			fb := result.Block{Type: result.BlockFigure, Box: b.Box, Confidence: b.Confidence}
			if g != nil {
				fb.Image = crop(g, b.Box)
			}
			out = append(out, fb)
			continue
		case result.BlockFormula:
			out = append(out, b)
			continue
		}
		for _, p := range b.Paragraphs {
			for _, part := range outside(p, inTable) {
				paras = append(paras, part)
				conf = append(conf, b.Confidence)
			}
		}
	}
	// Pictures Tesseract did not call images: ink where no word is.
	if g != nil {
		var known []result.Box
		for _, b := range out {
			known = append(known, b.Box)
		}
		for _, b := range page.Blocks {
			if b.Type == result.BlockFigure {
				known = append(known, b.Box)
			}
		}
		for _, r := range pictures(g, all, known, bodyH) {
			out = append(out, result.Block{Type: result.BlockFigure, Box: r, Image: crop(g, r)})
		}
	}
	// Fragments of one line (a justified line's words apart by wide
	// spaces) are joined; lines that jump a column gap mean Tesseract read
	// across columns: rebuild the paragraphs from line fragments, column
	// by column.
	paras, conf = rejoin(paras, conf, bodyH)
	if crossesColumns(paras, bodyH) {
		paras = regroup(paras, bodyH)
		conf = nil
	}
	gap, measured := lineGap(paras)
	for i, p := range paras {
		c := meanConf(paraWords(p))
		if conf != nil {
			c = conf[i]
		}
		for _, gp := range splitGaps(p, gap, measured, bodyH) {
			for _, part := range splitList(gp) {
				out = append(out, result.Block{Type: classify(part, bodyH), Box: part.Box, Confidence: c, Paragraphs: []result.Paragraph{part}})
			}
		}
	}
	marginals(out, page, bodyH)
	captions(out, bodyH)
	titleOf(out, page)
	order(out, bodyH)
	return continuations(out, bodyH)
}

// uncut returns the words not cut off by the page's top or bottom edge:
// a word touching the edge and less than two thirds of the words' median
// height is the rest of a line the crop (a table cut from its page) cut
// through, read as nonsense; it is no table's (nor does it keep the page
// from being read whole as one table; it is then dropped with it).
// Paragraphs take their words from the blocks: elsewhere it stays text.
func uncut(words []result.Word, height int) []result.Word {
	if len(words) == 0 {
		return words
	}
	hs := make([]int, len(words))
	for i, w := range words {
		hs[i] = w.Box.Height()
	}
	sort.Ints(hs)
	med := hs[len(hs)/2]
	out := make([]result.Word, 0, len(words))
	for _, w := range words {
		if (w.Box.Y0 <= 0 || w.Box.Y1 >= height) && w.Box.Height()*3 < med*2 {
			continue
		}
		out = append(out, w)
	}
	return out
}

// outside returns the runs of p's lines whose centre is not in a table,
// each as a paragraph.
func outside(p result.Paragraph, inTable func(result.Box) bool) []result.Paragraph {
	var out []result.Paragraph
	open := false
	for _, l := range p.Lines {
		if inTable(l.Box) {
			open = false
			continue
		}
		if !open {
			out = append(out, result.Paragraph{})
			open = true
		}
		cur := &out[len(out)-1]
		cur.Lines = append(cur.Lines, l)
		cur.Box = cur.Box.Union(l.Box)
	}
	return out
}

// tableLike reports whether a recognised region reads as a table: at least
// two rows and two columns, and cells of a few words (running text in
// columns has long ones).
func tableLike(t *result.Table) bool {
	if t.Rows < 2 || t.Cols < 2 {
		return false
	}
	words, cells := 0, 0
	for _, c := range t.Cells {
		if n := len(strings.Fields(c.Text)); n > 0 {
			words += n
			cells++
		}
	}
	return cells > 0 && float64(words)/float64(cells) <= 3
}

func paraWords(p result.Paragraph) []result.Word {
	var ws []result.Word
	for _, l := range p.Lines {
		ws = append(ws, l.Words...)
	}
	return ws
}

// columnGap is how wide a gap between words must be to separate columns.
func columnGap(lineH int) int { return lineH * 3 / 2 }

// gutters decides whether a gap in a line is a gap between columns: a
// column's gutter runs down the page, empty in the lines above and below,
// whereas a justified line's stretched word spaces move from line to
// line, and the lines around them cover them. lines are every line of
// the page's text.
type gutters struct {
	lines []result.Line
	bodyH int
}

// band returns the words of the lines in the row just above l (up)
// or just below it: lines of about l's size (0.6–1.6× its height) whose
// centre lies between half and 2.2 of l's heights (at least the body's)
// from l's, whichever paragraph or block they came in (a row may be in
// fragments).
func (g gutters) band(l result.Line, up bool) []result.Word {
	h := max(l.Box.Height(), g.bodyH)
	cy := (l.Box.Y0 + l.Box.Y1) / 2
	var ws []result.Word
	for _, n := range g.lines {
		d := (n.Box.Y0+n.Box.Y1)/2 - cy
		if up {
			d = -d
		}
		nh := n.Box.Height()
		if d*2 < h || d*10 > h*22 || nh*10 < l.Box.Height()*6 || nh*10 > l.Box.Height()*16 {
			continue
		}
		ws = append(ws, n.Words...)
	}
	return ws
}

// continues reports, for the gap between x0 and x1 in line l, whether
// some row next to it (band) spans the gap — has words on both sides — and
// whether every row that spans it leaves it empty: an uncovered piece of
// it at least min(x1-x0, l's height) wide (a ragged column's line ending
// short leaves the gutter empty, not all of the gap).
func (g gutters) continues(l result.Line, x0, x1 int) (spanned, empty bool) {
	w := min(x1-x0, max(l.Box.Height(), g.bodyH))
	empty = true
	for _, up := range []bool{true, false} {
		ws := g.band(l, up)
		lo, hi := x1, x0
		for _, b := range ws {
			lo, hi = min(lo, b.Box.X0), max(hi, b.Box.X1)
		}
		if len(ws) == 0 || lo >= x0 || hi <= x1 {
			continue
		}
		spanned = true
		sort.Slice(ws, func(i, j int) bool { return ws[i].Box.X0 < ws[j].Box.X0 })
		at, widest := x0, 0
		for _, b := range ws {
			if b.Box.X1 <= at || b.Box.X0 >= x1 {
				continue
			}
			widest = max(widest, b.Box.X0-at)
			at = max(at, b.Box.X1)
		}
		widest = max(widest, x1-at)
		if widest < w {
			empty = false
		}
	}
	return spanned, empty
}

// columnGapAt reports whether the gap between x0 and x1 in line l
// separates columns: wider than columnGap and, where a row above or below
// spans it, empty in every such row. A gap no neighbouring row spans (a
// lone line) is judged by its width alone.
func (g gutters) columnGapAt(l result.Line, x0, x1 int) bool {
	if x1-x0 <= columnGap(max(l.Box.Height(), g.bodyH)) {
		return false
	}
	spanned, empty := g.continues(l, x0, x1)
	return !spanned || empty
}

// sameLine reports whether fragments a and b (a left of b, on one row)
// are pieces of one line: apart by under four times the line's height (a
// justified line stretched to its measure; a PDF's text layer breaks such
// a line into a block a word), by a gap that the rows above and below
// cover where they span it, or, where none spans it, narrower than a
// column gap.
func (g gutters) sameLine(a, b result.Line) bool {
	x0, x1 := a.Box.X1, b.Box.X0
	l := a
	l.Box = a.Box.Union(b.Box)
	h := max(l.Box.Height(), g.bodyH)
	if x1 < x0-h/2 || x1-x0 > 4*h {
		return false
	}
	if spanned, empty := g.continues(l, x0, x1); spanned {
		return !empty
	}
	return x1-x0 <= columnGap(h)
}

func pageLines(paras []result.Paragraph) []result.Line {
	var ls []result.Line
	for _, p := range paras {
		ls = append(ls, p.Lines...)
	}
	return ls
}

func crossesColumns(paras []result.Paragraph, bodyH int) bool {
	g := gutters{lines: pageLines(paras), bodyH: bodyH}
	for _, p := range paras {
		for _, l := range p.Lines {
			for i := 1; i < len(l.Words); i++ {
				if g.columnGapAt(l, l.Words[i-1].Box.X1, l.Words[i].Box.X0) {
					return true
				}
			}
		}
	}
	return false
}

// rejoin joins paragraphs that end and begin on one row in type of one
// size (heights within 1.6× of each other: a word with a descender beside
// one of small letters), apart by a gap that is no column's
// (gutters.sameLine): the fragments of a justified line, which a PDF's
// text layer gives as blocks of their own (a block a word) and a
// recognition may too. The row's fragments become one line of the first
// paragraph, the later paragraph's other lines follow it. conf follows
// paras (the first paragraph's is kept).
func rejoin(paras []result.Paragraph, conf []float64, bodyH int) ([]result.Paragraph, []float64) {
	for {
		g := gutters{lines: pageLines(paras), bodyH: bodyH}
		i, j := -1, -1
		for a := range paras {
			last := paras[a].Lines[len(paras[a].Lines)-1]
			best := -1
			for b := range paras {
				if b == a {
					continue
				}
				first := paras[b].Lines[0]
				ov := min(last.Box.Y1, first.Box.Y1) - max(last.Box.Y0, first.Box.Y0)
				sameSize := first.Box.Height()*10 <= last.Box.Height()*16 && last.Box.Height()*10 <= first.Box.Height()*16
				if !sameSize || ov*2 < min(last.Box.Height(), first.Box.Height()) || first.Box.X0 < last.Box.X1-max(last.Box.Height(), bodyH)/2 {
					continue
				}
				if best < 0 || first.Box.X0 < paras[best].Lines[0].Box.X0 {
					best = b
				}
			}
			if best >= 0 && g.sameLine(last, paras[best].Lines[0]) {
				i, j = a, best
				break
			}
		}
		if i < 0 {
			return paras, conf
		}
		p, q := &paras[i], paras[j]
		last := &p.Lines[len(p.Lines)-1]
		last.Words = append(append([]result.Word(nil), last.Words...), q.Lines[0].Words...)
		last.Box = last.Box.Union(q.Lines[0].Box)
		p.Lines = append(p.Lines, q.Lines[1:]...)
		p.Box = p.Box.Union(q.Box)
		paras = append(paras[:j], paras[j+1:]...)
		if conf != nil {
			conf = append(conf[:j], conf[j+1:]...)
		}
	}
}

// regroup splits lines at column gaps and stacks the fragments into
// paragraphs: a fragment continues the paragraph whose last line is just
// above it (less than a line's height between) and overlaps it across.
func regroup(paras []result.Paragraph, bodyH int) []result.Paragraph {
	g := gutters{lines: pageLines(paras), bodyH: bodyH}
	var frags []result.Line
	for _, p := range paras {
		for _, l := range p.Lines {
			cur := result.Line{}
			for i, w := range l.Words {
				if i > 0 && g.columnGapAt(l, l.Words[i-1].Box.X1, w.Box.X0) {
					frags = append(frags, cur)
					cur = result.Line{}
				}
				cur.Words = append(cur.Words, w)
				cur.Box = cur.Box.Union(w.Box)
				cur.Confidence = l.Confidence
			}
			if len(cur.Words) > 0 {
				frags = append(frags, cur)
			}
		}
	}
	sort.SliceStable(frags, func(i, j int) bool { return frags[i].Box.Y0 < frags[j].Box.Y0 })
	var out []result.Paragraph
	for _, f := range frags {
		best := -1
		for i := range out {
			last := out[i].Lines[len(out[i].Lines)-1]
			gap := f.Box.Y0 - last.Box.Y1
			ov := min(f.Box.X1, last.Box.X1) - max(f.Box.X0, last.Box.X0)
			sameSize := f.Box.Height()*10 <= last.Box.Height()*13 && last.Box.Height()*10 <= f.Box.Height()*13
			if gap >= -2 && gap < max(last.Box.Height(), bodyH) && ov*3 >= min(f.Box.Width(), last.Box.Width()) && sameSize {
				best = i
			}
		}
		if best < 0 {
			out = append(out, result.Paragraph{Box: f.Box, Lines: []result.Line{f}})
			continue
		}
		out[best].Lines = append(out[best].Lines, f)
		out[best].Box = out[best].Box.Union(f.Box)
	}
	return out
}

// lineGap is the page's leading: the median space between one line's
// box and the next one's within the paragraphs (pixels, may be negative:
// descenders reach below the next line's top), and whether any paragraph
// had two lines to measure it on.
func lineGap(paras []result.Paragraph) (int, bool) {
	var gs []int
	for _, p := range paras {
		for i := 1; i < len(p.Lines); i++ {
			gs = append(gs, p.Lines[i].Box.Y0-p.Lines[i-1].Box.Y1)
		}
	}
	if len(gs) == 0 {
		return 0, false
	}
	sort.Ints(gs)
	return gs[len(gs)/2], true
}

// splitGaps splits a paragraph where the space between two of its lines
// exceeds the page's leading (gap, lineGap) by more than three quarters
// of the body's text size (bodyH): a blank line or a paragraph's spacing,
// which Tesseract's paragraphs sometimes run across (a letter's date and
// its greeting, set a line apart: 23 px over a leading of 1 px in 13 px
// text). A line without ascenders under one without descenders adds
// about half a text size, which stays under it; the text's size, not the
// lines' pitch, is the measure, so a large line (a logo over its company's
// name) does not split from a small one set close under it. Evenly spaced
// lines, double-spaced ones included, are never split (their spacing is
// the page's leading). No leading measured (no paragraph of two lines on
// the page): nothing is split.
func splitGaps(p result.Paragraph, gap int, measured bool, bodyH int) []result.Paragraph {
	if !measured || len(p.Lines) < 2 {
		return []result.Paragraph{p}
	}
	var out []result.Paragraph
	for i, l := range p.Lines {
		if i == 0 || (l.Box.Y0-p.Lines[i-1].Box.Y1-gap)*4 > bodyH*3 {
			out = append(out, result.Paragraph{})
		}
		cur := &out[len(out)-1]
		cur.Lines = append(cur.Lines, l)
		cur.Box = cur.Box.Union(l.Box)
	}
	return out
}

// splitList splits a paragraph whose lines open with list markers into
// one paragraph per item.
func splitList(p result.Paragraph) []result.Paragraph {
	starts := func(l result.Line) bool { return len(l.Words) > 1 && bullet.MatchString(l.Words[0].Text) }
	if len(p.Lines) < 2 || !starts(p.Lines[0]) {
		return []result.Paragraph{p}
	}
	var out []result.Paragraph
	for _, l := range p.Lines {
		if starts(l) || len(out) == 0 {
			out = append(out, result.Paragraph{})
		}
		cur := &out[len(out)-1]
		cur.Lines = append(cur.Lines, l)
		cur.Box = cur.Box.Union(l.Box)
	}
	return out
}

// continuations joins a block that opens in lower case to the paragraph
// or list item just before it in reading order, when it sits right below:
// Tesseract often ends a paragraph one line early.
func continuations(bs []result.Block, bodyH int) []result.Block {
	var out []result.Block
	for _, b := range bs {
		if n := len(out); n > 0 && len(b.Paragraphs) == 1 {
			prev := &out[n-1]
			r := []rune(paraText(b.Paragraphs[0]))
			textual := b.Type == result.BlockParagraph || b.Type == result.BlockHeading
			joinable := prev.Type == result.BlockParagraph || prev.Type == result.BlockListItem
			gap := b.Box.Y0 - prev.Box.Y1
			overlap := min(b.Box.X1, prev.Box.X1) - max(b.Box.X0, prev.Box.X0)
			if textual && joinable && len(r) > 0 && unicode.IsLower(r[0]) && gap >= -2 && gap <= bodyH*3/2 && overlap > 0 && len(prev.Paragraphs) > 0 {
				last := &prev.Paragraphs[len(prev.Paragraphs)-1]
				last.Lines = append(last.Lines, b.Paragraphs[0].Lines...)
				last.Box = last.Box.Union(b.Box)
				prev.Box = prev.Box.Union(b.Box)
				continue
			}
		}
		out = append(out, b)
	}
	for i := range out {
		out[i].Order = i
	}
	return out
}

func meanConf(ws []result.Word) float64 {
	if len(ws) == 0 {
		return 0
	}
	s := 0.0
	for _, w := range ws {
		s += w.Confidence
	}
	return s / float64(len(ws))
}

func wordsIn(ws []result.Word, r result.Box) []result.Word {
	var out []result.Word
	for _, w := range ws {
		if cx, cy := (w.Box.X0+w.Box.X1)/2, (w.Box.Y0+w.Box.Y1)/2; cx >= r.X0 && cx < r.X1 && cy >= r.Y0 && cy < r.Y1 {
			out = append(out, w)
		}
	}
	return out
}

// bodyLineHeight is the median text size of the page's lines, weighted by
// words: the body text's size (see lineSize).
func bodyLineHeight(blocks []result.Block) int {
	var hs []int
	for _, b := range blocks {
		for _, p := range b.Paragraphs {
			for _, l := range p.Lines {
				size := lineSize(l)
				for range l.Words {
					hs = append(hs, size)
				}
			}
		}
	}
	if len(hs) == 0 {
		return 20
	}
	sort.Ints(hs)
	return max(hs[len(hs)/2], 4)
}

// lineSize measures a line's text size as the median height of its words
// without descenders (a box's height otherwise depends on whether a word
// has a g or a y); for a line of only such words, their height less a
// descender's worth.
func lineSize(l result.Line) int {
	var plain, all []int
	for _, w := range l.Words {
		all = append(all, w.Box.Height())
		if !strings.ContainsAny(w.Text, "gjpqyQ,;()[]{}|/$@") {
			plain = append(plain, w.Box.Height())
		}
	}
	if len(plain) > 0 {
		sort.Ints(plain)
		return plain[len(plain)/2]
	}
	if len(all) == 0 {
		return l.Box.Height()
	}
	sort.Ints(all)
	return all[len(all)/2] * 10 / 13 // descenders add about 30 %
}

var (
	bullet    = regexp.MustCompile(`^([•·▪◦‣∙\-–—*o¢©®«»]|\(?[0-9]{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxIVX]{1,4}[.)])$`)
	captionRe = regexp.MustCompile(`^(?i)(fig(ure)?\.?|table|tab\.)\s*[0-9IVX]+`)
	numberRe  = regexp.MustCompile(`^(?i)(page\s*)?[0-9]{1,4}(\s*(/|of)\s*[0-9]{1,4})?$|^[-–]\s*[0-9]{1,4}\s*[-–]$`)
)

// classify types a paragraph: heading (larger than body text and short),
// list item (opens with a bullet or a number), else paragraph.
func classify(p result.Paragraph, bodyH int) result.BlockType {
	first := p.Lines[0].Words
	words := 0
	var lh []int
	for _, l := range p.Lines {
		words += len(l.Words)
		lh = append(lh, lineSize(l))
	}
	sort.Ints(lh)
	h := lh[len(lh)/2]
	if len(first) > 0 {
		w := first[0].Text
		if bullet.MatchString(w) && (len(first) > 1 || len(p.Lines) > 1) {
			return result.BlockListItem
		}
		if r := []rune(w); len(r) > 1 && strings.ContainsRune("•·▪◦‣∙", r[0]) {
			return result.BlockListItem
		}
	}
	if len(p.Lines) <= 3 && words <= 20 && float64(h) >= 1.3*float64(bodyH) {
		return result.BlockHeading
	}
	// A short line standing alone, capitalised, not ending a sentence: a
	// heading set in the body's size (bold, in most documents).
	if len(p.Lines) == 1 && words <= 6 && len(first) > 0 {
		text := strings.TrimSpace(paraText(p))
		r := []rune(text)
		if len(r) > 2 && unicode.IsUpper(r[0]) && !strings.ContainsRune(".,;:!?", r[len(r)-1]) && !numberRe.MatchString(text) {
			return result.BlockHeading
		}
	}
	return result.BlockParagraph
}

// marginals marks short blocks in the top and bottom bands (7 % of the
// page's height): a number there is a page number; other text of one or two
// lines a header or footer only when it stands well apart from the body —
// at least marginGap body lines from the nearest block below (a header) or
// above (a footer). A page's first or last body line, set at the usual
// paragraph spacing from the rest (a born-digital page printed with narrow
// margins), stays body text; headers that repeat across pages are found
// by Pages whatever their spacing.
func marginals(bs []result.Block, page *result.Page, bodyH int) {
	band := page.Height * 7 / 100
	for i := range bs {
		b := &bs[i]
		if b.Type != result.BlockParagraph && b.Type != result.BlockHeading {
			continue
		}
		text := strings.TrimSpace(b.Words())
		top, bottom := b.Box.Y1 <= band, b.Box.Y0 >= page.Height-band
		if !top && !bottom {
			continue
		}
		switch {
		case numberRe.MatchString(text):
			b.Type = result.BlockPageNumber
		case len(b.Paragraphs[0].Lines) > 2:
		case top && apart(bs, i, true, marginGap*bodyH):
			b.Type = result.BlockHeader
		case bottom && apart(bs, i, false, marginGap*bodyH):
			b.Type = result.BlockFooter
		}
	}
}

// marginGap is how many body line heights (bodyH) of space set a running
// header or footer apart from the body: paragraphs are spaced about one
// line apart, a page's furniture by more.
const marginGap = 2

// apart reports whether block i has no other block within gap pixels below
// it (below true) or above it, and has some block on that side (a page
// whose only text is one line has no body to stand apart from). Blocks
// beside it (a page number on the header's line) are not counted.
func apart(bs []result.Block, i int, below bool, gap int) bool {
	b := bs[i].Box
	mid := (b.Y0 + b.Y1) / 2
	found := false
	for j, o := range bs {
		if j == i {
			continue
		}
		var d int
		switch {
		case below && o.Box.Y0 > mid:
			d = o.Box.Y0 - b.Y1
		case !below && o.Box.Y1 < mid:
			d = b.Y0 - o.Box.Y1
		default:
			continue
		}
		found = true
		if d < gap {
			return false
		}
	}
	return found
}

// captions marks "Figure N…"/"Table N…" paragraphs next to a figure or
// table.
func captions(bs []result.Block, bodyH int) {
	for i := range bs {
		b := &bs[i]
		if b.Type != result.BlockParagraph || !captionRe.MatchString(b.Words()) {
			continue
		}
		for _, o := range bs {
			if o.Type != result.BlockFigure && o.Type != result.BlockTable {
				continue
			}
			near := 3 * bodyH
			vgap := max(o.Box.Y0-b.Box.Y1, b.Box.Y0-o.Box.Y1)
			overlapX := min(o.Box.X1, b.Box.X1) - max(o.Box.X0, b.Box.X0)
			if vgap <= near && overlapX > 0 {
				b.Type = result.BlockCaption
				break
			}
		}
	}
}

// titleOf makes the largest heading in the top third of the first page its
// title.
func titleOf(bs []result.Block, page *result.Page) {
	if page.Number > 1 {
		return
	}
	best, bestH := -1, 0
	for i, b := range bs {
		if b.Type == result.BlockHeading && b.Box.Y0 < page.Height/3 {
			if h := lineSize(b.Paragraphs[0].Lines[0]); h > bestH {
				best, bestH = i, h
			}
		}
	}
	if best >= 0 {
		bs[best].Type = result.BlockTitle
	}
}

func paraText(p result.Paragraph) string {
	var parts []string
	for _, l := range p.Lines {
		for _, w := range l.Words {
			parts = append(parts, w.Text)
		}
	}
	return strings.Join(parts, " ")
}

// order sorts blocks in reading order by recursive XY-cut: a wide
// horizontal gap (a section break, two body lines or more) is cut first,
// then a vertical gap between columns, then any horizontal gap; headers
// come first and footers and page numbers last.
func order(bs []result.Block, bodyH int) {
	var main, head, foot []int
	for i := range bs {
		switch bs[i].Type {
		case result.BlockHeader:
			head = append(head, i)
		case result.BlockFooter, result.BlockPageNumber:
			foot = append(foot, i)
		default:
			main = append(main, i)
		}
	}
	var seq []int
	seq = append(seq, xyCut(bs, head, bodyH)...)
	seq = append(seq, xyCut(bs, main, bodyH)...)
	seq = append(seq, xyCut(bs, foot, bodyH)...)
	sorted := make([]result.Block, len(bs))
	for n, i := range seq {
		sorted[n] = bs[i]
		sorted[n].Order = n
	}
	copy(bs, sorted)
}

func xyCut(bs []result.Block, ids []int, bodyH int) []int {
	if len(ids) <= 1 {
		return ids
	}
	if a, b, gap, ok := cut(bs, ids, true); ok && gap >= 2*bodyH {
		return append(xyCut(bs, a, bodyH), xyCut(bs, b, bodyH)...)
	}
	if a, b, _, ok := cut(bs, ids, false); ok {
		return append(xyCut(bs, a, bodyH), xyCut(bs, b, bodyH)...)
	}
	if a, b, _, ok := cut(bs, ids, true); ok {
		return append(xyCut(bs, a, bodyH), xyCut(bs, b, bodyH)...)
	}
	out := append([]int(nil), ids...)
	sort.SliceStable(out, func(i, j int) bool {
		bi, bj := bs[out[i]].Box, bs[out[j]].Box
		if bi.Y0 != bj.Y0 {
			return bi.Y0 < bj.Y0
		}
		return bi.X0 < bj.X0
	})
	return out
}

// cut splits ids at the widest gap along y (horizontal) or x, if any, and
// returns the gap.
func cut(bs []result.Block, ids []int, horizontal bool) ([]int, []int, int, bool) {
	span := func(b result.Box) (int, int) {
		if horizontal {
			return b.Y0, b.Y1
		}
		return b.X0, b.X1
	}
	sorted := append([]int(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool {
		a, _ := span(bs[sorted[i]].Box)
		b, _ := span(bs[sorted[j]].Box)
		return a < b
	})
	bestGap, bestAt := 0, -1
	_, reach := span(bs[sorted[0]].Box)
	for k := 1; k < len(sorted); k++ {
		s, e := span(bs[sorted[k]].Box)
		if gap := s - reach; gap > bestGap {
			bestGap, bestAt = gap, k
		}
		reach = max(reach, e)
	}
	if bestAt < 0 {
		return nil, nil, 0, false
	}
	return sorted[:bestAt], sorted[bestAt:], bestGap, true
}

// pictures finds regions of ink that hold no words: on a grid of cells a
// third of a body line wide, cells with enough dark pixels and no word,
// joined into connected regions at least three body lines high and wide
// and not inside a known block.
func pictures(g *image.Gray, words []result.Word, known []result.Box, bodyH int) []result.Box {
	cell := max(bodyH/3, 4)
	gw, gh := g.Rect.Dx()/cell, g.Rect.Dy()/cell
	if gw == 0 || gh == 0 {
		return nil
	}
	ink := make([]bool, gw*gh)
	for cy := range gh {
		for cx := range gw {
			dark := 0
			for y := cy * cell; y < (cy+1)*cell; y++ {
				row := g.Pix[y*g.Stride:]
				for x := cx * cell; x < (cx+1)*cell; x++ {
					if row[x] < 200 {
						dark++
					}
				}
			}
			ink[cy*gw+cx] = dark*5 >= cell*cell // a fifth of the cell
		}
	}
	clear := func(b result.Box, pad int) {
		for cy := max((b.Y0-pad)/cell, 0); cy <= min((b.Y1+pad)/cell, gh-1); cy++ {
			for cx := max((b.X0-pad)/cell, 0); cx <= min((b.X1+pad)/cell, gw-1); cx++ {
				ink[cy*gw+cx] = false
			}
		}
	}
	for _, w := range words {
		clear(w.Box, cell)
	}
	for _, k := range known {
		clear(k, 0)
	}
	seen := make([]bool, len(ink))
	var out []result.Box
	for i := range ink {
		if !ink[i] || seen[i] {
			continue
		}
		stack := []int{i}
		seen[i] = true
		x0, y0, x1, y1 := gw, gh, 0, 0
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			cx, cy := j%gw, j/gw
			x0, y0, x1, y1 = min(x0, cx), min(y0, cy), max(x1, cx), max(y1, cy)
			for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				nx, ny := cx+d[0], cy+d[1]
				if nx >= 0 && ny >= 0 && nx < gw && ny < gh && ink[ny*gw+nx] && !seen[ny*gw+nx] {
					seen[ny*gw+nx] = true
					stack = append(stack, ny*gw+nx)
				}
			}
		}
		b := result.Box{X0: x0 * cell, Y0: y0 * cell, X1: (x1 + 1) * cell, Y1: (y1 + 1) * cell}
		if b.Width() >= 3*bodyH && b.Height() >= 3*bodyH {
			out = append(out, b)
		}
	}
	return out
}

// ruledGrids finds regions where horizontal and vertical rules cross: the
// bounding boxes of connected groups crossing at least four times (two
// rules of each direction, or one column rule down a table ruled row by
// row; a rule under a heading meeting a column rule crosses once).
func ruledGrids(g *image.Gray, bodyH int) []result.Box {
	page := result.Box{X0: g.Rect.Min.X, Y0: g.Rect.Min.Y, X1: g.Rect.Max.X, Y1: g.Rect.Max.Y}
	rules := table.Rules(g, page, max(4*bodyH, 40), max(2*bodyH, 24), max(bodyH/3, 4))
	n := len(rules)
	parent := make([]int, n)
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
	grow := func(b result.Box) result.Box {
		return result.Box{X0: b.X0 - 3, Y0: b.Y0 - 3, X1: b.X1 + 3, Y1: b.Y1 + 3}
	}
	var crossings []int // one rule of each crossing pair
	for i := range n {
		for j := i + 1; j < n; j++ {
			if rules[i].Horizontal != rules[j].Horizontal && intersects(grow(rules[i].Box), grow(rules[j].Box)) {
				parent[find(i)] = find(j)
				crossings = append(crossings, i)
			}
		}
	}
	type group struct {
		box      result.Box
		crossing int
	}
	groups := map[int]*group{}
	for i, r := range rules {
		gr := groups[find(i)]
		if gr == nil {
			gr = &group{}
			groups[find(i)] = gr
		}
		gr.box = gr.box.Union(r.Box)
	}
	for _, i := range crossings {
		groups[find(i)].crossing++
	}
	var out []result.Box
	for _, gr := range groups {
		if gr.crossing >= 4 {
			out = append(out, result.Box{X0: gr.box.X0, Y0: gr.box.Y0, X1: gr.box.X1 + 1, Y1: gr.box.Y1 + 1})
		}
	}
	return out
}

func intersects(a, b result.Box) bool {
	return a.X0 < b.X1 && b.X0 < a.X1 && a.Y0 < b.Y1 && b.Y0 < a.Y1
}

// mergeBoxes unites overlapping boxes.
func mergeBoxes(bs []result.Box) []result.Box {
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(bs) && !changed; i++ {
			for j := i + 1; j < len(bs); j++ {
				if intersects(bs[i], bs[j]) {
					bs[i] = bs[i].Union(bs[j])
					bs = append(bs[:j], bs[j+1:]...)
					changed = true
					break
				}
			}
		}
	}
	return bs
}

// crop encodes box of g as PNG.
func crop(g *image.Gray, b result.Box) []byte {
	r := image.Rect(b.X0, b.Y0, b.X1, b.Y1).Intersect(g.Rect)
	if r.Empty() {
		return nil
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g.SubImage(r)); err != nil {
		return nil
	}
	return buf.Bytes()
}

// Pages marks blocks that repeat in the top or bottom band of most pages
// (digits ignored, so "Page 3" matches "Page 4") as headers and footers,
// and names figure assets page by page.
func Pages(pages []*result.Page) {
	if len(pages) >= 2 {
		count := map[string]int{}
		key := func(p *result.Page, b result.Block) (string, bool) {
			band := p.Height * 12 / 100
			if b.Box.Y1 > band && b.Box.Y0 < p.Height-band {
				return "", false
			}
			t := strings.Map(func(r rune) rune {
				if unicode.IsDigit(r) || unicode.IsSpace(r) {
					return -1
				}
				return unicode.ToLower(r)
			}, b.Words())
			pos := "top"
			if b.Box.Y0 >= p.Height-band {
				pos = "bottom"
			}
			return pos + ":" + t, t != ""
		}
		for _, p := range pages {
			seen := map[string]bool{}
			for _, b := range p.Blocks {
				if k, ok := key(p, b); ok && !seen[k] {
					seen[k] = true
					count[k]++
				}
			}
		}
		for _, p := range pages {
			for i := range p.Blocks {
				b := &p.Blocks[i]
				if k, ok := key(p, *b); ok && count[k] >= max(2, (len(pages)+1)/2) && b.Type != result.BlockPageNumber {
					if strings.HasPrefix(k, "top:") {
						b.Type = result.BlockHeader
					} else {
						b.Type = result.BlockFooter
					}
				}
			}
		}
	}
	for _, p := range pages {
		n := 0
		for i := range p.Blocks {
			if p.Blocks[i].Type == result.BlockFigure && len(p.Blocks[i].Image) > 0 {
				n++
				p.Blocks[i].Asset = "page" + strconv.Itoa(p.Number) + "-figure" + strconv.Itoa(n) + ".png"
			}
		}
	}
}
