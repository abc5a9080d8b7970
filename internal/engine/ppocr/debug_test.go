package ppocr

import (
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestDebugBoxes(t *testing.T) {
	f := os.Getenv("PPOCR_DEBUG_IMAGE")
	if f == "" {
		t.Skip()
	}
	h := testHandle(t).(*handle)
	img, err := decode(readFile(t, filepath.Join(evalDir(t), f)))
	if err != nil {
		t.Fatal(err)
	}
	pimg := img.pad(border(img))
	boxes, err := h.detect(context.Background(), pimg)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		c, v := pimg.warp(b)
		ls := []line{{Box: b, Vertical: v}}
		h.recognize(context.Background(), []*bgr{c}, ls)
		fl, sure, _ := h.classify(context.Background(), []*bgr{c})
		t.Logf("box %v crop %v flip %v sure %v: %.2f %q", b, c, fl, sure, ls[0].Conf, ls[0].Text)
	}
	lines, st, err := h.read(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v, %dx%d", st, img.W, img.H)
	for _, l := range lines {
		t.Logf("%4.0f,%4.0f %4.0f,%4.0f v=%v f=%v %.2f %q", l.Box[0].X, l.Box[0].Y, l.Box[2].X, l.Box[2].Y, l.Vertical, l.Flipped, l.Conf, l.Text)
	}
	if out := os.Getenv("PPOCR_DEBUG_CROP"); out != "" {
		g := image.NewGray(image.Rect(0, 0, img.W, img.H))
		for y := 0; y < img.H; y++ {
			for x := 0; x < img.W; x++ {
				g.SetGray(x, y, img.At(x, y))
			}
		}
		fh, _ := os.Create(out)
		png.Encode(fh, g)
		fh.Close()
	}
}
