package document

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
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
