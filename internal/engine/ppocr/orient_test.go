package ppocr

import (
	"image"
	"strings"
	"testing"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/engine"
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
	src := newBGR(page.img.Bounds().Dx(), page.img.Bounds().Dy())
	for y := 0; y < src.H; y++ {
		for x := 0; x < src.W; x++ {
			v := page.img.GrayAt(x, y).Y
			copy(src.Pix[3*(y*src.W+x):], []byte{v, v, v})
		}
	}
	toPNG := func(im *bgr) []byte {
		return encodePNG(t, gray(im.W, im.H, func(x, y int) uint8 { return im.At(x, y).Y }))
	}
	checkReading(t, "upright", process(t, h, toPNG(src), engine.Options{}), page)
	for _, c := range []struct{ turn, rotation int }{{1, 270}, {3, 90}} {
		name := []string{"", "turned 90° clockwise", "", "turned 90° anticlockwise"}[c.turn]
		p := process(t, h, toPNG(src.rotate(c.turn)), engine.Options{})
		if p.Rotation != c.rotation {
			t.Errorf("%s: rotation %d, want %d", name, p.Rotation, c.rotation)
		}
		checkReading(t, name, p, page)
	}
}
