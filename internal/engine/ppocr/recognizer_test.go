package ppocr

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecognizerReadsCrops: the recogniser alone reads the boxes it is
// given — a whole line, nothing for a box off the image — with each
// character's place across the crop, left to right.
func TestRecognizerReadsCrops(t *testing.T) {
	t.Parallel()
	e := Engine{Dir: testDir()}
	if !e.RecognizerInstalled("v4") {
		t.Fatalf("ppocr:v4 is not installed in %s (run make setup)", testDir())
	}
	if e.RecognizerInstalled("v99") {
		t.Fatal("v99 reported installed")
	}
	r, err := e.OpenRecognizer("v4", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, _, err := image.Decode(bytes.NewReader(readFile(t, filepath.Join("testdata", "sign-open-24-hours.png"))))
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(src.Bounds())
	draw.Draw(g, g.Rect, src, src.Bounds().Min, draw.Src)
	rs, err := r.Read(context.Background(), g, []image.Rectangle{g.Rect, image.Rect(-50, -50, -10, -10)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(rs[0].Text, " ", ""); got != "OPEN24HOURS" || rs[0].Conf < 0.8 {
		t.Errorf("read %q (%.2f), want OPEN 24 HOURS", rs[0].Text, rs[0].Conf)
	}
	last := -1.0
	for _, c := range rs[0].Chars {
		if c.Start < last || c.End < c.Start || c.End > 1 {
			t.Errorf("character %q at %.3f–%.3f after %.3f", c.R, c.Start, c.End, last)
		}
		last = c.Start
	}
	if rs[1].Text != "" || len(rs[1].Chars) != 0 {
		t.Errorf("a box off the image read %q", rs[1].Text)
	}
}
