package document

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// TestPageBits: a document tells its pages' bits per pixel before they are
// decoded (a 1-bit scan costs Tesseract a quarter of a gray page): PNG from
// its header's depth and colour type, JPEG from its components, TIFF from
// BitsPerSample × SamplesPerPixel.
func TestPageBits(t *testing.T) {
	t.Parallel()
	enc := func(im image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, im); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	r := image.Rect(0, 0, 40, 30)
	bilevel := image.NewPaletted(r, color.Palette{color.Black, color.White}) // encoded 1-bit
	rgb := image.NewRGBA(r)
	for i := range rgb.Pix {
		rgb.Pix[i] = 0xff // opaque: encoded RGB without alpha
	}
	rgb.Pix[0] = 1
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, rgb, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want int
	}{
		{"1-bit PNG", enc(bilevel), 1},
		{"gray PNG", pngBytes(t, 40, 30), 8},
		{"RGB PNG", enc(rgb), 24},
		{"colour JPEG", jpg.Bytes(), 24},
		{"8-bit TIFF", grayTIFF(40, 30, []float64{0}, []int{0}), 8},
	} {
		doc, err := Open(t.Context(), c.data, Limits{}, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := doc.(interface{ PageBits(int) int }).PageBits(0)
		doc.Close()
		if got != c.want {
			t.Errorf("%s: %d bits per pixel, want %d", c.name, got, c.want)
		}
	}
}
