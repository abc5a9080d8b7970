package ppocr

import (
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/lector-ocr/lector/internal/result"
)

// Layout: PP-OCR gives text lines and no structure. They are put in reading
// order and grouped here:
//   - regions by recursive XY-cut: a region is split into columns at a
//     vertical strip that no line crosses, at least colGap line heights wide,
//     with lines of text (colLine times as wide as high) on both sides in
//     two or more of the bands it divides, the lines right of it
//     starting at one x in at least half of their rows (leftAligned: a
//     receipt's flush-right prices do not make a column); otherwise into
//     bands at horizontal gaps no line crosses; columns read left to right,
//     bands top to bottom;
//   - rows, within a region: lines whose vertical extents overlap by at
//     least half the smaller height are one result line, left to right (the
//     detector often splits a line at a wide space);
//   - paragraphs: consecutive rows whose horizontal extents overlap, the
//     gap between them under paraGap of their height, and whose heights are
//     alike (within paraHeight×);
//   - one text block per paragraph, in reading order.
//
// A tilted page is grouped as if level: the grouping above runs on the
// lines turned back by the median direction of the level (not Vertical)
// lines' quadrilaterals, at any tilt, and the result keeps the boxes and
// polygons as read; and two lines are on one row when their extents
// across the direction of the row's last line overlap (projected on its
// normal), not their upright extents. Upright bounding boxes of long lines
// overlap their neighbours' from about 3° on (a 900 px line of 22 px text
// at 3° rises 47 px): grouped deskewed only past 3°, tilt3.png of issue 14
// read three printed lines as one row, and lines tilted 15° or more were
// read as one row before any deskewing (tilt15.png, tilt25.png).
const (
	colGap     = 0.8
	colLine    = 4.0 // a column's lines are at least this many times as wide as high
	rowOverlap = 0.5
	paraGap    = 0.8
	paraHeight = 1.6
	alignTol   = 0.3 // line heights: a column's lines start this close to their median start
)

// words splits a recognised line into words at spaces, each with the box
// of its characters' span within the line's quadrilateral. A run of
// characters without spaces is one word, in Chinese too (the recogniser
// gives no word breaks there; hOCR and PDF get the run as one word).
func (l line) words() []result.Word {
	var out []result.Word
	start := -1
	flush := func(end int) { // chars[start:end]
		if start < 0 {
			return
		}
		rs := make([]rune, 0, end-start)
		conf := 0.0
		for _, c := range l.Chars[start:end] {
			rs = append(rs, c.R)
			conf += float64(c.Prob)
		}
		f0, f1 := l.Spans[start][0], l.Spans[end-1][1]
		out = append(out, result.Word{Text: string(rs), Box: l.span(f0, f1), Confidence: round1(100 * conf / float64(end-start))})
		start = -1
	}
	for i, c := range l.Chars {
		if unicode.IsSpace(c.R) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(l.Chars))
	return out
}

// span is the box of the part of the line between fractions f0 and f1 of
// its reading direction.
func (l line) span(f0, f1 float64) result.Box {
	if l.Flipped != l.Mirrored {
		f0, f1 = 1-f1, 1-f0
	}
	q := l.Box
	var c [4]pt
	if l.Vertical { // reading runs down the box: along 0→3 and 1→2
		c = [4]pt{lerp(q[0], q[3], f0), lerp(q[1], q[2], f0), lerp(q[1], q[2], f1), lerp(q[0], q[3], f1)}
	} else {
		c = [4]pt{lerp(q[0], q[1], f0), lerp(q[0], q[1], f1), lerp(q[3], q[2], f1), lerp(q[3], q[2], f0)}
	}
	return boxOf(c[:])
}

func boxOf(ps []pt) result.Box {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range ps {
		x0, y0, x1, y1 = min(x0, p.X), min(y0, p.Y), max(x1, p.X), max(y1, p.Y)
	}
	return result.Box{X0: int(math.Floor(x0)), Y0: int(math.Floor(y0)), X1: int(math.Ceil(x1)) + 1, Y1: int(math.Ceil(y1)) + 1}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// row is lines read as one, left to right.
type row struct {
	lines []line
	box   result.Box
}

func (r row) height() int { return r.box.Height() }

// layout groups lines into blocks of paragraphs of rows.
func layout(lines []line) []result.Block {
	if len(lines) == 0 {
		return []result.Block{} // read, and nothing found
	}
	grouped := deskew(lines)
	var paras [][]row
	for _, region := range xyCut(grouped, medianHeight(grouped)) {
		for _, r := range groupRows(region) {
			if n := len(paras); n > 0 && sameParagraph(paras[n-1][len(paras[n-1])-1], r) {
				paras[n-1] = append(paras[n-1], r)
				continue
			}
			paras = append(paras, []row{r})
		}
	}
	blocks := make([]result.Block, 0, len(paras))
	for i, p := range paras {
		var para result.Paragraph
		confSum, n := 0.0, 0
		for _, r := range p {
			var rl result.Line
			lc := 0.0
			var texts []string
			for k, l := range r.lines {
				l = lines[l.at] // as read
				r.lines[k] = l
				rl.Box = rl.Box.Union(boxOf(l.Box[:]))
				rl.Words = append(rl.Words, l.words()...)
				lc += l.Conf
				if t := strings.TrimSpace(l.Text); t != "" {
					texts = append(texts, t)
				}
			}
			if len(rl.Words) == 0 {
				continue
			}
			rl.Text = strings.Join(texts, " ")
			if len(r.lines) == 1 {
				rl.Polygon = r.lines[0].polygon()
			}
			rl.Confidence = round1(100 * lc / float64(len(r.lines)))
			confSum += rl.Confidence
			n++
			para.Lines = append(para.Lines, rl)
			para.Box = para.Box.Union(rl.Box)
		}
		if n == 0 {
			continue
		}
		blocks = append(blocks, result.Block{Type: result.BlockText, Box: para.Box, Confidence: round1(confSum / float64(n)),
			Paragraphs: []result.Paragraph{para}, Order: i})
	}
	for i := range blocks {
		blocks[i].Order = i
	}
	return blocks
}

// deskew returns copies of lines for grouping, each with at set to its
// index in lines: turned about the origin by minus the median direction of
// the level lines' top edges (tilt), at any tilt.
func deskew(lines []line) []line {
	out := make([]line, len(lines))
	for i, l := range lines {
		out[i] = l
		out[i].at = i
	}
	a := tilt(lines)
	if a == 0 {
		return out
	}
	sin, cos := math.Sincos(-a)
	for i := range out {
		for k, p := range out[i].Box {
			out[i].Box[k] = pt{p.X*cos - p.Y*sin, p.X*sin + p.Y*cos}
		}
	}
	return out
}

// tilt is the median direction of the top edges of the level (not
// Vertical, wider than tall) lines' quadrilaterals, radians in the page's
// pixels (y down: positive where the text runs down to the right), in
// (−π/2, π/2]; 0 when there are none.
func tilt(lines []line) float64 {
	var angles []float64
	for _, l := range lines {
		q := l.Box
		if l.Vertical || q[0].dist(q[1]) < q[0].dist(q[3]) {
			continue
		}
		a := math.Atan2(q[1].Y-q[0].Y, q[1].X-q[0].X)
		// A flipped line's corners may start at the far end: the
		// direction counts, not the way it is read.
		if a > math.Pi/2 {
			a -= math.Pi
		} else if a <= -math.Pi/2 {
			a += math.Pi
		}
		angles = append(angles, a)
	}
	if len(angles) == 0 {
		return 0
	}
	sort.Float64s(angles)
	return angles[len(angles)/2]
}

// skewOf is the page's skew as the Tesseract engine reports it
// (result.Page.Skew: degrees, Leptonica's deskew angle, rounded to
// hundredths): the lines' tilt, in degrees, with Leptonica's sign — the
// angle text rising to the right (counter-clockwise as seen) is deskewed
// by is positive (checked against the Tesseract engine on the same tilted
// pages, TestSkewReported).
func skewOf(lines []line) float64 {
	return math.Round(-tilt(lines)*180/math.Pi*100) / 100
}

// groupRows joins lines on one row (see the constants above), rows in order
// of their tops.
func groupRows(lines []line) []row {
	ls := append([]line(nil), lines...)
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Box.minX() < ls[j].Box.minX() })
	var rows []row
	for _, l := range ls {
		b := boxOf(l.Box[:])
		best, bestOv := -1, 0.0
		for i, r := range rows {
			last := r.lines[len(r.lines)-1]
			lo0, hi0 := across(last, last.Box)
			lo1, hi1 := across(last, l.Box)
			ov := min(hi0, hi1) - max(lo0, lo1)
			hmin := min(hi0-lo0, hi1-lo1)
			if ov >= rowOverlap*hmin && ov > bestOv {
				best, bestOv = i, ov
			}
		}
		if best >= 0 {
			rows[best].lines = append(rows[best].lines, l)
			rows[best].box = rows[best].box.Union(b)
		} else {
			rows = append(rows, row{lines: []line{l}, box: b})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].box.Y0 < rows[j].box.Y0 })
	return rows
}

// across is the extent of q across the reading direction of l: q's
// corners projected on the normal of l's direction (its quadrilateral's
// top edge; upright for a Vertical line or one taller than wide), in
// pixels.
func across(l line, q quad) (lo, hi float64) {
	nx, ny := 0.0, 1.0
	if e := l.Box[1].sub(l.Box[0]); !l.Vertical && l.Box[0].dist(l.Box[1]) >= l.Box[0].dist(l.Box[3]) {
		if e.X < 0 { // a flipped line's corners may start at the far end
			e = e.scale(-1)
		}
		d := math.Hypot(e.X, e.Y)
		nx, ny = -e.Y/d, e.X/d
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range q {
		v := p.X*nx + p.Y*ny
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// sameParagraph: b continues a's paragraph.
func sameParagraph(a, b row) bool {
	ha, hb := float64(a.height()), float64(b.height())
	if ha <= 0 || hb <= 0 || max(ha, hb) > paraHeight*min(ha, hb) {
		return false
	}
	if min(a.box.X1, b.box.X1) <= max(a.box.X0, b.box.X0) {
		return false
	}
	gap := float64(b.box.Y0 - a.box.Y1)
	return gap < paraGap*min(ha, hb)
}

func medianHeight(lines []line) float64 {
	hs := make([]float64, len(lines))
	for i, l := range lines {
		hs[i] = lineHeight(l)
	}
	sort.Float64s(hs)
	return hs[len(hs)/2]
}

// lineHeight is the height of the text, across the reading direction.
func lineHeight(l line) float64 {
	if l.Vertical {
		return l.Box.width()
	}
	return l.Box.height()
}

// interval is a line's extent on one axis.
type interval struct {
	lo, hi float64
	i      int
}

// xyCut splits lines into regions in reading order (see Layout above); h
// is the typical line height.
func xyCut(lines []line, h float64) [][]line {
	if len(lines) < 2 {
		return [][]line{lines}
	}
	// Bands: horizontal gaps no line crosses (a fifth of each line's height
	// may overlap its neighbours: boxes of tilted lines do).
	ys := make([]interval, len(lines))
	for i, l := range lines {
		m := 0.2 * (l.Box.maxY() - l.Box.minY())
		ys[i] = interval{l.Box.minY() + m, l.Box.maxY() - m, i}
	}
	bands := split(lines, ys, 0)
	var out [][]line
	for i := 0; i < len(bands); {
		j, lo, hi := columns(bands, i, colGap*h, h)
		if j < 0 {
			out = append(out, bands[i])
			i++
			continue
		}
		var left, right []line
		for _, b := range bands[i:j] {
			for _, l := range b {
				if l.Box.centerX() < (lo+hi)/2 {
					left = append(left, l)
				} else {
					right = append(right, l)
				}
			}
		}
		out = append(out, xyCut(left, h)...)
		out = append(out, xyCut(right, h)...)
		i = j
	}
	return out
}

func bandTop(b []line) float64 {
	y := math.Inf(1)
	for _, l := range b {
		y = min(y, l.Box.minY())
	}
	return y
}

func bandBottom(b []line) float64 {
	y := math.Inf(-1)
	for _, l := range b {
		y = max(y, l.Box.maxY())
	}
	return y
}

// columns looks for a column gap starting at bands[i]: a vertical strip at
// least minGap wide between two of its lines that no line of the following
// bands crosses (a line reaching into it narrows it). It returns the end
// of the run of bands it divides and the strip, or j < 0 when there is no
// such strip dividing at least two bands with lines on both sides.
func columns(bands [][]line, i int, minGap, h float64) (int, float64, float64) {
	bestJ, bestLo, bestHi := -1, 0.0, 0.0
	xs := make([]interval, len(bands[i]))
	for k, l := range bands[i] {
		xs[k] = interval{l.Box.minX(), l.Box.maxX(), k}
	}
	sort.Slice(xs, func(a, b int) bool { return xs[a].lo < xs[b].lo })
	reach := math.Inf(-1)
	for k, v := range xs {
		if k > 0 && v.lo-reach >= minGap {
			lo, hi := reach, v.lo
			both, lastBoth := 0, i
			j := i
			for ; j < len(bands); j++ {
				nlo, nhi, l, r := lo, hi, false, false
				for _, ln := range bands[j] {
					x0, x1 := ln.Box.minX(), ln.Box.maxX()
					// Only lines of text count as a column's (a sign's
					// words stacked apart are read row by row).
					long := x1-x0 >= colLine*(ln.Box.maxY()-ln.Box.minY())
					if (x0+x1)/2 < (lo+hi)/2 {
						nlo, l = max(nlo, x1), l || long
					} else {
						nhi, r = min(nhi, x0), r || long
					}
				}
				// A band may narrow the strip to half (a long line reaching
				// into the gutter), not close it.
				if nhi-nlo < minGap/2 {
					break
				}
				if l && r {
					both++
					lastBoth = j
				}
			}
			// Bands after the last one with lines on both sides belong to
			// the columns only while they follow on closely (a column
			// running longer than its neighbour), not after a gap (text
			// below the columns).
			end := lastBoth + 1
			for end < j && bandTop(bands[end])-bandBottom(bands[end-1]) < 1.5*h {
				end++
			}
			j = end
			if both >= 2 && j-i > 1 && j > bestJ && leftAligned(bands[i:j], (lo+hi)/2, h) {
				bestJ, bestLo, bestHi = j, lo, hi
			}
		}
		reach = max(reach, v.hi)
	}
	return bestJ, bestLo, bestHi
}

// leftAligned: the lines right of x (a column gap's middle) in bands
// start a column — the first line of each row right of x (the leftmost of
// those overlapping it by half the smaller height) starts within
// alignTol × h of the median of those starts in at least half of the
// rows. Text set in columns is left-aligned (ragged right or justified;
// an indented first line is a paragraph's one exception); the right half
// of a receipt is prices and quantities set flush right, whose starts
// vary with their widths, and reads as rows with the items beside them
// (receipt_mono_16.png read all items, then all prices: issue #14).
// Tesseract's column finder likewise needs aligned tab stops to open a
// column.
func leftAligned(bands [][]line, x, h float64) bool {
	var right []line
	for _, b := range bands {
		for _, l := range b {
			if l.Box.centerX() >= x {
				right = append(right, l)
			}
		}
	}
	var starts []float64
	for k, l := range right {
		first := true
		for m, o := range right {
			ov := min(l.Box.maxY(), o.Box.maxY()) - max(l.Box.minY(), o.Box.minY())
			hmin := min(l.Box.maxY()-l.Box.minY(), o.Box.maxY()-o.Box.minY())
			if m != k && ov >= rowOverlap*hmin && (o.Box.minX() < l.Box.minX() || o.Box.minX() == l.Box.minX() && m < k) {
				first = false
				break
			}
		}
		if first {
			starts = append(starts, l.Box.minX())
		}
	}
	if len(starts) == 0 {
		return false
	}
	sorted := append([]float64(nil), starts...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	n := 0
	for _, s := range starts {
		if math.Abs(s-med) <= alignTol*h {
			n++
		}
	}
	return 2*n >= len(starts)
}

// split groups lines by their intervals on one axis: a gap wider than
// minGap between the union of the intervals so far and the next one starts
// a new group. Groups are in increasing order.
func split(lines []line, iv []interval, minGap float64) [][]line {
	sort.Slice(iv, func(a, b int) bool { return iv[a].lo < iv[b].lo })
	var out [][]line
	reach := math.Inf(-1)
	for _, v := range iv {
		if len(out) == 0 || v.lo-reach > minGap {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], lines[v.i])
		reach = max(reach, v.hi)
	}
	return out
}

// polygon is the line's quadrilateral clockwise from the top left of its
// text, when it is not level (nil for an upright axis-aligned box).
func (l line) polygon() []result.Point {
	start := 0
	if l.Vertical {
		start = 1 // the crop was turned counter-clockwise: the text's top is the box's right
	}
	if l.Flipped {
		start += 2
	}
	ps := make([]result.Point, 4)
	level := start == 0
	for i := range ps {
		p := l.Box[(start+i)%4]
		ps[i] = result.Point{X: int(math.Round(p.X)), Y: int(math.Round(p.Y))}
	}
	if level && ps[0].Y == ps[1].Y && ps[2].Y == ps[3].Y && ps[0].X == ps[3].X && ps[1].X == ps[2].X {
		return nil
	}
	return ps
}
