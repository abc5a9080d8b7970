package render

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/result"
)

// tiltedPage is a page as PP-OCR reads a tilted scan (skew measured, not
// applied): lines of 22 px text 30 px apart, each at deg degrees (y down:
// positive runs down to the right), with its polygon and its words' upright
// boxes (those of each word's part of the line's quadrilateral, whole
// pixels), 11 px a character, 9 px a space.
func tiltedPage(lines []string, deg float64) *result.Page {
	sin, cos := math.Sincos(deg * math.Pi / 180)
	const height = 22
	p := &result.Page{Width: 612, Height: 792, Source: result.SourceOCR, Skew: -deg, SkewNotApplied: true}
	type v struct{ x, y float64 }
	box := func(ps ...v) result.Box {
		x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, q := range ps {
			x0, y0, x1, y1 = min(x0, q.x), min(y0, q.y), max(x1, q.x), max(y1, q.y)
		}
		return result.Box{X0: int(math.Floor(x0)), Y0: int(math.Floor(y0)), X1: int(math.Ceil(x1)) + 1, Y1: int(math.Ceil(y1)) + 1}
	}
	for i, s := range lines {
		bl := v{60, 300 + 30*float64(i)}
		at := func(t, up float64) v { return v{bl.x + t*cos + up*sin, bl.y + t*sin - up*cos} }
		pt := func(q v) result.Point { return result.Point{X: int(math.Round(q.x)), Y: int(math.Round(q.y))} }
		n := float64(len(s)) * 11
		l := result.Line{Text: s, Polygon: []result.Point{pt(at(0, height)), pt(at(n, height)), pt(at(n, 0)), pt(at(0, 0))}}
		l.Box = box(at(0, height), at(n, height), at(n, 0), at(0, 0))
		t := 0.0
		for _, w := range strings.Fields(s) {
			t1 := t + 11*float64(len(w))
			l.Words = append(l.Words, result.Word{Text: w, Box: box(at(t, height), at(t1, height), at(t1, 0), at(t, 0)), Confidence: 90})
			t = t1 + 11
		}
		p.Blocks = append(p.Blocks, result.Block{Type: result.BlockText, Box: l.Box, Paragraphs: []result.Paragraph{{Box: l.Box, Lines: []result.Line{l}}}})
	}
	return p
}

// TestTiltedLinesReadInOrderWithSpaces: the text layer of a page read
// tilted (lines with polygons) gives each line whole, in order, with its
// spaces, and each word lies over its box. Drawn level at the bottom of
// each line's upright box (the line's height for a font size), the words
// of neighbouring lines ran into each other: pdftotext gave
// "Thewhilequoperating" for issue 14's tilt8.png.
func TestTiltedLinesReadInOrderWithSpaces(t *testing.T) {
	t.Parallel()
	lines := []string{
		"The quarterly report shows that revenue grew",
		"while operating costs fell in the north of it",
		"the warehouse shipped most of them in a day",
		"Please send your questions to us by Friday",
	}
	blank := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter}})
	for _, deg := range []float64{3, 8, 15, -12, 25} {
		p := tiltedPage(lines, deg)
		var out bytes.Buffer
		if _, err := SearchablePDF(&out, blank, []*result.Page{p}, Options{}); err != nil {
			t.Fatal(err)
		}
		path := writeTemp(t, fmt.Sprintf("tilt%g.pdf", deg), out.Bytes())
		if raw := tool(t, "pdftotext", "-raw", path, "-"); strings.TrimSpace(raw) != strings.Join(lines, "\n") {
			t.Errorf("tilted %g°: pdftotext -raw gives\n%s\nwant\n%s", deg, raw, strings.Join(lines, "\n"))
		}
		// Each piece of text -bbox gives (it splits turned words) lies on
		// a line: its centre within half the line's height of the line's
		// middle, across the line's direction (-bbox lists the pieces of
		// turned text in no line order; -raw's order is checked above).
		nx, ny := math.Sincos(deg * math.Pi / 180)
		ny = -ny
		for _, g := range bboxWords(t, path) {
			cx, cy := (g.XMin+g.XMax)/2, (g.YMin+g.YMax)/2
			best, bestD := -1, math.Inf(1)
			for i, b := range p.Blocks {
				poly := b.Paragraphs[0].Lines[0].Polygon
				mx, my := float64(poly[0].X+poly[2].X)/2, float64(poly[0].Y+poly[2].Y)/2
				if d := math.Abs((cx-mx)*nx + (cy-my)*ny); d < bestD {
					best, bestD = i, d
				}
			}
			if bestD > 11+2 {
				t.Errorf("tilted %g°: %q centred at (%.0f, %.0f), %.1f pt across from the nearest line's middle (%d)", deg, g.S, cx, cy, bestD, best)
			}
		}
	}
}
