package tesseract

import (
	"image"
	"testing"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
)

func TestStretchSpreadsGrayLevels(t *testing.T) {
	t.Parallel()
	// Faint print: gray 100 on gray 180, one pixel in 200 at each extreme
	// clipped as the 1% allows.
	g := image.NewGray(image.Rect(0, 0, 100, 100))
	for i := range g.Pix {
		switch {
		case i%200 == 0:
			g.Pix[i] = 0 // outlier: darker than the print
		case i%10 == 0:
			g.Pix[i] = 100
		default:
			g.Pix[i] = 180
		}
	}
	stretch(g)
	if g.Pix[10] != 0 || g.Pix[1] != 255 {
		t.Fatalf("print %d, background %d: want 0 and 255", g.Pix[10], g.Pix[1])
	}
	flat := image.NewGray(image.Rect(0, 0, 10, 10))
	for i := range flat.Pix {
		flat.Pix[i] = 128
	}
	stretch(flat)
	if flat.Pix[0] != 128 {
		t.Fatalf("a one-tone image changed: %d", flat.Pix[0])
	}
}

func TestEnlargeKeepsSizeAndEdges(t *testing.T) {
	t.Parallel()
	// A black bar on white, columns 4–5 of 10.
	g := image.NewGray(image.Rect(0, 0, 10, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 10; x++ {
			g.Pix[y*10+x] = 255
			if x == 4 || x == 5 {
				g.Pix[y*10+x] = 0
			}
		}
	}
	e := enlarge(g, 3)
	if b := e.Bounds(); b.Dx() != 30 || b.Dy() != 12 {
		t.Fatalf("size %v, want 30×12", b)
	}
	row := e.Pix[6*e.Stride : 6*e.Stride+30]
	for x, v := range row {
		inside := x >= 13 && x <= 16 // the bar's core, 12–17 enlarged
		outside := x <= 9 || x >= 20
		if inside && v > 40 || outside && v < 215 {
			t.Fatalf("enlarged row %v: the bar is not at 12–17", row)
		}
	}
}

// TestWorkMegapixelsOfABilevelPage: a 1-bit page counts for 0.55 of its
// megapixels (Leptonica keeps it in 1 bit a pixel), a gray or colour one,
// or one of unknown depth, for all of them.
func TestWorkMegapixelsOfABilevelPage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		bits int
		want float64
	}{{1, 8 * 0.55}, {8, 8}, {24, 8}, {0, 8}} {
		if got := (Engine{}).WorkMegapixels("eng", engine.PageShape{Width: 4000, Height: 2000, Bits: c.bits}); got != c.want {
			t.Errorf("%d bits: %v work megapixels, want %v", c.bits, got, c.want)
		}
	}
}

// letters draws, in ink on a 400×200 image of ground, thirty 6-px
// "x-height letters" and ten 10-px "capitals", and returns the image and
// a function that draws more boxes in ink.
func letters(ground, ink uint8) (*image.Gray, func(x, y, w, h int)) {
	g := image.NewGray(image.Rect(0, 0, 400, 200))
	for i := range g.Pix {
		g.Pix[i] = ground
	}
	box := func(x, y, w, h int) {
		for yy := y; yy < y+h; yy++ {
			for xx := x; xx < x+w; xx++ {
				g.Pix[yy*g.Stride+xx] = ink
			}
		}
	}
	for i := range 30 {
		box(10+i*12, 20, 5, 6)
	}
	for i := range 10 {
		box(10+i*12, 60, 6, 10)
	}
	return g, box
}

// TestPrintHeightIsTheLettersUpperQuartile: thirty 6-px "x-height
// letters" and ten 10-px "capitals" read as 10 px print; a rule across
// the image, a box taller than a quarter of it and specks under 3 px do
// not count; a blank image has none.
func TestPrintHeightIsTheLettersUpperQuartile(t *testing.T) {
	t.Parallel()
	g, box := letters(250, 20)
	box(0, 100, 400, 2)   // a rule: wider than three times its height
	box(300, 120, 20, 70) // a picture: over a quarter of the height
	for i := range 20 {
		box(10+i*8, 190, 2, 2) // specks
	}
	if got := PrintHeight(g); got != 10 {
		t.Fatalf("PrintHeight = %d, want 10", got)
	}
	blank := image.NewGray(image.Rect(0, 0, 50, 50))
	for i := range blank.Pix {
		blank.Pix[i] = 255
	}
	if got := PrintHeight(blank); got != 0 {
		t.Fatalf("a blank image: %d, want 0", got)
	}
}

// TestPrintHeightOfLightPrintOnDark: the same letters, light on a dark
// ground (a dark-mode screenshot), measure as the dark ones do; with the
// dark measure alone they were not found (0).
func TestPrintHeightOfLightPrintOnDark(t *testing.T) {
	t.Parallel()
	g, _ := letters(25, 235)
	if got := printHeight(g, false); got != 0 {
		t.Fatalf("the dark measure found %d px of light print", got)
	}
	if got := PrintHeight(g); got != 10 {
		t.Fatalf("PrintHeight = %d, want 10", got)
	}
}

// TestColourPagesAreAClassOfTheirOwn: a page of 24 bits a pixel or more (a
// JPEG photo, an RGB PNG, RGBA) is of class "colour" with its own measured
// line and the model's load; gray, 16-bit gray and bilevel pages are of
// the model's class; an unknown class is an error.
func TestColourPagesAreAClassOfTheirOwn(t *testing.T) {
	t.Parallel()
	e := Engine{}
	for bits, want := range map[int]string{1: "", 8: "", 16: "", 24: ClassColour, 32: ClassColour} {
		if got := e.PageClass("eng", engine.PageShape{Width: 3000, Height: 4000, Bits: bits}); got != want {
			t.Errorf("%d bits a pixel: class %q, want %q", bits, got, want)
		}
	}
	if got := e.PageClasses("eng"); len(got) != 1 || got[0] != ClassColour {
		t.Errorf("classes %q, want [colour]", got)
	}
	if len(Languages(DataDir(""))) == 0 {
		t.Skip("skipping the documented lines: no Tesseract language data (make setup installs it)")
	}
	base, err := e.Estimate("eng", device.CPU)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.ClassEstimate("eng", ClassColour, device.CPU)
	if err != nil {
		t.Fatal(err)
	}
	if f.Host.Load != base.Host.Load || f.Host.PerPage != colourPerPage || f.Host.PerMegapixel != colourPerMegapixel {
		t.Errorf("colour: %+v, want the load %d and a page %d + %d/MP", f.Host, base.Host.Load, uint64(colourPerPage), uint64(colourPerMegapixel))
	}
	if f.Host.PerMegapixel <= base.Host.PerMegapixel {
		t.Errorf("a colour megapixel documented at %d bytes, not more than a gray one's %d", f.Host.PerMegapixel, base.Host.PerMegapixel)
	}
	if _, err := e.ClassEstimate("eng", "enlarged", device.CPU); err == nil {
		t.Error("an unknown class was documented")
	}
}
