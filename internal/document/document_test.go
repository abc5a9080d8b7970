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

	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/engine"
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
	t.Parallel()
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
	// A PDF whose page tree has no page says so, not "corrupt".
	_, err = Open(t.Context(), pdftest.Build(nil), Limits{}, t.TempDir())
	if errcode.Of(err) != errcode.InvalidDocument || !strings.Contains(err.Error(), "has no pages") {
		t.Fatalf("a PDF of no pages: %v", err)
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

// withExif inserts an APP1 Exif segment with the given orientation right
// after a JPEG's SOI marker.
func withExif(jpg []byte, orientation uint16) []byte {
	tiff := []byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01")
	tiff = append(tiff, byte(orientation>>8), byte(orientation), 0, 0, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestJPEGExifOrientation(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 40, 10)), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		orientation uint16
		want        engine.Orientation
		w, h        int
	}{{1, engine.Orientation{}, 40, 10}, {6, engine.Orientation{QuarterTurns: 1}, 10, 40}, {3, engine.Orientation{QuarterTurns: 2}, 40, 10},
		{8, engine.Orientation{QuarterTurns: 3}, 10, 40}, {2, engine.Orientation{Mirror: true}, 40, 10}} {
		doc, err := Open(t.Context(), withExif(buf.Bytes(), tc.orientation), Limits{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		im, _ := doc.Page(t.Context(), 0, "")
		w, h := doc.PageSize(0)
		if im.Orientation != tc.want || w != tc.w || h != tc.h || im.Width != tc.w {
			t.Errorf("orientation %d: %+v, size %dx%d (image %dx%d)", tc.orientation, im.Orientation, w, h, im.Width, im.Height)
		}
	}
}

// TestDecodePageOnlyAsTheEngineGetsIt: an image decodes for a measure
// before it runs (the structure pipeline's print height) as stored; one
// the engine gets turned (EXIF orientation) refuses, since a measure of
// the stored pixels would not be the engine's.
func TestDecodePageOnlyAsTheEngineGetsIt(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 40, 10)), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		orientation uint16
		ok          bool
	}{{1, true}, {6, false}, {2, false}} {
		doc, err := Open(t.Context(), withExif(buf.Bytes(), tc.orientation), Limits{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		img, err := doc.(*Image).DecodePage(0)
		if tc.ok && (err != nil || img.Bounds().Dx() != 40 || img.Bounds().Dy() != 10) {
			t.Errorf("orientation %d: decoded %v, %v; want the 40×10 image", tc.orientation, img, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("orientation %d: decoded a page the engine gets turned", tc.orientation)
		}
	}
}
