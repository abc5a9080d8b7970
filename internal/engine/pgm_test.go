package engine

import (
	"bytes"
	"image"
	"image/color"
	"testing"
)

func TestPGMDecodes(t *testing.T) {
	t.Parallel()
	data := append([]byte("P5\n# a comment\n3 2\n255\n"), 0, 128, 255, 10, 20, 30)
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil || format != "pgm" {
		t.Fatalf("decode: %v %q", err, format)
	}
	if b := img.Bounds(); b.Dx() != 3 || b.Dy() != 2 {
		t.Fatalf("size %v", b)
	}
	if g := img.At(1, 0).(color.Gray); g.Y != 128 {
		t.Errorf("pixel (1,0) = %d, want 128", g.Y)
	}
	if _, _, err := image.Decode(bytes.NewReader(data[:len(data)-2])); err == nil {
		t.Error("a short PGM decoded")
	}
	if _, _, err := image.Decode(bytes.NewReader([]byte("P5 9999999999 1 255\n"))); err == nil {
		t.Error("an implausible header decoded")
	}
}
