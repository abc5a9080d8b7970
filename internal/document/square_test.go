package document

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// A page whose resolutions differ goes to the engine resampled to square
// pixels at the higher one, its own size in SourceWidth/SourceHeight, its
// size for admission (PageSize, PageBits) the resampled one; a page within
// 2 % of square, or with one resolution unknown, goes as it is.
func TestNonSquarePagesAreResampledToSquarePixels(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// A gray JPEG 600×300 at 300 × 150 dpi (JFIF), a bar across its middle row.
	g := image.NewGray(image.Rect(0, 0, 600, 300))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	for x := range 600 {
		for y := 140; y < 160; y++ {
			g.SetGray(x, y, color.Gray{})
		}
	}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, g, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	jfif := func(x, y int) []byte {
		app0 := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 1, byte(x >> 8), byte(x), byte(y >> 8), byte(y), 0, 0}
		return append(append([]byte{0xFF, 0xD8}, app0...), j.Bytes()[2:]...)
	}
	fax := withYResolution(t, grayTIFF(408, 196, []float64{204}, []int{2}), 98)
	for _, c := range []struct {
		name             string
		data             []byte
		w, h, srcW, srcH int // 0 srcW: not resampled
		dpi              int
	}{
		{"jpeg 300 x 150", jfif(300, 150), 600, 600, 600, 300, 300},
		{"tiff 204 x 98", fax, 408, 408, 408, 196, 204},
		{"jpeg 300 x 296 (within 2 %)", jfif(300, 296), 600, 300, 0, 0, 300},
		{"jpeg 300 x unknown", jfif(300, 0), 600, 300, 0, 0, 300},
	} {
		doc, err := Open(ctx, c.data, Limits{}, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		im, err := doc.Page(ctx, 0, "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if w, h := doc.PageSize(0); w != c.w || h != c.h {
			t.Errorf("%s: PageSize %d×%d, want %d×%d", c.name, w, h, c.w, c.h)
		}
		if im.Width != c.w || im.Height != c.h || im.SourceWidth != c.srcW || im.SourceHeight != c.srcH {
			t.Errorf("%s: page %d×%d from %d×%d, want %d×%d from %d×%d", c.name, im.Width, im.Height, im.SourceWidth, im.SourceHeight, c.w, c.h, c.srcW, c.srcH)
		}
		if c.srcW == 0 {
			continue
		}
		if im.DPI != c.dpi || im.Format != "pgm" || im.TIFFPage != 0 {
			t.Errorf("%s: DPI %d format %s TIFF page %d, want %d pgm 0", c.name, im.DPI, im.Format, im.TIFFPage, c.dpi)
		}
		if b := doc.(interface{ PageBits(int) int }).PageBits(0); b != 8 {
			t.Errorf("%s: %d bits a pixel, want 8", c.name, b)
		}
		dec, _, err := image.Decode(bytes.NewReader(im.Data)) // PGM: registered by internal/engine
		if err != nil || dec.Bounds() != image.Rect(0, 0, c.w, c.h) {
			t.Fatalf("%s: decoded %v, %v", c.name, dec, err)
		}
		if c.name == "jpeg 300 x 150" { // the bar is stretched with the rows: 40 rows from 280
			col := func(y int) uint8 { return color.GrayModel.Convert(dec.At(300, y)).(color.Gray).Y }
			if col(270) < 200 || col(285) > 50 || col(315) > 50 || col(330) < 200 {
				t.Errorf("bar not at rows 280–320: %d %d %d %d", col(270), col(285), col(315), col(330))
			}
		}
	}
}
