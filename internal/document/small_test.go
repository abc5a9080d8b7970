package document

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/result"
)

func TestResolutionAboveMaxIsUnknown(t *testing.T) {
	t.Parallel()
	// 4800 dpi = 188,976 pixels per metre.
	if got := imageDPI("png", withPHYs(t, 188976)); got != 0 {
		t.Fatalf("a 4800-dpi tag gave %d dpi, want 0 (unknown)", got)
	}
	if got := imageDPI("png", withPHYs(t, 94488)); got != 2400 {
		t.Fatalf("a 2400-dpi tag gave %d dpi", got)
	}
}

func TestTransparentImagesAreCompositedOnWhite(t *testing.T) {
	t.Parallel()
	// A black square on a transparent ground, as RGBA, gray+alpha (Go
	// writes NRGBA for it) and a palette with a transparent entry.
	rgba := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	pal := image.NewPaletted(image.Rect(0, 0, 40, 20), color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{0, 0, 0, 255}})
	for y := 5; y < 15; y++ {
		for x := 5; x < 15; x++ {
			rgba.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255})
			pal.SetColorIndex(x, y, 1)
		}
	}
	half := image.NewNRGBA(image.Rect(0, 0, 40, 20)) // all transparent
	half.SetNRGBA(1, 1, color.NRGBA{0, 0, 0, 128})
	for name, img := range map[string]image.Image{"rgba": rgba, "palette": pal, "half": half} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		doc, err := Open(t.Context(), buf.Bytes(), Limits{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := doc.Page(t.Context(), 0, "")
		got, _, err := image.Decode(bytes.NewReader(page.Data))
		if err != nil {
			t.Fatal(err)
		}
		lum := func(x, y int) uint8 { return color.GrayModel.Convert(got.At(x, y)).(color.Gray).Y }
		if lum(30, 10) != 255 {
			t.Errorf("%s: a transparent pixel reads %d, want white", name, lum(30, 10))
		}
		if name != "half" && lum(10, 10) != 0 {
			t.Errorf("%s: the opaque black square reads %d", name, lum(10, 10))
		}
		if name == "half" && (lum(1, 1) < 120 || lum(1, 1) > 135) {
			t.Errorf("half: 50%% black on white reads %d, want about 127", lum(1, 1))
		}
	}
	// An opaque image is passed as it is.
	opaque := pngBytes(t, 20, 10)
	doc, _ := Open(t.Context(), opaque, Limits{}, t.TempDir())
	if page, _ := doc.Page(t.Context(), 0, ""); !bytes.Equal(page.Data, opaque) {
		t.Error("an opaque PNG was re-encoded")
	}
}

func TestTinyImageGetsAValidPage(t *testing.T) {
	t.Parallel()
	doc, err := Open(t.Context(), pngBytes(t, 4, 3), Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	im := doc.(*Image)
	out, _, err := im.SearchablePDF(t.Context(), []*result.Page{ocrPage(4, 3, "x")}, "")
	if err != nil {
		t.Fatal(err)
	}
	info := poppler(t, "pdfinfo", save(t, "tiny.pdf", out))
	var w, h float64
	for _, l := range strings.Split(info, "\n") {
		if f := strings.Fields(l); len(f) >= 5 && f[0] == "Page" && f[1] == "size:" {
			w, _ = strconv.ParseFloat(f[2], 64)
			h, _ = strconv.ParseFloat(f[4], 64)
		}
	}
	if w < 3 || h < 3 {
		t.Fatalf("a 4×3-pixel image made a %g×%g-point page, under PDF's 3-point minimum:\n%s", w, h, info)
	}
}
