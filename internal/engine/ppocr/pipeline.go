package ppocr

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// line is one recognised text line.
type line struct {
	Box   quad // in the page, corners clockwise from the top-left as read
	Text  string
	Conf  float64 // 0–1
	Chars []decodedChar
	// Where the characters lie: each character's span as fractions of the
	// crop's width (start, end), in reading order.
	Spans [][2]float64
	// Vertical: the crop was turned a quarter (tall box), so reading runs
	// down the box. Flipped: the classifier turned it 180°. Mirrored: it
	// was read mirrored (secondLooks), so its spans run right to left.
	Vertical, Flipped, Mirrored bool
	// at is the line's index in the page's lines (layout's deskewed copies
	// point back to the lines as read).
	at int
}

// score is how much a reading is worth: confident characters.
func score(lines []line) float64 {
	s := 0.0
	for _, l := range lines {
		s += l.Conf * float64(utf8.RuneCountInString(l.Text))
	}
	return s
}

// readPage reads img; with orient, a page that reads as turned is turned
// upright and read again. It returns the lines (in the upright frame) and
// the clockwise turn applied.
//
// The page is padded once, and a turned reading turns the padded page
// (padding is the same whichever way a page is turned: border and pad's
// colour do not depend on it), so img is not needed past the padding and
// at most two copies of the page are live — the padded one and one turned
// — where the turned readings had held three (img, its turn and the turn
// padded). Before each turned reading the C heap's free memory goes back
// to the OS (trimCHeap, as the runner does between pages): glibc keeps
// what a reading's runs freed while pages run (runner.holdCHeapWhileBusy),
// and the next reading's differently sized buffers did not fit in it, so
// a page read three times (background-checks.pdf, found sideways) peaked
// at 276–325 MiB above its start where one reading of a page its size
// takes ~190; with the trim, 219–222 at the same time (docs/BENCHMARKS.md,
// "Now: the runner's Go heap").
func (h *handle) readPage(ctx context.Context, img *bgr, orient bool) ([]line, int, error) {
	b := border(img)
	page := padded{img.pad(b), b}
	if !orient { // known upright: text running down is vertical writing
		lines, _, err := h.read(ctx, page, tilesAllowed)
		return lines, 0, err
	}
	lines, st, err := h.read(ctx, page, tilesUnlessDown)
	if err != nil {
		return nil, 0, err
	}
	// The turned readings tile where the first did, or where it held its
	// tiles back because its text ran down (detectIn).
	turned := noTiles
	if st.tiled || st.held {
		turned = tilesAllowed
	}
	// Sideways: more of the text runs down than across. The better of a
	// quarter turn either way.
	// Both turns read well, since the classifier turns each line of the
	// upside-down one back (its lines then come out in reverse order and
	// its boxes mirrored): the turn whose lines the classifier mostly
	// turned is the wrong one, and the score decides only when that does
	// not tell them apart.
	if st.sideways() {
		var best []line
		bestRot, bestScore, bestFlipped := 0, -1.0, true
		for _, q := range []int{1, 3} {
			trimCHeap() // what the reading before freed (see below)
			l, qst, err := h.read(ctx, page.rotate(q), turned)
			if err != nil {
				return nil, 0, err
			}
			s, flipped := score(l), qst.mostlyFlipped()
			if best == nil || (bestFlipped && !flipped) || (flipped == bestFlipped && s > bestScore) {
				best, bestRot, bestScore, bestFlipped = l, q*90, s, flipped
			}
		}
		// Vertical writing (Chinese, Japanese) also gives tall boxes, and
		// reads well as it stands and badly turned: a turn must read
		// about as well as the page as it is.
		if bestScore < 0.8*score(lines) {
			if st.held { // and its print may be small: read it again in tiles
				trimCHeap()
				l, _, err := h.read(ctx, page, tilesAllowed)
				if err != nil {
					return nil, 0, err
				}
				if score(l) > score(lines) {
					return l, 0, nil
				}
			}
			return lines, 0, nil
		}
		return best, bestRot, nil
	}
	// Upside down: the classifier turned most lines.
	if st.classified >= 2 && st.mostlyFlipped() {
		trimCHeap()
		l, _, err := h.read(ctx, page.rotate(2), turned)
		if err != nil {
			return nil, 0, err
		}
		return l, 180, nil
	}
	return lines, 0, nil
}

// padded is a page inside a margin of b pixels (bgr.pad).
type padded struct {
	*bgr
	b int
}

// rotate turns the padded page clockwise by quads quarter turns: the
// page turned, in the same margin.
func (p padded) rotate(quads int) padded { return padded{p.bgr.rotate(quads), p.b} }

// inner returns a copy of the page without its margin.
func (p padded) inner() *bgr { return p.crop(p.b, p.b, p.W-p.b, p.H-p.b) }

// stats are what a reading says of the page's orientation.
type stats struct {
	run                      // how the text runs
	classified, flipped int  // lines the classifier was sure of, and of those the ones it turned
	tiled               bool // detected in tiles (detectIn)
	held                bool // tiles held back: the text ran down (detectIn)
}

// run is which way a page's text runs, from its detected boxes: tall
// counts the boxes at least 1.5 times as tall as wide (read as vertical
// lines, bgr.warp); down and across are the text's run in pixels, the
// tall boxes' heights and the widths of the boxes at least 1.5 times as
// wide as tall (boxes near square, a letter or two, run neither way).
type run struct {
	tall         int
	down, across float64
}

func runOf(boxes []quad) run {
	var r run
	for _, b := range boxes {
		switch w, h := b.width(), b.height(); {
		case h >= 1.5*w:
			r.tall++
			r.down += h
		case w >= 1.5*h:
			r.across += w
		}
	}
	return r
}

// sideways reports whether the page reads as turned a quarter: at least
// two tall boxes, and more of the text running down than across. Counting
// boxes instead — more tall boxes than others — missed dense pages turned
// a quarter clockwise: the detector cut their lines into letters and
// fragments, near square, that outnumbered the tall boxes (a 40-line page
// at 150 dpi: 35 tall boxes running 23,289 px down, 34 wide ones 1,563 px
// across and 88 near square), and the page was read as it stood, as garbage
// (TestDensePageTurnedAQuarterIsReadUpright).
func (r run) sideways() bool {
	return r.tall >= 2 && r.down > r.across
}

// mostlyFlipped reports whether the classifier turned more than half the
// lines it was sure of: the image reads upside down.
func (st stats) mostlyFlipped() bool {
	return st.classified > 0 && st.flipped*2 > st.classified
}

// read is PaddleOCR's TextSystem on one image: detect, crop, classify,
// recognise, and drop lines read with a confidence under dropScore. One
// Lector addition: an image that is one line (a single box spanning it,
// coversLine) is also recognised as it stands, the way a psm 7 crop is,
// and the more confident reading kept. The detector's box hugs the line
// (unclip_ratio 1.5) and from so tight a crop PP-OCRv4's recogniser runs
// English words together and loses edge punctuation: measured on
// scene/crops/rapidocr-en_rec.jpg read as a page, "Tofacilitate the
// shottype analysisinvideos" against every space kept as a line, and on
// lines/ (50 one-line images) CER 0.0110 → 0.0105 (docs/BENCHMARKS.md).
//
// tiles says whether the detection may go to tiles (detectIn); readPage's
// turned reads of a page tile only where the page's first reading did, or
// held its tiles back because its text ran down: the text's size does not
// change with a turn, but a sideways page's small boxes (letters found one
// by one) would send a page of normal print to tiles, costing minutes on a
// dense table.
func (h *handle) read(ctx context.Context, page padded, tiles tiling) ([]line, stats, error) {
	var st stats
	img, b := page.bgr, page.b
	ow, oh := img.W-2*b, img.H-2*b // the page's own size
	boxes, tiled, held, err := h.detectIn(ctx, img, tiles)
	st.tiled, st.held, st.run = tiled, held, runOf(boxes)
	if err != nil || len(boxes) == 0 {
		return nil, st, err
	}
	crops := make([]*bgr, 0, len(boxes))
	lines := make([]line, 0, len(boxes))
	for _, b := range boxes {
		c, vertical := img.warp(b)
		if c == nil {
			continue
		}
		crops = append(crops, c)
		lines = append(lines, line{Box: b, Vertical: vertical})
	}
	// The classifier sees a line squeezed into 192×48, and long lines
	// come out "upside down" when they are not (white on dark above all):
	// a line it turns is read both ways and keeps the clearer reading.
	var turned []int
	var unturned []*bgr
	if h.m.cls != nil {
		flips, sure, err := h.classify(ctx, crops)
		if err != nil {
			return nil, st, err
		}
		for i := range crops {
			if sure[i] {
				st.classified++
			}
			if flips[i] {
				turned = append(turned, i)
				unturned = append(unturned, crops[i])
				crops[i] = crops[i].rotate(2)
				lines[i].Flipped = true
			}
		}
	}
	if err := h.recognize(ctx, crops, lines, false); err != nil {
		return nil, st, err
	}
	if len(turned) > 0 {
		again := make([]line, len(turned))
		for k, i := range turned {
			again[k] = line{Box: lines[i].Box, Vertical: lines[i].Vertical}
		}
		if err := h.recognize(ctx, unturned, again, false); err != nil {
			return nil, st, err
		}
		for k, i := range turned {
			if again[k].Conf > lines[i].Conf {
				lines[i] = again[k]
			} else {
				st.flipped++
			}
		}
	}
	if len(lines) == 1 && coversLine(lines[0].Box, b, ow, oh) && !lines[0].Vertical {
		// One line filling the image: read the image as it stands too.
		direct := []line{{Box: quad{{float64(b), float64(b)}, {float64(b + ow), float64(b)}, {float64(b + ow), float64(b + oh)}, {float64(b), float64(b + oh)}}}}
		if err := h.recognize(ctx, []*bgr{page.inner()}, direct, true); err != nil {
			return nil, st, err
		}
		if direct[0].Conf > lines[0].Conf {
			lines[0] = direct[0]
		}
	}
	kept := lines[:0]
	for _, l := range lines {
		if l.Conf >= dropScore && l.Text != "" {
			for i := range l.Box { // into the unpadded image
				l.Box[i].X = clamp(l.Box[i].X-float64(b), 0, float64(ow-1))
				l.Box[i].Y = clamp(l.Box[i].Y-float64(b), 0, float64(oh-1))
			}
			kept = append(kept, l)
		}
	}
	return kept, st, nil
}

// readLine reads the whole image as one line (no detection).
func (h *handle) readLine(ctx context.Context, img *bgr) ([]line, error) {
	w, hh := float64(img.W), float64(img.H)
	lines := []line{{Box: quad{{0, 0}, {w, 0}, {w, hh}, {0, hh}}}}
	if err := h.recognize(ctx, []*bgr{img}, lines, true); err != nil {
		return nil, err
	}
	if lines[0].Text == "" {
		return nil, nil
	}
	return lines, nil
}

// detect runs the detector and DB post-processing: boxes in img's frame,
// in PaddleOCR's reading order (detectIn, tiles allowed).
func (h *handle) detect(ctx context.Context, img *bgr) ([]quad, error) {
	boxes, _, _, err := h.detectIn(ctx, img, tilesAllowed)
	return boxes, err
}

// tiling is whether a detection may go to tiles (detectIn).
type tiling int

const (
	noTiles tiling = iota
	// tilesUnlessDown: tiles, unless the single pass's text runs down
	// (run.sideways: a page turned a quarter). Its letters, found one by
	// one, look like small print, and tiles of sideways text found next to
	// nothing: a 300 dpi page turned a quarter read empty, where the page
	// turned upright reads without tiles. The page's turned readings
	// decide (readPage).
	tilesUnlessDown
	tilesAllowed
)

// detectIn is detect; where tiles allows, a page the single pass would
// shrink or squash too far for its text is detected in tiles (planDet,
// detectTiled), and tiled says whether it was; held says that tiles were
// held back because the text ran down (tilesUnlessDown).
func (h *handle) detectIn(ctx context.Context, img *bgr, tiles tiling) (boxes []quad, tiled, held bool, err error) {
	src := padSmall(img)
	plan := planDet(src.W, src.H)
	if tiles == noTiles {
		plan = detPlan{}
	}
	if !plan.tileFirst {
		data, w, hh := detInput(src, detLimitSide)
		prob, err := h.runDet(ctx, nil, data, w, hh)
		if err != nil {
			return nil, false, false, err
		}
		boxes = dbBoxes(prob, w, hh, src.W, src.H)
		switch {
		case plan.tileScale == 0 || !smallText(boxes, float64(hh)/float64(src.H)):
			plan.tileScale = 0
		case tiles == tilesUnlessDown && runOf(boxes).sideways():
			plan.tileScale, held = 0, true
		default:
			boxes = nil // the text came out too small to trust: tiles
		}
	}
	if plan.tileScale > 0 {
		if boxes, err = h.detectTiled(ctx, src, plan.tileScale); err != nil {
			return nil, false, false, err
		}
	}
	if src != img { // padded: drop what lies on the padding
		kept := boxes[:0]
		for _, b := range boxes {
			for i := range b {
				b[i].X, b[i].Y = clamp(b[i].X, 0, float64(img.W-1)), clamp(b[i].Y, 0, float64(img.H-1))
			}
			if b.width() > 3 && b.height() > 3 {
				kept = append(kept, b)
			}
		}
		boxes = kept
	}
	sortBoxes(boxes)
	return boxes, plan.tileScale > 0, held, nil
}

// runDet runs the detector on a 1×3×hh×w input and returns its w×hh
// probability map, in into's memory where it fits (session.runInto).
func (h *handle) runDet(ctx context.Context, into, data []float32, w, hh int) ([]float32, error) {
	out, shape, err := h.m.det.runInto(ctx, into, data, 1, 3, int64(hh), int64(w))
	if err != nil {
		return nil, err
	}
	if len(shape) != 4 || int(shape[2]) != hh || int(shape[3]) != w {
		return nil, errShape("detector", shape)
	}
	return out[:w*hh], nil
}

// detectTiled detects im at scale s in overlapping tiles (detTiles) and
// merges the boxes a seam cut or two tiles both found (mergeSeams).
func (h *handle) detectTiled(ctx context.Context, im *bgr, s float64) ([]quad, error) {
	var boxes []quad
	var data, prob []float32 // reused from tile to tile (grow)
	for _, t := range detTiles(im.W, im.H, s) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sub := im.crop(t.x0, t.y0, t.x1, t.y1)
		data = grow(data, 3*t.w*t.h)
		sub.resizeInto(data, t.w, t.h, t.w, detMean, detStd)
		var err error
		if prob, err = h.runDet(ctx, prob, data, t.w, t.h); err != nil {
			return nil, err
		}
		for _, b := range dbBoxes(prob, t.w, t.h, sub.W, sub.H) {
			for i := range b {
				b[i].X += float64(t.x0)
				b[i].Y += float64(t.y0)
			}
			boxes = append(boxes, b)
		}
	}
	return mergeSeams(boxes), nil
}

// classify runs the direction classifier over the crops in batches:
// flips[i] when crop i reads upside down with a score above clsThresh;
// sure[i] when either label scores above it.
func (h *handle) classify(ctx context.Context, crops []*bgr) (flips, sure []bool, err error) {
	flips, sure = make([]bool, len(crops)), make([]bool, len(crops))
	order := byAspect(crops)
	var data []float32 // reused from batch to batch (grow)
	for beg := 0; beg < len(order); beg += clsBatch {
		idx := order[beg:min(beg+clsBatch, len(order))]
		data, _ = lineInput(data, crops, idx, clsHeight, clsWidth, 0)
		out, shape, err := h.m.cls.run(ctx, data, int64(len(idx)), 3, clsHeight, clsWidth)
		if err != nil {
			return nil, nil, err
		}
		if len(shape) != 2 || int(shape[0]) != len(idx) || shape[1] < 2 {
			return nil, nil, errShape("classifier", shape)
		}
		n := int(shape[1])
		for b, i := range idx {
			p0, p180 := out[b*n], out[b*n+1]
			flips[i] = p180 > p0 && p180 > clsThresh
			sure[i] = max(p0, p180) > clsThresh
		}
	}
	return flips, sure, nil
}

// recognize reads each crop into lines[i] (text, confidence, character
// positions), in batches of similar aspect; with looks, it takes
// secondLooks.
func (h *handle) recognize(ctx context.Context, crops []*bgr, lines []line, looks bool) error {
	if err := h.recognizeAt(ctx, crops, lines, 0); err != nil {
		return err
	}
	if !looks {
		return nil
	}
	return h.secondLooks(ctx, crops, lines)
}

// secondLooks reads again, differently, the crops whose first reading is
// in doubt (confidence under doubtfulConf), and keeps a second reading
// only when it is more confident by secondLookMargin (a reading that
// merely reshuffles characters is not worth the change). Lector's
// additions to PaddleOCR's recognition:
//
//   - Narrow crops, stretched: the recogniser emits at most one symbol per
//     8 input columns (its time steps), so a crop narrower than
//     narrowRatio × 48 px has fewer than 12 steps for its characters and
//     the blanks between them. A word tilted in a square crop, or a short
//     word at a small scale, is read again stretched to that width.
//   - Mirrored: text seen from behind (through glass, in a reflection)
//     reads as nonsense with low confidence; it is read again mirrored.
//     Its characters' spans then run right to left (line.Mirrored).
//
// Taken where the image is one line (psm 7, or a one-line image read as
// it stands), not for each line of a page: measured on every evaluation
// set (docs/BENCHMARKS.md, "PP-OCR"), the scene English crops went from 29
// to 24 character edits and nothing else changed, while on the pages the
// looks cost 17–30 % more CPU time for the same text (a table's short
// numbers are narrow, its noise doubtful). Nor for a line wider than
// one recognition batch holds (recBatchColumns at height 48): a second
// look doubles its reading, and a 30,000×40 strip of noise read as psm 7
// then ran past the page timeout under load.
func (h *handle) secondLooks(ctx context.Context, crops []*bgr, lines []line) error {
	minWidth := narrowRatio * h.m.recHeight
	looks := []struct {
		want func(c *bgr, l line) bool
		make func(c *bgr) *bgr
		min  int
		mark func(l *line)
	}{
		{
			want: func(c *bgr, l line) bool {
				return l.Conf < doubtfulConf && float64(c.W)*float64(h.m.recHeight) < float64(minWidth*c.H)
			},
			make: func(c *bgr) *bgr { return c },
			min:  minWidth,
			mark: func(*line) {},
		},
		{
			want: func(_ *bgr, l line) bool { return l.Conf < doubtfulConf },
			make: func(c *bgr) *bgr { return c.flipX() },
			mark: func(l *line) { l.Mirrored = true },
		},
	}
	for _, look := range looks {
		var again []*bgr
		var at []int
		for i, c := range crops {
			if float64(c.W)*float64(h.m.recHeight) > float64(recBatchColumns*c.H) {
				continue // a long line: see above
			}
			if look.want(c, lines[i]) {
				again = append(again, look.make(c))
				at = append(at, i)
			}
		}
		if len(again) == 0 {
			continue
		}
		read := make([]line, len(again))
		for k, i := range at {
			read[k] = line{Box: lines[i].Box, Vertical: lines[i].Vertical, Flipped: lines[i].Flipped}
			look.mark(&read[k])
		}
		if err := h.recognizeAt(ctx, again, read, look.min); err != nil {
			return err
		}
		for k, i := range at {
			if read[k].Conf > lines[i].Conf+secondLookMargin {
				lines[i] = read[k]
			}
		}
	}
	return nil
}

// recognizeAt reads each crop into lines[i], in batches of similar aspect,
// each crop at least minWidth wide in the recogniser's input, with the
// word breaks of widely spaced text put back (wordBreaks). A crop longer
// than recChunkAspect × its height is read in pieces cut at gaps
// (chunkCuts) and the readings joined: the recogniser's cost grows faster
// than its input's width (its global mixing blocks attend across the
// whole line), and a 30,000×40 strip read whole took most of a minute.
func (h *handle) recognizeAt(ctx context.Context, crops []*bgr, lines []line, minWidth int) error {
	var pieces []*bgr
	var owner, offset []int
	var spaced []bool // the piece follows a gap as wide as a word space
	long := false
	for i, c := range crops {
		if c.W <= recChunkAspect*c.H*3/2 {
			pieces, owner, offset, spaced = append(pieces, c), append(owner, i), append(offset, 0), append(spaced, false)
			continue
		}
		long = true
		start, space := 0, false
		for _, cut := range append(chunkCuts(columnDarkness(c), recChunkAspect*c.H, c.H), chunkCut{at: c.W}) {
			pieces, owner, offset = append(pieces, c.crop(start, 0, cut.at, c.H)), append(owner, i), append(offset, start)
			spaced = append(spaced, space)
			start, space = cut.at, cut.space
		}
	}
	if !long {
		return h.recognizeBatches(ctx, crops, lines, minWidth)
	}
	read := make([]line, len(pieces))
	if err := h.recognizeBatches(ctx, pieces, read, minWidth); err != nil {
		return err
	}
	for i := range crops {
		lines[i].Chars, lines[i].Spans, lines[i].Conf, lines[i].Text = nil, nil, 0, ""
	}
	sum := make([]float64, len(crops))
	for k, r := range read {
		i, W := owner[k], float64(crops[owner[k]].W)
		l := &lines[i]
		if len(r.Chars) == 0 {
			continue
		}
		if spaced[k] && len(l.Chars) > 0 && l.Chars[len(l.Chars)-1].R != ' ' {
			at := float64(offset[k]) / W
			l.Chars = append(l.Chars, decodedChar{R: ' ', Prob: 1})
			l.Spans = append(l.Spans, [2]float64{l.Spans[len(l.Spans)-1][1], at})
		}
		pw := float64(pieces[k].W)
		for j, c := range r.Chars {
			l.Chars = append(l.Chars, c)
			l.Spans = append(l.Spans, [2]float64{(float64(offset[k]) + r.Spans[j][0]*pw) / W, (float64(offset[k]) + r.Spans[j][1]*pw) / W})
		}
		sum[i] += r.Conf * float64(len(r.Chars))
	}
	for i := range lines {
		l := &lines[i]
		rs := make([]rune, len(l.Chars))
		n := 0
		for k, c := range l.Chars {
			rs[k] = c.R
		}
		for k := range read {
			if owner[k] == i {
				n += len(read[k].Chars)
			}
		}
		if n > 0 {
			l.Conf = sum[i] / float64(n)
		}
		l.Text = string(rs)
	}
	return nil
}

// recognizeBatches is recognizeAt without the cutting of long lines.
func (h *handle) recognizeBatches(ctx context.Context, crops []*bgr, lines []line, minWidth int) error {
	height := h.m.recHeight
	order := byAspect(crops)
	var data, out []float32 // reused from batch to batch (grow)
	for beg := 0; beg < len(order); {
		end := recBatchEnd(crops, order, beg, height, h.m.narrowest())
		idx := order[beg:end]
		beg = end
		width := recBatchWidth(crops, idx, height, h.m.narrowest())
		var widths []int
		data, widths = lineInput(data, crops, idx, height, width, minWidth)
		var shape []int64
		var err error
		out, shape, err = h.m.rec.runInto(ctx, out, data, int64(len(idx)), 3, int64(height), int64(width))
		if err != nil {
			return err
		}
		if len(shape) != 3 || int(shape[0]) != len(idx) {
			return errShape("recogniser", shape)
		}
		T, C := int(shape[1]), int(shape[2])
		col := float64(width) / float64(T) // input pixels per time step
		for b, i := range idx {
			chars, conf := ctcDecode(out[b*T*C:(b+1)*T*C], T, C, h.m.dict)
			c := crops[i]
			scale := col * float64(c.W) / float64(widths[b]) // crop columns per time step
			row := out[b*T*C : (b+1)*T*C]
			spaceClass := len(h.m.dict) // the dictionary's last character, the space (use_space_char)
			column := func(step int) int { return int((float64(step) + 0.5) * scale) }
			dark := columnDarkness(c)
			chars = wordBreaks(chars, c, dark, column, func(step int) float32 { return row[min(max(step, 0), T-1)*C+spaceClass] })
			l := &lines[i]
			l.Chars, l.Conf = chars, conf
			rs := make([]rune, len(chars))
			l.Spans = make([][2]float64, len(chars))
			for k, c := range chars {
				rs[k] = c.R
				l.Spans[k] = [2]float64{
					clamp(float64(c.First)*col/float64(widths[b]), 0, 1),
					clamp(float64(c.End+1)*col/float64(widths[b]), 0, 1),
				}
			}
			snapWords(chars, l.Spans, dark, column)
			l.Text = string(rs)
		}
	}
	return nil
}

func errShape(what string, shape []int64) error {
	return fmt.Errorf("ppocr: the %s's output has shape %v", what, shape)
}

// coversLine reports whether box (in the image padded by b) spans most of
// the unpadded image, ow×oh: at least 80 % of its width and half its
// height, with the image at least twice as wide as tall.
func coversLine(box quad, b, ow, oh int) bool {
	if ow < 2*oh {
		return false
	}
	w := min(box.maxX(), float64(b+ow)) - max(box.minX(), float64(b))
	h := min(box.maxY(), float64(b+oh)) - max(box.minY(), float64(b))
	return w >= 0.8*float64(ow) && h >= 0.5*float64(oh)
}
