package document

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"testing"

	"github.com/lector-ocr/lector/internal/errcode"
)

func pngBytes(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeaderClaiming returns a PNG signature and IHDR claiming w×h pixels,
// with no image data.
func pngHeaderClaiming(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	chunk := append([]byte("IHDR"), ihdr...)
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&out, binary.BigEndian, uint32(13))
	out.Write(chunk)
	binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return out.Bytes()
}

func TestOpen(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxPixelsPerPage: 100_000_000}
	good := pngBytes(t, 300, 200)
	im, err := Open(t.Context(), good, lim, t.TempDir())
	w, h := im.PageSize(0)
	if err != nil || w != 300 || h != 200 || im.NumPages() != 1 {
		t.Fatalf("Open = %+v, %v", im, err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		code errcode.Code
	}{
		{"empty", nil, lim, errcode.InvalidDocument},
		{"text named png", []byte("hello, this is text"), lim, errcode.UnsupportedMediaType},
		{"truncated png", good[:20], lim, errcode.InvalidDocument},
		{"huge header", pngHeaderClaiming(50000, 50000), lim, errcode.TooManyPixels},
		{"over the byte limit", good, Limits{MaxBytes: 10}, errcode.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(t.Context(), tc.data, tc.lim, t.TempDir()); errcode.Of(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(pngBytes(f, 2, 2))
	f.Add(pngHeaderClaiming(50000, 50000))
	f.Add([]byte("%PDF-1.7"))
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if Sniff(data) == "pdf" {
			return // the PDF path runs poppler; it has its own tests
		}
		doc, err := Open(context.Background(), data, Limits{MaxBytes: 1 << 20, MaxPages: 10, MaxPixelsPerPage: 1 << 24}, t.TempDir())
		if err == nil {
			for i := range doc.NumPages() {
				w, h := doc.PageSize(i)
				if w <= 0 || h <= 0 || int64(w)*int64(h) > 1<<24 {
					t.Fatalf("accepted page %d of %dx%d", i, w, h)
				}
			}
		}
		if err != nil && errcode.Of(err) == errcode.Internal {
			t.Fatalf("uncoded error %v", err)
		}
	})
}
