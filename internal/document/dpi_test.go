package document

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/result"
)

// withPHYs inserts a pHYs chunk (ppm pixels per metre, unit metre) after a
// PNG's IHDR.
func withPHYs(t *testing.T, ppm uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 20, 10))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	ihdrEnd := 8 + 8 + 13 + 4
	chunk := make([]byte, 8+9+4)
	binary.BigEndian.PutUint32(chunk, 9)
	copy(chunk[4:], "pHYs")
	binary.BigEndian.PutUint32(chunk[8:], ppm)
	binary.BigEndian.PutUint32(chunk[12:], ppm)
	chunk[16] = 1
	binary.BigEndian.PutUint32(chunk[17:], crc32.ChecksumIEEE(chunk[4:17]))
	return append(append(append([]byte(nil), b[:ihdrEnd]...), chunk...), b[ihdrEnd:]...)
}

func TestImageDPIFromHeaders(t *testing.T) {
	t.Parallel()
	var j bytes.Buffer
	if err := jpeg.Encode(&j, image.NewGray(image.Rect(0, 0, 20, 10)), nil); err != nil {
		t.Fatal(err)
	}
	jfif := func(units byte, x uint16) []byte {
		app0 := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, units, byte(x >> 8), byte(x), byte(x >> 8), byte(x), 0, 0}
		return append(append([]byte{0xFF, 0xD8}, app0...), j.Bytes()[2:]...)
	}
	for _, tc := range []struct {
		name string
		kind string
		data []byte
		want int
	}{
		{"png 300 dpi", "png", withPHYs(t, 11811), 300},
		{"png without pHYs", "png", withPHYs(t, 0)[:0:0], 0},
		{"jpeg 300 dpi", "jpeg", jfif(1, 300), 300},
		{"jpeg 118 per cm", "jpeg", jfif(2, 118), 300},
		{"jpeg aspect only", "jpeg", jfif(0, 1), 0},
		{"bmp 150 dpi", "bmp", bmpWithPPM(t, 5906), 150},
		{"bmp without resolution", "bmp", bmpWithPPM(t, 0), 0},
	} {
		if got := imageDPI(tc.kind, tc.data); got != tc.want {
			t.Errorf("%s: %d dpi, want %d", tc.name, got, tc.want)
		}
	}
	// Through Open: the page carries it.
	doc, err := Open(t.Context(), withPHYs(t, 11811), Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := doc.Page(t.Context(), 0, ""); im.DPI != 300 {
		t.Fatalf("page DPI %d, want 300", im.DPI)
	}
}

// bmpWithPPM is a 20 × 10 BMP whose header says ppm pixels per metre
// both ways.
func bmpWithPPM(t *testing.T, ppm uint32) []byte { return bmpSized(t, 20, 10, ppm) }

// bmpSized is a w × h BMP whose header says ppm pixels per metre.
func bmpSized(t *testing.T, w, h int, ppm uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[38:], ppm)
	binary.LittleEndian.PutUint32(out[42:], ppm)
	return out
}

// A page whose vertical resolution differs from its horizontal one (a
// fax's 204 × 98 dpi, a draft scan's 300 × 150) is sized from each, as
// tiff2pdf and img2pdf do: it was squashed to the horizontal figure.
func TestNonSquareResolutionSizesThePage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var j bytes.Buffer
	if err := jpeg.Encode(&j, image.NewGray(image.Rect(0, 0, 600, 300)), nil); err != nil {
		t.Fatal(err)
	}
	app0 := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 1, 300 >> 8, 300 & 0xFF, 0, 150, 0, 0}
	jp := append(append([]byte{0xFF, 0xD8}, app0...), j.Bytes()[2:]...)
	// A TIFF of 408×196 pixels at 204 × 98 dpi: 2 × 2 inches.
	tf := grayTIFF(408, 196, []float64{204}, []int{2})
	tf = withYResolution(t, tf, 98)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"jpeg 300 x 150", jp, "144 x 144 pts"},
		{"tiff 204 x 98", tf, "144 x 144 pts"},
		// 1200 × 800 pixels at 150 dpi (5906 pixels per metre): 8 × 5⅓
		// inches; it was laid out at 300 dpi (288 × 192 points).
		{"bmp 150 dpi", bmpSized(t, 1200, 800, 5906), "576 x 384 pts"},
	} {
		doc, err := Open(ctx, c.data, Limits{}, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		w, h := doc.PageSize(0)
		out, _, err := doc.(interface {
			SearchablePDF(context.Context, []*result.Page, lector.PDFText) ([]byte, string, error)
		}).SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "fax")}, lector.PDFTextSkip)
		doc.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if info := poppler(t, "pdfinfo", save(t, "out.pdf", out)); !strings.Contains(info, "Page size:      "+" "+c.want) {
			t.Errorf("%s: want %s in\n%s", c.name, c.want, info)
		}
	}
}

// withYResolution returns a little-endian TIFF (grayTIFF's) with its first
// page's YResolution (tag 283, a RATIONAL) set to v per unit.
func withYResolution(t *testing.T, data []byte, v uint32) []byte {
	t.Helper()
	le := binary.LittleEndian
	out := bytes.Clone(data)
	off := int(le.Uint32(out[4:]))
	for e := range int(le.Uint16(out[off:])) {
		p := off + 2 + 12*e
		if le.Uint16(out[p:]) == 283 {
			r := len(out)
			out = le.AppendUint32(out, v)
			out = le.AppendUint32(out, 1)
			le.PutUint32(out[p+8:], uint32(r))
			return out
		}
	}
	t.Fatal("no YResolution")
	return nil
}
