package ppocr

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProfStages(t *testing.T) {
	if os.Getenv("PPOCR_PROF") == "" {
		t.Skip()
	}
	h := testHandle(t).(*handle)
	img, _ := decode(readFile(t, filepath.Join(evalDir(t), "pages", "linn.png")))
	ctx := context.Background()
	t0 := time.Now()
	p := img.pad(border(img))
	boxes, _ := h.detect(ctx, p)
	t1 := time.Now()
	var crops []*bgr
	var lines []line
	for _, b := range boxes {
		c, v := p.warp(b)
		crops = append(crops, c)
		lines = append(lines, line{Box: b, Vertical: v})
	}
	t2 := time.Now()
	h.classify(ctx, crops)
	t3 := time.Now()
	h.recognize(ctx, crops, lines)
	t4 := time.Now()
	t.Logf("det %v (%d boxes), warp %v, cls %v, rec %v", t1.Sub(t0), len(boxes), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3))
}

func TestProfRec(t *testing.T) {
	if os.Getenv("PPOCR_PROF") == "" {
		t.Skip()
	}
	h := testHandle(t).(*handle)
	ctx := context.Background()
	for _, w := range []int{320, 640, 1280, 2560} {
		for _, n := range []int{1, 6} {
			data := make([]float32, n*3*48*w)
			h.m.rec.run(ctx, data, int64(n), 3, 48, int64(w))
			t0 := time.Now()
			h.m.rec.run(ctx, data, int64(n), 3, 48, int64(w))
			t.Logf("rec batch %d x width %d: %v (%v per line)", n, w, time.Since(t0), time.Since(t0)/time.Duration(n))
		}
	}
}
