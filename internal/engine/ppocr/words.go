package ppocr

import (
	"sort"
	"unicode"
)

// Word breaks the recogniser leaves out. PP-OCRv4's recogniser emits the
// space class between words of ordinary text, but in large or
// letter-spaced type (a shop sign, read from the detector's tight crop:
// "FRESH BREAD DAILY" as "FRESHBREADDAILY") a word gap comes out as
// blanks. This happens where the characters lie far apart in the
// recogniser's time steps: ordinary text runs at 2–3 steps a character
// (16–24 input columns at height 48), the signs that lost their spaces at
// 4–7. The steps alone do not tell a word gap from the spacing of wide
// letters (on synthetic signs, the distance between consecutive
// characters' steps reached 1.4–1.8 × the line's median inside words and
// was 1.3–1.8 × across the gaps that lost their space), so the gap is
// looked for in the crop's ink between the two characters.
//
// Measured on 36 synthetic signs (ImageMagick, DejaVu Sans Bold 40 pt:
// "FRESH BREAD DAILY", "Fresh bread daily", "minimum wage limit", "OPEN
// 24 HOURS", "wilmington illinois", "WILLIAM MIMI LTD", letter spacing
// 0/8/16 px, word spacing +10/+30 px): the 4 lines read without their
// spaces got them back, none got a space too many; the word gaps were
// 0.44–1.14 crop heights of empty columns. On the receipt photo of
// scene/images (pitch 3) the ink rule alone split monospaced words at
// 0.27–0.41 crop heights ("MIL AZZO"); the pitch condition keeps it off
// there, and every evaluation set reads as before (docs/BENCHMARKS.md).
const (
	breakPitch  = 4    // only in lines whose median step distance between characters is at least this,
	breakHeight = 0.35 // a word gap is at least this many crop heights of ink-free columns,
	breakLetter = 2    // and more than this many times the line's median gap between letters
)

// wordBreaks returns chars with a space put, in a line whose median
// distance between consecutive characters' first time steps is at least
// breakPitch, between two consecutive letters or digits of a script that spaces its words (not Han, kana,
// Hangul or Thai-like scripts) where the widest run of ink-free columns
// of crop between them is at least breakHeight × the crop's height and
// more than breakLetter × the median of that widest run over all pairs
// of consecutive characters in the line (plus one column). column maps a
// time step to the crop's column at its centre. The space lies mid-gap,
// with its neighbours' mean probability; nothing else changes.
func wordBreaks(chars []decodedChar, crop *bgr, dark []float64, column func(step int) int, space func(step int) float32) []decodedChar {
	var steps []int
	for k := 1; k < len(chars); k++ {
		if chars[k].R != ' ' && chars[k-1].R != ' ' {
			steps = append(steps, chars[k].First-chars[k-1].First)
		}
	}
	if len(steps) < 2 || crop.H < 8 {
		return chars
	}
	sort.Ints(steps)
	if steps[len(steps)/2] < breakPitch {
		return tightBreaks(chars, crop, dark, column, space)
	}
	empty := emptyColumns(crop)
	gap := func(a, b decodedChar) int {
		return longestRun(max(0, column(a.End)+1), min(len(empty), column(b.First)), func(x int) bool { return empty[x] })
	}
	gaps := make([]int, len(chars)) // gaps[k]: between chars k-1 and k; -1 where a space is there
	var letters []int
	for k := 1; k < len(chars); k++ {
		gaps[k] = -1
		if chars[k].R != ' ' && chars[k-1].R != ' ' {
			gaps[k] = gap(chars[k-1], chars[k])
			letters = append(letters, gaps[k])
		}
	}
	sort.Ints(letters)
	median := letters[len(letters)/2]
	minGap := max(breakHeight*float64(crop.H), float64(breakLetter*median+1))
	var out []decodedChar
	for k, c := range chars {
		if k > 0 && gaps[k] >= 0 && float64(gaps[k]) >= minGap && spacedScript(chars[k-1].R) && spacedScript(c.R) {
			a := chars[k-1]
			mid := (a.End + c.First) / 2
			out = append(out, decodedChar{R: ' ', First: mid, End: mid, Prob: (a.Prob + c.Prob) / 2})
		}
		out = append(out, c)
	}
	return tightBreaks(out, crop, dark, column, space)
}

// tightBreaks returns chars with a space put between two characters of a
// Latin-like run (tightPair) where the crop's columns between their time
// steps hold a clear gap — a run of columns whose darkest pixel is within
// tightClear of the background (columnDarkness: relative to the crop's own
// background and ink, so blurred and faint lines count alike) — of at
// least tightHeight × the crop's height and at least tightLetter × the
// median such gap over the line's pairs plus one column (the line's letter
// gaps; most pairs lie inside words). Lines with fewer than tightPairs
// pairs are left as read. The space lies mid-gap in time steps, with its
// neighbours' mean probability.
//
// Measured on 72 synthetic paragraphs (bench/ppocr-spaces.sh: six fonts,
// 18–26 px, sharp and blurred by σ = 1 px, black and grey 150 on white;
// docs/BENCHMARKS.md): word gaps measured 0.22–0.45 crop heights, the
// gaps between letters of a word 0–0.19.
func tightBreaks(chars []decodedChar, crop *bgr, dark []float64, column func(step int) int, space func(step int) float32) []decodedChar {
	if len(chars) < tightPairs+1 {
		return chars
	}
	gap := func(a, b decodedChar) int {
		return longestRun(max(0, column(a.End)+1), min(len(dark), column(b.First)), func(x int) bool { return dark[x] < tightClear })
	}
	gaps := make([]int, len(chars)) // gaps[k]: between chars k-1 and k; -1 where no space may go
	var pairs []int
	for k := 1; k < len(chars); k++ {
		gaps[k] = -1
		if tightPair(chars[k-1].R, chars[k].R) || sentenceEnd(chars[:k], chars[k].R) {
			gaps[k] = gap(chars[k-1], chars[k])
			pairs = append(pairs, gaps[k])
		}
	}
	if len(pairs) < tightPairs {
		return chars
	}
	sort.Ints(pairs)
	minGap := max(tightHeight*float64(crop.H), tightLetter*float64(pairs[len(pairs)/2])+1)
	var out []decodedChar
	for k, c := range chars {
		if k > 0 && gaps[k] >= 0 && float64(gaps[k]) >= minGap && spaceSeen(chars[k-1], c, space) {
			a := chars[k-1]
			mid := (a.End + c.First) / 2
			out = append(out, decodedChar{R: ' ', First: mid, End: mid, Prob: (a.Prob + c.Prob) / 2})
		}
		out = append(out, c)
	}
	return out
}

// spaceSeen: the recogniser gave the space class at least tightSpace at
// some time step from a's last to b's first.
func spaceSeen(a, b decodedChar, space func(step int) float32) bool {
	for s := a.End; s <= b.First; s++ {
		if space(s) >= tightSpace {
			return true
		}
	}
	return false
}

// Word gaps in lines at ordinary pitch (tightBreaks).
const (
	tightClear  = 0.3  // a column is clear when its darkest pixel is under this fraction of the way from background to ink,
	tightHeight = 0.2  // a word gap is at least this many crop heights of clear columns,
	tightLetter = 2    // and at least this many times the line's median gap (+1 column),
	tightPairs  = 4    // in a line of at least this many pairs of characters,
	tightSpace  = 0.01 // where the recogniser gave the space class at least this probability between the two
)

// sentenceEnd: a word break may go between before (ending in a full
// stop) and b, a capital letter, when the full stop ends a word of two
// lower-case letters or more ("quarter.The"), not an initial or an
// abbreviation of one ("N.Y.", "Ph.D").
func sentenceEnd(before []decodedChar, b rune) bool {
	n := len(before)
	return n >= 3 && before[n-1].R == '.' && unicode.IsUpper(b) && unicode.IsLower(before[n-2].R) && unicode.IsLower(before[n-3].R) &&
		spacedScript(b) && spacedScript(before[n-2].R)
}

// tightPair: a word break may go between a and b in a line at ordinary
// pitch: both letters of a script that spaces its words, or a letter and
// a digit either way, or a comma followed by a lower-case letter (and a
// full stop ending a sentence: sentenceEnd). Two digits are never split
// (tabular figures leave wide gaps around a narrow 1), nor a colon or
// other full stops from what follows (N.Y., fi_property.item_status,
// Tag#:SJ3095: their narrow ink leaves a gap as wide as a word's).
func tightPair(a, b rune) bool {
	if !spacedScript(b) || unicode.IsDigit(b) && !unicode.IsLetter(a) {
		return false
	}
	switch a {
	case ',':
		return unicode.IsLetter(b)
	}
	return spacedScript(a) && !(unicode.IsDigit(a) && unicode.IsDigit(b))
}

// columnDarkness is, per column of im, how dark its darkest pixel is
// between the crop's background and its ink: 0 at the background (the
// 90th percentile of grey levels on the majority side), 1 at the ink
// (the 3rd percentile), for dark text on light; mirrored for light text.
func columnDarkness(im *bgr) []float64 {
	grey, hist, _, inkDark := greyInk(im)
	level := func(q float64) float64 { // grey level at quantile q
		n, want := 0, int(q*float64(len(grey)))
		for v := 0; v < 256; v++ {
			n += hist[v]
			if n > want {
				return float64(v)
			}
		}
		return 255
	}
	bg, ink := level(0.9), level(0.03)
	if !inkDark {
		bg, ink = level(0.1), level(0.97)
	}
	out := make([]float64, im.W)
	if bg == ink {
		return out
	}
	// The darkest pixel of a column is its ink-most grey level: the
	// lowest for dark ink, the highest for light.
	for x := 0; x < im.W; x++ {
		m := grey[x]
		for i := x; i < len(grey); i += im.W {
			if g := grey[i]; (g < m) == inkDark && g != m {
				m = g
			}
		}
		out[x] = max(0, (bg-float64(m))/(bg-ink))
	}
	return out
}

// snapWords widens each word's span (spans: per character, fractions of
// the crop's width from its first to past its last column) to the ink it
// covers: from the column of its first character's time step leftwards,
// and from its last character's rightwards, while the columns hold ink
// (dark at least tightClear, columnDarkness), never past the neighbouring
// words' characters nor further than one character's advance. A CTC
// character's time step lies inside or after its glyph, not at its edges,
// so the spans alone start a word up to half a glyph late and end it
// early: in large type the gap between two words' boxes came out about
// twice the ink's (a heading's "Sales Report" 33 px apart where the ink is
// 17), wide enough for the table finder to take the heading for a row of
// two cells.
func snapWords(chars []decodedChar, spans [][2]float64, dark []float64, column func(step int) int) {
	w := float64(len(dark))
	if w == 0 {
		return
	}
	// reach: a glyph's edge lies within one character's advance of its
	// time step (the line's median distance between consecutive
	// characters' steps, in columns), so ink further off (a table's rule
	// in the crop's margin, a photo's texture) is not the word's.
	var steps []int
	for k := 1; k < len(chars); k++ {
		if chars[k].R != ' ' && chars[k-1].R != ' ' {
			steps = append(steps, chars[k].First-chars[k-1].First)
		}
	}
	reach := column(1) - column(0) // one time step, at least
	if len(steps) > 0 {
		sort.Ints(steps)
		reach = max(reach, column(steps[len(steps)/2])-column(0))
	}
	for s := 0; s < len(chars); {
		if chars[s].R == ' ' {
			s++
			continue
		}
		e := s
		for e < len(chars) && chars[e].R != ' ' {
			e++
		}
		lo, hi := 0, len(dark) // the columns the word may take: past its neighbours' characters
		if s > 0 {
			for k := s - 1; k >= 0; k-- {
				if chars[k].R != ' ' {
					lo = min(column(chars[k].End)+1, len(dark))
					break
				}
			}
		}
		for k := e; k < len(chars); k++ {
			if chars[k].R != ' ' {
				hi = max(column(chars[k].First), 0)
				break
			}
		}
		from := min(max(column(chars[s].First), lo), len(dark)-1)
		x := from
		for x-1 >= max(lo, from-reach) && dark[x-1] >= tightClear {
			x--
		}
		spans[s][0] = min(spans[s][0], float64(x)/w)
		from = min(max(column(chars[e-1].End), 0), hi-1)
		x = from
		for x+1 < min(hi, from+reach+1) && dark[x+1] >= tightClear {
			x++
		}
		spans[e-1][1] = max(spans[e-1][1], float64(x+1)/w)
		s = e
	}
}

// spacedScript: r is a letter or digit of a script that separates words
// by spaces.
func spacedScript(r rune) bool {
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return false
	}
	return !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar, unicode.Tibetan)
}

// longestRun is the length of the longest run of consecutive columns x in
// [x0, x1) for which clear holds (0 for an empty range).
func longestRun(x0, x1 int, clear func(x int) bool) int {
	best, run := 0, 0
	for x := x0; x < x1; x++ {
		if clear(x) {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// greyInk returns im's grey levels (the mean of its channels, row by
// row), their histogram, Otsu's threshold of them, and whether the ink is
// the dark side (the less numerous side of the threshold).
func greyInk(im *bgr) (grey []uint8, hist [256]int, t int, inkDark bool) {
	grey = make([]uint8, im.W*im.H)
	for i := range grey {
		p := im.Pix[3*i:]
		g := uint8((int(p[0]) + int(p[1]) + int(p[2])) / 3)
		grey[i] = g
		hist[g]++
	}
	t = otsu(hist[:], len(grey))
	dark := 0
	for v := 0; v <= t; v++ {
		dark += hist[v]
	}
	return grey, hist, t, 2*dark <= len(grey)
}

// emptyColumns reports, per column of im, whether it holds no ink: at
// most 1/20 of its pixels on the ink side of Otsu's threshold of the
// crop's grey levels, ink being the less numerous side (text on either a
// light or a dark background).
func emptyColumns(im *bgr) []bool {
	grey, _, t, inkDark := greyInk(im)
	out := make([]bool, im.W)
	for x := 0; x < im.W; x++ {
		n := 0
		for y := 0; y < im.H; y++ {
			if (grey[y*im.W+x] <= uint8(t)) == inkDark {
				n++
			}
		}
		out[x] = 20*n <= im.H
	}
	return out
}

// otsu is Otsu's threshold of a grey-level histogram of n pixels: the
// level t that maximises the between-class variance of [0, t] and
// (t, 255].
func otsu(hist []int, n int) int {
	sum := 0.0
	for v, c := range hist {
		sum += float64(v * c)
	}
	best, bestT := -1.0, 0
	w0, sum0 := 0, 0.0
	for t := 0; t < 255; t++ {
		w0 += hist[t]
		sum0 += float64(t * hist[t])
		w1 := n - w0
		if w0 == 0 || w1 == 0 {
			continue
		}
		m0, m1 := sum0/float64(w0), (sum-sum0)/float64(w1)
		v := float64(w0) * float64(w1) * (m0 - m1) * (m0 - m1)
		if v > best {
			best, bestT = v, t
		}
	}
	return bestT
}
