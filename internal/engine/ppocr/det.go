package ppocr

import (
	"math"
	"sort"
)

// Detection settings: PaddleOCR's defaults for PP-OCRv4
// (tools/infer/utility.py, DetResizeForTest and DBPostProcess).
const (
	detLimitSide     = 960  // det_limit_side_len, det_limit_type "max"
	detMinSide       = 64   // PaddleX's limit_type "min" (its PP-OCR pipelines' default): the shorter side at least this
	detMaxSide       = 4000 // PaddleX's max_side_limit
	detThresh        = 0.3  // det_db_thresh: a pixel is text when its probability is above this
	detBoxThresh     = 0.6  // det_db_box_thresh: a box's mean probability must reach this
	detUnclipRatio   = 1.5  // det_db_unclip_ratio
	detMinSize       = 3    // boxes with a shorter side under this are dropped
	detMaxCandidates = 1000
)

var (
	detMean = [3]float32{0.485, 0.456, 0.406} // ImageNet, applied to B, G, R as PaddleOCR does
	detStd  = [3]float32{0.229, 0.224, 0.225}
)

// detSize is DetResizeForTest: the longer side limited to limit (type
// "max", PaddleOCR's default for PP-OCRv4), both sides rounded to multiples
// of 32, at least 32. An elongated image (a text line, a strip) would lose
// its text that way — a 1,500×40 line comes out 960×32, its letters
// squashed — so the shorter side is also kept at detMinSide or more
// (PaddleX's type "min" for its PP-OCR pipelines), within detMaxSide.
func detSize(w, h, limit int) (int, int) {
	ratio := 1.0
	if m := max(w, h); m > limit {
		ratio = float64(limit) / float64(m)
	}
	if s := float64(min(w, h)); s*ratio < detMinSide {
		ratio = detMinSide / s
	}
	if m := float64(max(w, h)); m*ratio > detMaxSide {
		ratio = detMaxSide / m
	}
	rw := int(float64(w) * ratio)
	rh := int(float64(h) * ratio)
	rw = max(int(math.Round(float64(rw)/32))*32, 32)
	rh = max(int(math.Round(float64(rh)/32))*32, 32)
	return rw, rh
}

// padSmall is DetResizeForTest's image_padding: an image whose sides add up
// to under 64 pixels is placed on a black canvas at least 32×32.
func padSmall(im *bgr) *bgr {
	if im.W+im.H >= 64 {
		return im
	}
	out := newBGR(max(im.W, 32), max(im.H, 32))
	for y := 0; y < im.H; y++ {
		copy(out.Pix[3*y*out.W:3*y*out.W+3*im.W], im.Pix[3*y*im.W:3*(y+1)*im.W])
	}
	return out
}

// detInput is the detector's input tensor for im: NCHW, 1×3×h×w.
func detInput(im *bgr, limit int) (data []float32, w, h int) {
	w, h = detSize(im.W, im.H, limit)
	data = make([]float32, 3*w*h)
	im.resizeInto(data, w, h, w, detMean, detStd)
	return data, w, h
}

// dbBoxes is DBPostProcess.boxes_from_bitmap (score mode "fast", quad
// boxes): the connected regions of prob > thresh, each one's minimum-area
// rectangle scored by the mean probability inside it, grown by unclip and
// boxed again, then scaled from the w×h map to a dstW×dstH image; then
// filter_tag_det_res (corners ordered clockwise, clipped to the image, boxes
// of 3 pixels or less across dropped).
func dbBoxes(prob []float32, w, h, dstW, dstH int) []quad {
	regions := components(prob, w, h, detThresh, detMaxCandidates)
	var out []quad
	for _, pts := range regions {
		box, sside := miniBox(pts)
		if sside < detMinSize {
			continue
		}
		if boxScore(prob, w, h, box) < detBoxThresh && (!tiltedBox(box) || regionScore(prob, w, pts) < detBoxThresh) {
			continue
		}
		grown := unclip(box[:], detUnclipRatio)
		if len(grown) == 0 {
			continue
		}
		box, sside = miniBox(grown)
		if sside < detMinSize+2 {
			continue
		}
		for i := range box {
			box[i].X = clamp(math.Round(box[i].X/float64(w)*float64(dstW)), 0, float64(dstW))
			box[i].Y = clamp(math.Round(box[i].Y/float64(h)*float64(dstH)), 0, float64(dstH))
		}
		box = orderClockwise(box)
		for i := range box {
			box[i].X = clamp(box[i].X, 0, float64(dstW-1))
			box[i].Y = clamp(box[i].Y, 0, float64(dstH-1))
		}
		if int(box[0].dist(box[1])) <= 3 || int(box[0].dist(box[3])) <= 3 {
			continue
		}
		out = append(out, box)
	}
	return out
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(v, hi)) }

// components labels the 8-connected regions of prob > thresh and returns,
// for each (at most limit, in raster order of their first pixel), the
// leftmost and rightmost pixel of each of its rows: the points whose convex
// hull is the region's (what cv2.findContours gives minAreaRect).
func components(prob []float32, w, h int, thresh float32, limit int) [][]pt {
	label := make([]int32, w*h)
	rowMin, rowMax := make([]int, h), make([]int, h)
	for i := range rowMin {
		rowMin[i] = -1
	}
	var regions [][]pt
	var rows []int
	stack := make([]int32, 0, 256)
	for start := range prob {
		if prob[start] <= thresh || label[start] != 0 {
			continue
		}
		if len(regions) == limit {
			break
		}
		id := int32(len(regions) + 1)
		label[start] = id
		stack = append(stack[:0], int32(start))
		rows = rows[:0]
		for len(stack) > 0 {
			p := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			x, y := p%w, p/w
			if rowMin[y] < 0 {
				rowMin[y], rowMax[y] = x, x
				rows = append(rows, y)
			} else {
				rowMin[y], rowMax[y] = min(rowMin[y], x), max(rowMax[y], x)
			}
			for dy := -1; dy <= 1; dy++ {
				ny := y + dy
				if ny < 0 || ny >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					nx := x + dx
					if nx < 0 || nx >= w || (dx == 0 && dy == 0) {
						continue
					}
					q := ny*w + nx
					if label[q] == 0 && prob[q] > thresh {
						label[q] = id
						stack = append(stack, int32(q))
					}
				}
			}
		}
		sort.Ints(rows)
		pts := make([]pt, 0, 2*len(rows))
		for _, y := range rows {
			pts = append(pts, pt{float64(rowMin[y]), float64(y)})
			if rowMax[y] != rowMin[y] {
				pts = append(pts, pt{float64(rowMax[y]), float64(y)})
			}
			rowMin[y] = -1
		}
		regions = append(regions, pts)
	}
	return regions
}

// boxScore is box_score_fast: the mean probability over the pixels of the
// box's bounding rectangle that lie inside the box (corners truncated to
// integers, as cv2.fillPoly is given them).
func boxScore(prob []float32, w, h int, box quad) float64 {
	xmin := int(clamp(math.Floor(box.minX()), 0, float64(w-1)))
	xmax := int(clamp(math.Ceil(box.maxX()), 0, float64(w-1)))
	ymin := int(clamp(math.Floor(box.minY()), 0, float64(h-1)))
	ymax := int(clamp(math.Ceil(box.maxY()), 0, float64(h-1)))
	var poly [4]pt
	for i, p := range box {
		poly[i] = pt{math.Trunc(p.X), math.Trunc(p.Y)}
	}
	sum, n := 0.0, 0
	for y := ymin; y <= ymax; y++ {
		for x := xmin; x <= xmax; x++ {
			if insideConvex(poly[:], pt{float64(x), float64(y)}) {
				sum += float64(prob[y*w+x])
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// tiltedBox reports whether box is a tilted line: its long side more than
// tiltedBoxMin degrees off both axes and at least tiltedBoxAspect times
// its short side.
func tiltedBox(box quad) bool {
	e, long, short := box[1].sub(box[0]), box[0].dist(box[1]), box[1].dist(box[2])
	if long < short {
		e, long, short = box[2].sub(box[1]), short, long
	}
	if long < tiltedBoxAspect*short {
		return false
	}
	a := math.Abs(math.Atan2(e.Y, e.X)) * 180 / math.Pi
	a = math.Mod(a, 90)
	return min(a, 90-a) > tiltedBoxMin
}

// A box counts as a tilted line for its score (dbBoxes) past tiltedBoxMin
// degrees and tiltedBoxAspect (a line of some ten characters or more).
// Shorter boxes are left to box_score_fast: on the scene images
// (../shared/eval/scene/images) the slow score for every tilted box let
// through a receipt's stray mark (wildreceipt-1) and, up to an aspect of
// 16.6, a photo's illegible small print (ic15-img_7, fast score 0.547), and
// changed nothing else.
const (
	tiltedBoxMin    = 1.0
	tiltedBoxAspect = 20.0
)

// regionScore is box_score_slow (det_db_score_mode "slow"): the mean
// probability over the region itself — each row of pts (components' rows,
// leftmost and rightmost pixel) from its leftmost to its rightmost pixel.
// dbBoxes takes it for a tilted box that box_score_fast would drop: the
// pixels of a thin tilted rectangle's staircase edges weigh more than an
// upright one's, and box_score_fast fell with the tilt on one page of
// 8 lines of 22 px serif (mean 0.83 level, 0.74 at 15°, 0.61 at 25°, where
// two of its 8 lines scored 0.590 and 0.593 and were lost: tilt25.png of
// issue 14).
func regionScore(prob []float32, w int, pts []pt) float64 {
	sum, n := 0.0, 0
	for i := 0; i < len(pts); {
		y, x0, x1 := int(pts[i].Y), int(pts[i].X), int(pts[i].X)
		i++
		if i < len(pts) && int(pts[i].Y) == y {
			x1 = int(pts[i].X)
			i++
		}
		for x := x0; x <= x1; x++ {
			sum += float64(prob[y*w+x])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// sortBoxes is PaddleOCR's sorted_boxes: by the top-left corner, top to
// bottom then left to right, and boxes whose tops are within 10 pixels
// ordered left to right.
func sortBoxes(boxes []quad) {
	sort.SliceStable(boxes, func(i, j int) bool {
		if boxes[i][0].Y != boxes[j][0].Y {
			return boxes[i][0].Y < boxes[j][0].Y
		}
		return boxes[i][0].X < boxes[j][0].X
	})
	for i := 0; i < len(boxes)-1; i++ {
		for j := i; j >= 0; j-- {
			if math.Abs(boxes[j+1][0].Y-boxes[j][0].Y) < 10 && boxes[j+1][0].X < boxes[j][0].X {
				boxes[j], boxes[j+1] = boxes[j+1], boxes[j]
			} else {
				break
			}
		}
	}
}

// Tiled detection (Lector's, not PaddleOCR's pipeline; what PaddleOCR's
// users do for screenshots, posters and strips, where det_limit_side_len
// 960 shrinks 16-pixel text on a 3,840-pixel screen to 4 pixels and a
// 30,000×40 strip to a sliver): the page at scale detTileScale, read in
// detTileSide tiles overlapping by detTileOverlap, the boxes a seam cut
// joined again (mergeSeams). Measured on the trial inputs of issue #14
// and every evaluation set (docs/BENCHMARKS.md, "PP-OCR: large and wide
// images").
const (
	// detTileBelow: a page the single pass shrinks to less than this
	// (the longer side over 2×960) is a candidate for tiles.
	detTileBelow = 0.5
	// detDistortion: a single pass that scales the sides differently by
	// more than this (a strip whose shorter side was kept at detMinSide
	// while the longer one hit detMaxSide) squashes its letters: tiles.
	detDistortion = 1.15
	// detSmallLine: when the single pass's boxes are this tall or less
	// in the detector's input (their median), or it found none, the
	// candidate is detected again in tiles. DB finds 16-pixel text at a
	// quarter of its size not at all (screen3840 of the trial) and at
	// 0.375 in pieces (screen2560: median 9.9 px, CER 0.143); the
	// evaluation's pages at 300 dpi have medians of 11.4 (background-
	// checks' 6-pt table) to 14.8 and keep the single pass, which reads
	// them best ("Detection size on dense pages" in docs/BENCHMARKS.md:
	// larger inputs read san-jose and linn.png worse).
	detSmallLine   = 10.5
	detTileSide    = 960     // a tile's longer side in the detector's input, a multiple of 32
	detTileOverlap = 128     // tiles overlap by this in the detector's input: a line up to this tall lies whole in one of them
	detTileBudget  = 4 << 20 // detector input pixels of the scaled page (the tiles' overlaps add up to a third): the scale is lowered to stay within it
)

// detPlan is how a page is detected: tileFirst, in tiles at once (the
// single pass would distort it); tileScale > 0, in tiles at that scale
// when the single pass finds only small text or none (smallText); 0, the
// single pass only.
type detPlan struct {
	tileFirst bool
	tileScale float64
}

// planDet plans the detection of a w×h image (see the constants above).
func planDet(w, h int) detPlan {
	if max(w, h) <= detLimitSide {
		return detPlan{}
	}
	rw, rh := detSize(w, h, detLimitSide)
	sx, sy := float64(rw)/float64(w), float64(rh)/float64(h)
	distorted := max(sx, sy)/min(sx, sy) > detDistortion
	if min(sx, sy) >= detTileBelow && !distorted {
		return detPlan{}
	}
	s := tileScale(w, h)
	if !distorted && s < 1.25*min(sx, sy) {
		return detPlan{} // tiles would hardly enlarge the text
	}
	return detPlan{tileFirst: distorted, tileScale: s}
}

// tileScale is the scale a w×h image is detected at in tiles: as it is
// (1), its shorter side enlarged to detMinSide where it is shorter, and
// lowered so that the whole stays within detTileBudget pixels.
func tileScale(w, h int) float64 {
	s := 1.0
	if short := float64(min(w, h)); short < detMinSide {
		s = detMinSide / short
	}
	if px := float64(w) * float64(h) * s * s; px > detTileBudget {
		s *= math.Sqrt(detTileBudget / px)
	}
	return s
}

// smallText reports whether the single pass's boxes (in the image's
// frame, scale its detector input's size over the image's) are, by their
// median height, detSmallLine pixels or less in the detector's input, or
// whether it found none.
func smallText(boxes []quad, scale float64) bool {
	if len(boxes) == 0 {
		return true
	}
	hs := make([]float64, len(boxes))
	for i, b := range boxes {
		hs[i] = min(b.height(), b.width())
	}
	sort.Float64s(hs)
	return hs[len(hs)/2]*scale <= detSmallLine
}

// detTile is one tile: the image's columns [x0, x1) and rows [y0, y1),
// resized to w×h (multiples of 32) for the detector.
type detTile struct {
	x0, y0, x1, y1 int
	w, h           int
}

// detTiles cuts a w×h image detected at scale s into tiles of at most
// detTileSide (in the detector's input) a side, overlapping by at least
// detTileOverlap, spread evenly from edge to edge.
func detTiles(w, h int, s float64) []detTile {
	xs, ys := tileSpans(w, s), tileSpans(h, s)
	tiles := make([]detTile, 0, len(xs)*len(ys))
	for _, y := range ys {
		for _, x := range xs {
			tiles = append(tiles, detTile{
				x0: x[0], x1: x[1], y0: y[0], y1: y[1],
				w: max(int(math.Round(float64(x[1]-x[0])*s/32))*32, 32),
				h: max(int(math.Round(float64(y[1]-y[0])*s/32))*32, 32),
			})
		}
	}
	return tiles
}

// tileSpans are the [start, end) spans, in the image's pixels, that cover
// n pixels seen at scale s with the fewest windows at most detTileSide
// wide overlapping by detTileOverlap (in the scaled frame), all of one
// length: 1,000 pixels take two windows of 564, not two of 960.
func tileSpans(n int, s float64) [][2]int {
	scaled := float64(n) * s
	if scaled <= detTileSide {
		return [][2]int{{0, n}}
	}
	k := int(math.Ceil((scaled-detTileSide)/(detTileSide-detTileOverlap))) + 1
	size := (scaled + float64(k-1)*detTileOverlap) / float64(k)
	step := size - detTileOverlap
	spans := make([][2]int, k)
	for i := range spans {
		a := int(math.Floor(float64(i) * step / s))
		b := min(n, int(math.Ceil((float64(i)*step+size)/s)))
		spans[i] = [2]int{a, b}
	}
	spans[k-1][1] = n
	return spans
}

// crop copies the image's columns [x0, x1) and rows [y0, y1).
func (im *bgr) crop(x0, y0, x1, y1 int) *bgr {
	out := newBGR(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		copy(out.Pix[3*(y-y0)*out.W:3*(y-y0+1)*out.W], im.Pix[3*(y*im.W+x0):3*(y*im.W+x1)])
	}
	return out
}

// mergeSeams joins the boxes of one line that tiles found apart: two
// boxes that overlap across (their extents in x intersect) and share at
// least half the smaller one's height in y are one line cut by a seam, or
// found whole by two overlapping tiles; they become the minimum-area
// rectangle around both (a union, where NMS would keep one of them and
// lose the other's part of the line). Taken only on tiled detection, where
// DB's own boxes of one tile do not overlap so.
func mergeSeams(boxes []quad) []quad {
	type item struct {
		q                      quad
		x0, x1, y0, y1, height float64
	}
	items := make([]item, len(boxes))
	set := func(i int, q quad) {
		items[i] = item{q: q, x0: q.minX(), x1: q.maxX(), y0: q.minY(), y1: q.maxY(), height: min(q.width(), q.height())}
	}
	for i, q := range boxes {
		set(i, q)
	}
	for merged := true; merged; {
		merged = false
		sort.Slice(items, func(a, b int) bool { return items[a].x0 < items[b].x0 })
		for i := 0; i < len(items); i++ {
			for j := i + 1; j < len(items) && items[j].x0 < items[i].x1; j++ {
				a, b := items[i], items[j]
				ov := min(a.y1, b.y1) - max(a.y0, b.y0)
				if ov < 0.5*min(a.height, b.height) {
					continue
				}
				q, _ := miniBox(append(append([]pt{}, a.q[:]...), b.q[:]...))
				set(i, orderClockwise(q))
				items = append(items[:j], items[j+1:]...)
				merged = true
				j = i // the grown box is checked against the rest again
			}
		}
	}
	out := make([]quad, len(items))
	for i, it := range items {
		out[i] = it.q
	}
	return out
}
