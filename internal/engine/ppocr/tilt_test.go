package ppocr

import (
	"fmt"
	"image"
	"strings"
	"testing"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/eval"
)

// reportLines are a dense page's: long lines of small print close
// together, the kind whose upright boxes overlap their neighbours' at a
// few degrees of tilt (issue 14's page_base.png, 8 lines of 22 px).
var reportLines = []string{
	"The quarterly report shows that revenue grew by twelve percent,",
	"while operating costs fell slightly in the northern region.",
	"Customers in Oslo, Bergen and Trondheim ordered 4,512 units;",
	"the warehouse shipped most of them within three days of payment.",
	"Please send your questions to the finance team before Friday.",
	"The quarterly report shows that revenue grew by twelve percent,",
	"while operating costs fell slightly in the northern region.",
	"Customers in Oslo, Bergen and Trondheim ordered 4,512 units;",
}

// newReportPage draws reportLines in Go Regular 26 px, 34 px apart, on a
// page 960 px wide: each line 780–860 px long, rising about 43 px over its
// length at 3°, its upright box overlapping the line above's by more than
// half.
func newReportPage(t testing.TB) *latinPage {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 26, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	p := &latinPage{img: image.NewGray(image.Rect(0, 0, 960, 40+34*len(reportLines))), lines: reportLines}
	draw.Draw(p.img, p.img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, s := range reportLines {
		d := font.Drawer{Dst: p.img, Src: image.Black, Face: face, Dot: fixed.P(30, 44+i*34)}
		var r image.Rectangle
		for j, w := range strings.Fields(s) {
			if j > 0 {
				d.DrawString(" ")
			}
			b, _ := d.BoundString(w)
			wr := image.Rect(b.Min.X.Floor(), b.Min.Y.Floor(), b.Max.X.Ceil(), b.Max.Y.Ceil())
			p.words = append(p.words, wr)
			r = r.Union(wr)
			d.DrawString(w)
		}
		p.ink = append(p.ink, r)
	}
	return p
}

// TestTiltedDensePage: a dense page tilted about 3° and 25° either way
// reads every line once, in order, each with its quadrilateral. Before
// issue 14's fix, at 3° (grouped deskewed only past 3°) the upright boxes
// of neighbouring long lines overlapped and three printed lines came out
// as one result line, and at 25° the detector dropped two lines whose
// boxes box_score_fast scored just under det_db_box_thresh.
func TestTiltedDensePage(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	page := newReportPage(t)
	for _, deg := range []float64{3, -3, 25, -25} {
		tp := page.tilted(deg)
		p := process(t, h, encodePNG(t, tp.img), engine.Options{})
		name := fmt.Sprintf("dense page tilted %+g°", deg)
		lines := pageLines(p)
		var got []string
		for _, l := range lines {
			got = append(got, l.Text)
		}
		// One result line per printed line, in order; the recogniser may
		// miss a character or a space of small print (CER per line).
		if len(lines) != len(tp.lines) {
			t.Errorf("%s: read %d lines %q, want %d %q", name, len(lines), got, len(tp.lines), tp.lines)
			continue
		}
		for i, l := range lines {
			if c := eval.CER(l.Text, tp.lines[i]); c > 0.1 {
				t.Errorf("%s: line %d reads %q (CER %.2f), want %q", name, i, l.Text, c, tp.lines[i])
			}
			r, b := tp.ink[i], image.Rect(l.Box.X0, l.Box.Y0, l.Box.X1, l.Box.Y1)
			if ov := b.Intersect(r); ov.Dx()*ov.Dy() < r.Dx()*r.Dy()*8/10 {
				t.Errorf("%s: line %q box %v, ink at %v", name, l.Text, b, r)
			}
		}
		for _, l := range lines {
			if len(l.Polygon) != 4 {
				t.Errorf("%s: line %q has polygon %v, want its quadrilateral", name, l.Text, l.Polygon)
			}
		}
	}
}
