package ppocr

import (
	"context"
	"fmt"
	"image"
	"math"
	"strings"
	"testing"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/f64"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/result"
)

// latinPage is a generated upright page: lines of Go Regular 28 px, black
// on white, with each word's ink box.
type latinPage struct {
	img   *image.Gray
	lines []string
	words []image.Rectangle // in reading order
	ink   []image.Rectangle // each line's
}

var latinLines = []string{
	"Invoice 4821 total due",
	"Meet us at the station",
	"Quick brown fox 2026",
}

func newLatinPage(t testing.TB) *latinPage {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 34, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	p := &latinPage{img: image.NewGray(image.Rect(0, 0, 900, 260)), lines: latinLines}
	draw.Draw(p.img, p.img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, s := range latinLines {
		d := font.Drawer{Dst: p.img, Src: image.Black, Face: face, Dot: fixed.P(34, 72+i*68)}
		for j, w := range strings.Fields(s) {
			if j > 0 {
				d.DrawString(" ")
			}
			b, _ := d.BoundString(w)
			p.words = append(p.words, image.Rect(b.Min.X.Floor(), b.Min.Y.Floor(), b.Max.X.Ceil(), b.Max.Y.Ceil()))
			d.DrawString(w)
		}
		r := p.words[len(p.words)-1]
		for _, w := range p.words[len(p.words)-len(strings.Fields(s)):] {
			r = r.Union(w)
		}
		p.ink = append(p.ink, r)
	}
	return p
}

// pageLines are a result's lines in reading order.
func pageLines(p *result.Page) []result.Line {
	var out []result.Line
	for _, b := range p.Blocks {
		for _, pa := range b.Paragraphs {
			out = append(out, pa.Lines...)
		}
	}
	return out
}

// checkReading asserts that p reads want's lines in order, one result line
// each, with each line's box over the line's ink (boxes in want's frame).
// Spaces are left out of the comparison: PP-OCRv4 runs some of Go
// Regular's narrow-spaced words together.
func checkReading(t *testing.T, name string, p *result.Page, want *latinPage) {
	t.Helper()
	lines := pageLines(p)
	var got []string
	for _, l := range lines {
		got = append(got, l.Text)
	}
	squeeze := func(s string) string { return strings.ReplaceAll(s, " ", "") }
	if squeeze(strings.Join(got, "\n")) != squeeze(strings.Join(want.lines, "\n")) {
		t.Errorf("%s: read lines %q, want %q", name, got, want.lines)
		return
	}
	for i, l := range lines {
		r := want.ink[i]
		b := image.Rect(l.Box.X0, l.Box.Y0, l.Box.X1, l.Box.Y1)
		if ov := b.Intersect(r); ov.Dx()*ov.Dy() < r.Dx()*r.Dy()*8/10 || b.Dx()*b.Dy() > 2*r.Dx()*r.Dy() {
			t.Errorf("%s: line %q box %v, ink at %v", name, l.Text, b, r)
		}
	}
}

// TestTurnedLatinPage: a Latin page turned a quarter either way reads in
// order, its rotation reported as the Tesseract engine reports it (the
// clockwise turn that makes it upright), and its boxes lie over the words
// of the upright page. Before the fix both turns read well, the classifier
// turning each line of the upside-down one back, and a quarter turn the
// wrong way won: lines in reverse order, boxes mirrored.
func TestTurnedLatinPage(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	page := newLatinPage(t)
	src := bgrOfGray(page.img)
	checkReading(t, "upright", process(t, h, grayPNG(t, src), engine.Options{}), page)
	for _, c := range []struct{ turn, rotation int }{{1, 270}, {3, 90}} {
		name := []string{"", "turned 90° clockwise", "", "turned 90° anticlockwise"}[c.turn]
		p := process(t, h, grayPNG(t, src.rotate(c.turn)), engine.Options{})
		if p.Rotation != c.rotation {
			t.Errorf("%s: rotation %d, want %d", name, p.Rotation, c.rotation)
		}
		checkReading(t, name, p, page)
	}
}

// tilted is the page turned deg degrees about its centre (positive:
// clockwise on screen), on a white canvas that holds it all, with its
// line ink boxes moved along (the upright boxes of their turned corners).
func (p *latinPage) tilted(deg float64) *latinPage {
	w, h := float64(p.img.Bounds().Dx()), float64(p.img.Bounds().Dy())
	sin, cos := math.Sincos(deg * math.Pi / 180)
	W, H := math.Abs(w*cos)+math.Abs(h*sin)+40, math.Abs(w*sin)+math.Abs(h*cos)+40
	// x' = cos·(x−w/2) − sin·(y−h/2) + W/2, y' = sin·(x−w/2) + cos·(y−h/2) + H/2
	tx := W/2 - cos*w/2 + sin*h/2
	ty := H/2 - sin*w/2 - cos*h/2
	m := f64.Aff3{cos, -sin, tx, sin, cos, ty}
	out := &latinPage{img: image.NewGray(image.Rect(0, 0, int(W), int(H))), lines: p.lines}
	draw.Draw(out.img, out.img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.BiLinear.Transform(out.img, m, p.img, p.img.Bounds(), draw.Src, nil)
	for _, r := range p.ink {
		x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, c := range [][2]float64{{float64(r.Min.X), float64(r.Min.Y)}, {float64(r.Max.X), float64(r.Min.Y)}, {float64(r.Max.X), float64(r.Max.Y)}, {float64(r.Min.X), float64(r.Max.Y)}} {
			x, y := m[0]*c[0]+m[1]*c[1]+m[2], m[3]*c[0]+m[4]*c[1]+m[5]
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
		out.ink = append(out.ink, image.Rect(int(x0), int(y0), int(math.Ceil(x1)), int(math.Ceil(y1))))
	}
	return out
}

// TestTiltedLatinPage: a page tilted ±20° reads line by line in order, each
// line with its own box and polygon. The upright bounding boxes of lines
// so tilted overlap their neighbours', and layout grouped the whole page
// as one row (bottom line first) until it learnt to group deskewed lines.
func TestTiltedLatinPage(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	page := newLatinPage(t)
	for _, deg := range []float64{20, -20} {
		tp := page.tilted(deg)
		p := process(t, h, encodePNG(t, tp.img), engine.Options{})
		name := fmt.Sprintf("tilted %+g°", deg)
		checkReading(t, name, p, tp)
		for _, l := range pageLines(p) {
			if len(l.Polygon) != 4 {
				t.Errorf("%s: line %q has polygon %v, want its quadrilateral", name, l.Text, l.Polygon)
			}
		}
	}
}

// TestSkewReported: ppocr reports a tilted page's skew as the Tesseract
// engine does (result.Page.Skew: degrees, Leptonica's sign), measured and
// not applied (its boxes stay in the image's frame); a level page reports
// none to speak of. The page is the dense report's (8 lines): Tesseract
// reports only a skew it applied, and Leptonica is not confident enough to
// straighten newLatinPage's three lines tilted 4° (it reports 0 there).
func TestSkewReported(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	m, err := tesseract.Engine{}.Load(context.Background(), engine.Spec{Model: "tesseract:eng", Config: "eng", Device: "cpu", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	th, err := m.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	page := newReportPage(t)
	if p := process(t, h, encodePNG(t, page.img), engine.Options{}); math.Abs(p.Skew) > 0.3 || p.Rotation != 0 {
		t.Errorf("level page: skew %.2f°, rotation %d", p.Skew, p.Rotation)
	}
	for _, deg := range []float64{4, -4} {
		data := encodePNG(t, page.tilted(deg).img)
		p := process(t, h, data, engine.Options{})
		tp := process(t, th, data, engine.Options{})
		t.Logf("tilted %+g° (down to the right when positive): ppocr skew %.2f°, tesseract %.2f°", deg, p.Skew, tp.Skew)
		if math.Abs(p.Skew-tp.Skew) > 0.5 || math.Abs(math.Abs(p.Skew)-4) > 0.5 {
			t.Errorf("tilted %+g°: ppocr skew %.2f°, tesseract %.2f°, want both ±4", deg, p.Skew, tp.Skew)
		}
		if !p.SkewNotApplied {
			t.Errorf("tilted %+g°: ppocr says its skew %.2f° was applied", deg, p.Skew)
		}
	}
}
