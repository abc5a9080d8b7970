package tesseract

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/f64"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/eval"
	"github.com/lector-ocr/lector/internal/evaldata"
	"github.com/lector-ocr/lector/internal/result"
)

// tiltLines are an ordinary letter's: eight lines of about 10-point print
// at 300 dpi (Go Regular at 40 px), 70 px apart.
var tiltLines = []string{
	"The quarterly report shows that revenue grew by twelve percent,",
	"while operating costs fell slightly in the northern region.",
	"Customers in Oslo, Bergen and Trondheim ordered 4,512 units;",
	"the warehouse shipped most of them within three days of payment.",
	"Please send your questions to the finance team before Friday.",
	"Our auditors reviewed the accounts and found no discrepancies.",
	"Next year we expect steady demand and modest growth in exports.",
	"The board thanks every employee for a remarkable twelve months.",
}

// textPage is a generated page: its image, lines, and each line's ink box.
type textPage struct {
	img   *image.Gray
	lines []string
	ink   []image.Rectangle
}

// newTextPage draws tiltLines on a white page 1500 px wide.
func newTextPage(t testing.TB) *textPage {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 40, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	p := &textPage{img: image.NewGray(image.Rect(0, 0, 1500, 120+70*len(tiltLines))), lines: tiltLines}
	draw.Draw(p.img, p.img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, s := range tiltLines {
		d := font.Drawer{Dst: p.img, Src: image.Black, Face: face, Dot: fixed.P(60, 100+i*70)}
		b, _ := d.BoundString(s)
		p.ink = append(p.ink, image.Rect(b.Min.X.Floor(), b.Min.Y.Floor(), b.Max.X.Ceil(), b.Max.Y.Ceil()))
		d.DrawString(s)
	}
	return p
}

// tilted returns p turned deg degrees clockwise (down to the right when
// positive) about its centre onto a canvas that holds it all, and the
// lines' ink boxes there (hulls of the turned boxes).
func (p *textPage) tilted(deg float64) *textPage {
	w, h := float64(p.img.Bounds().Dx()), float64(p.img.Bounds().Dy())
	sin, cos := math.Sincos(deg * math.Pi / 180)
	W, H := math.Abs(w*cos)+math.Abs(h*sin)+40, math.Abs(w*sin)+math.Abs(h*cos)+40
	tx := W/2 - cos*w/2 + sin*h/2
	ty := H/2 - sin*w/2 - cos*h/2
	m := f64.Aff3{cos, -sin, tx, sin, cos, ty}
	out := &textPage{img: image.NewGray(image.Rect(0, 0, int(W), int(H))), lines: p.lines}
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

func (p *textPage) png(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, p.img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTiltedPagesAreStraightened: a page tilted past Leptonica's default
// ±7° sweep (8°, 15°, 25°, both ways; −15° upside down too) is found
// tilted by the wide search, straightened and read: the skew reported
// within 1° of the truth, the text within CER 0.02 (ten characters of the
// page's 502: the upright page and every tilt here read exactly, so the
// bound leaves room for resampling's odd letter, not for a lost line;
// before, ±8° and ±25° read as an empty page, +15° too and −15° at CER
// 0.53), and each line's box, taken back through the deskew onto the
// tilted image, on that line's ink (covering 80% of it, its hull no more
// than 130% of the ink's).
func TestTiltedPagesAreStraightened(t *testing.T) {
	t.Parallel()
	h := newHandle(t, time.Minute)
	page := newTextPage(t)
	want := strings.Join(page.lines, "\n")
	for _, c := range []struct {
		deg      float64
		flipped  bool // also upside down: found by the orientation check
		rotation int
	}{{8, false, 0}, {-8, false, 0}, {15, false, 0}, {25, false, 0}, {-25, false, 0}, {-15, true, 180}} {
		deg := c.deg
		tp := page.tilted(deg)
		in := tp
		if c.flipped {
			in = &textPage{img: upsideDown(tp.img)}
		}
		p, err := h.Process(context.Background(), engine.Image{Number: 1, Data: in.png(t)}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("tilted %+g°, upside down %v", deg, c.flipped)
		got := p.Text()
		if c := eval.CER(strings.TrimSpace(got), want); c > 0.02 {
			t.Errorf("%s: CER %.3f, read %q", name, c, got)
		}
		// Leptonica's angle is the one that straightens the page: the
		// negative of the tilt drawn clockwise. Upside down, the page is
		// deskewed, turned and deskewed again, and skew is the sum.
		if math.Abs(p.Skew+deg) > 1 || p.Rotation != c.rotation {
			t.Errorf("%s: skew %.2f°, rotation %d; want %.0f°, %d", name, p.Skew, p.Rotation, -deg, c.rotation)
		}
		if b := tp.img.Bounds(); p.Width != b.Dx() || p.Height != b.Dy() {
			t.Errorf("%s: page %d×%d, want the input's %v", name, p.Width, p.Height, b.Size())
		}
		lines := lineBoxes(p)
		if len(lines) != len(tp.ink) {
			t.Errorf("%s: %d lines, want %d", name, len(lines), len(tp.ink))
			continue
		}
		for i, l := range lines {
			// The line's box in the deskewed frame, its corners turned
			// back by Skew about the page's centre (as the searchable PDF
			// and hOCR do): the hull must cover most of the line's ink
			// (on the page before it was turned upside down: the frame
			// the quarter turn brings it back to).
			hull := unskew(l, p)
			r := tp.ink[i]
			if ov := hull.Intersect(r); ov.Dx()*ov.Dy() < r.Dx()*r.Dy()*8/10 || hull.Dx()*hull.Dy() > r.Dx()*r.Dy()*13/10 {
				t.Errorf("%s: line %d's box %v is %v on the tilted page; ink at %v", name, i, l, hull, r)
			}
		}
	}
}

// upsideDown returns g turned 180°.
func upsideDown(g *image.Gray) *image.Gray {
	b := g.Bounds()
	out := image.NewGray(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Pix[(b.Dy()-1-y)*out.Stride+b.Dx()-1-x] = g.Pix[y*g.Stride+x]
		}
	}
	return out
}

// lineBoxes lists the page's line boxes in order.
func lineBoxes(p *result.Page) []result.Box {
	var out []result.Box
	for _, b := range p.Blocks {
		for _, para := range b.Paragraphs {
			for _, l := range para.Lines {
				out = append(out, l.Box)
			}
		}
	}
	return out
}

// unskew returns the hull of box b of page p (in the deskewed frame, y
// down) turned back by p.Skew degrees about the page's centre: the frame
// of the input image.
func unskew(b result.Box, p *result.Page) image.Rectangle {
	sin, cos := math.Sincos(-p.Skew * math.Pi / 180)
	cx, cy := float64(p.Width)/2, float64(p.Height)/2
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{float64(b.X0), float64(b.Y0)}, {float64(b.X1), float64(b.Y0)}, {float64(b.X1), float64(b.Y1)}, {float64(b.X0), float64(b.Y1)}} {
		u, v := c[0]-cx, c[1]-cy
		x, y := cx+cos*u-sin*v, cy+sin*u+cos*v
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	return image.Rect(int(x0), int(y0), int(math.Ceil(x1)), int(math.Ceil(y1)))
}

// TestTiltedCornerTextIsKept: a page tilted 20° in the top-left corner of a
// larger image (a photo with the document off-centre) is read whole, its
// boxes inside the page. The deskew turns the image about its centre,
// which carries the lines' starts past the image's left edge: turned onto
// a canvas of the same size (as Leptonica's default deskew does), the first
// letters of every line were cut off (CER 0.11, measured).
func TestTiltedCornerTextIsKept(t *testing.T) {
	t.Parallel()
	h := newHandle(t, time.Minute)
	tp := newTextPage(t).tilted(20)
	b := tp.img.Bounds()
	photo := image.NewGray(image.Rect(0, 0, b.Dx()+2000, b.Dy()+2000))
	draw.Draw(photo, photo.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(photo, b, tp.img, image.Point{}, draw.Src)
	p, err := h.Process(context.Background(), engine.Image{Number: 1, Data: (&textPage{img: photo}).png(t)}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := eval.CER(strings.TrimSpace(p.Text()), strings.Join(tp.lines, "\n")); c > 0.02 || math.Abs(p.Skew+20) > 1 {
		t.Errorf("skew %.2f°, CER %.3f, read %q", p.Skew, c, p.Text())
	}
	if p.Width != photo.Bounds().Dx() || p.Height != photo.Bounds().Dy() {
		t.Errorf("page %d×%d, want the input's %v", p.Width, p.Height, photo.Bounds().Size())
	}
	for _, l := range lineBoxes(p) {
		if l.X0 < 0 || l.Y0 < 0 || l.X1 > p.Width || l.Y1 > p.Height || l.X1 <= l.X0 || l.Y1 <= l.Y0 {
			t.Errorf("line box %v outside the %d×%d page", l, p.Width, p.Height)
		}
	}
}

// BenchmarkDeskew measures decoding and deskewing alone, with Leptonica's
// default sweep only (wide 0) and with the wide search (45): on a page the
// default reads confidently (linn, upright) the two cost the same; on a
// photo where it is not confident (ic15-img_1, a scene photo), the wide
// search is the added cost; on a page tilted 15° it is what finds the tilt.
func BenchmarkDeskew(b *testing.B) {
	tilted := newTextPage(b).tilted(15).png(b)
	for _, in := range []struct{ name, path string }{{"linn", "pages/linn.png"}, {"ic15-img_1", "scene/images/ic15-img_1.jpg"}, {"tilted15", ""}} {
		data := tilted
		if in.path != "" {
			var err error
			if data, err = os.ReadFile(evaldata.Path(b, strings.Split(in.path, "/")...)); err != nil {
				b.Fatal(err)
			}
		}
		for _, wide := range []float64{0, wideDeskew} {
			b.Run(fmt.Sprintf("%s/wide=%g", in.name, wide), func(b *testing.B) {
				var angle float64
				for b.Loop() {
					var err error
					if angle, err = deskewImage(data, wide); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(angle, "deg")
			})
		}
	}
}

// quarterTurned returns g turned q quarter turns clockwise.
func quarterTurned(g *image.Gray, q int) *image.Gray {
	for range q % 4 {
		b := g.Bounds()
		out := image.NewGray(image.Rect(0, 0, b.Dy(), b.Dx()))
		for y := range b.Dy() {
			for x := range b.Dx() {
				out.Pix[x*out.Stride+b.Dy()-1-y] = g.Pix[y*g.Stride+x]
			}
		}
		g = out
	}
	return g
}

// TestSidewaysPageIsTurnedBeforeItsFirstReading: a letter page (1700×2200
// px, tiltLines at the top) turned a quarter either way is found sideways
// by Leptonica before Tesseract reads it (preTurn), so it is read once,
// upright — before, it was read sideways, found so (isSideways), tried at
// both quarter turns at half size and read again: four readings, and the
// sideways one was the costliest (docs/BENCHMARKS.md). The text and the
// rotation are what the reading after the turn gave; the upright page is
// not turned.
func TestSidewaysPageIsTurnedBeforeItsFirstReading(t *testing.T) {
	t.Parallel()
	h := newHandle(t, time.Minute)
	text := newTextPage(t)
	letter := image.NewGray(image.Rect(0, 0, 1700, 2200))
	draw.Draw(letter, letter.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(letter, text.img.Bounds().Add(image.Pt(100, 150)), text.img, image.Point{}, draw.Src)
	want := strings.Join(text.lines, "\n")
	for _, q := range []int{0, 1, 3} {
		in := &textPage{img: quarterTurned(letter, q)}
		h.readings = 0
		p, err := h.Process(context.Background(), engine.Image{Number: 1, Data: in.png(t)}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c := eval.CER(strings.TrimSpace(p.Text()), want); c > 0.02 {
			t.Errorf("turned %d°: CER %.3f, read %q", 90*q, c, p.Text())
		}
		if wantRot := (4 - q) % 4 * 90; p.Rotation != wantRot || h.readings != 1 {
			t.Errorf("turned %d° clockwise: rotation %d after %d readings, want %d after 1", 90*q, p.Rotation, h.readings, wantRot)
		}
		if p.Width != 1700 || p.Height != 2200 {
			t.Errorf("turned %d°: page %d×%d, want 1700×2200 (upright)", 90*q, p.Width, p.Height)
		}
	}
}
