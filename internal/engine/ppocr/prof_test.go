package ppocr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
)

func TestProfStages(t *testing.T) {
	t.Parallel()
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
	h.recognize(ctx, crops, lines, false)
	t4 := time.Now()
	t.Logf("det %v (%d boxes), warp %v, cls %v, rec %v", t1.Sub(t0), len(boxes), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3))
}

func TestProfRec(t *testing.T) {
	t.Parallel()
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

// TestMeasureMemory measures what Estimate documents (PPOCR_MEASURE=1, in
// a process of its own: go test -run TestMeasureMemory): the resident size
// a load adds, and the peak growth per megapixel of reading pages of
// several sizes (VmHWM reset through clear_refs before each page).
func TestMeasureMemory(t *testing.T) {
	t.Parallel()
	if os.Getenv("PPOCR_MEASURE") == "" {
		t.Skip()
	}
	status := func(key string) float64 {
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, key+":") {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, key+":")), "%f", &kb)
				return kb * 1024
			}
		}
		return 0
	}
	before := status("VmRSS")
	h := testHandle(t)
	loaded := status("VmRSS")
	t.Logf("load: %.0f MiB (RSS %.0f → %.0f MiB)", (loaded-before)/(1<<20), before/(1<<20), loaded/(1<<20))
	dir := evalDir(t)
	for _, f := range []string{"scene/images/cnocr-multi-line_en_black.png", "scene/images/ic15-img_1.jpg", "scene/images/wildreceipt-1.jpeg", "pages/linn.png"} {
		data := readFile(t, filepath.Join(dir, f))
		img, _ := decode(data)
		runtime.GC()
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		base := status("VmRSS")
		process(t, h, data, engine.Options{})
		peak := status("VmHWM")
		mp := float64(img.W*img.H) / 1e6
		t.Logf("%s: %.2f MP, peak +%.0f MiB = %.0f MiB/MP", f, mp, (peak-base)/(1<<20), (peak-base)/(1<<20)/mp)
	}
}
