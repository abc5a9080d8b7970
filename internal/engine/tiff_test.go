package engine

import (
	"bytes"
	"encoding/binary"
	"image"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/lector-ocr/lector/internal/errcode"
)

// TIFFPageOffset on bad input: each a clear invalid_document, never a
// panic; page 1 of a one-page TIFF is the header's directory. (Pages after
// the first: ppocr's TestMultiPageTIFF, on a file joined by tiffcp.)
func TestTIFFPageOffset(t *testing.T) {
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, image.NewGray(image.Rect(0, 0, 7, 5)), nil); err != nil {
		t.Fatal(err)
	}
	one := buf.Bytes()
	if off, err := TIFFPageOffset(one, 1); err != nil || off != int64(binary.LittleEndian.Uint32(one[4:8])) {
		t.Fatalf("page 1: %d %v", off, err)
	}
	cut := func(n int) []byte { return append([]byte(nil), one[:n]...) }
	for name, c := range map[string]struct {
		data []byte
		page int
	}{
		"page 2 of 1":     {one, 2},
		"page 0":          {one, 0},
		"not a TIFF":      {[]byte("\x89PNG\r\n\x1a\n...."), 1},
		"short":           {cut(6), 1},
		"header only":     {cut(8), 1},
		"directory cut":   {cut(12), 1},
		"page 9 of a cut": {cut(len(one) - 2), 9},
	} {
		if _, err := TIFFPageOffset(c.data, c.page); errcode.Of(err) != errcode.InvalidDocument {
			t.Errorf("%s: %v, want invalid_document", name, err)
		}
	}
}
