package ppocr

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/engine"
)

// TestMeasurePhases measures, page by page, what PP-OCR's detection and
// its recognition cost apart (PPOCR_PHASES=FILE.tsv, in a process of its
// own: go test -run TestMeasurePhases ./internal/engine/ppocr/): the files
// bench/calibrate.sh reads (the first 6 of each evaluation set, PDF pages
// rendered at 300 dpi gray as Lector renders them), each page's peak above
// the resident size when it starts (VmHWM reset through clear_refs) after
// decoding and detection, and after the crops, the classifier and the
// recogniser, with the work known before the page (its work megapixels)
// and the work known after detection (the lines, their widths at the
// recogniser's height 48, the largest batch's columns). Not an assertion:
// the figures behind docs/BENCHMARKS.md's "after detection" section.
func TestMeasurePhases(t *testing.T) {
	out := os.Getenv("PPOCR_PHASES")
	if out == "" {
		t.Skip("a measurement, not a test: PPOCR_PHASES=FILE.tsv runs it")
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
	reset := func() float64 {
		runtime.GC()
		debug.FreeOSMemory()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		return status("VmRSS")
	}
	h := testHandle(t).(*handle)
	dir := evalDir(t)
	var files []string
	for _, set := range []string{"lines", "pages", "tables", "tables-icdar13", "scene/crops", "scene/images", "pdfs"} {
		var in []string
		for _, pat := range []string{"*.png", "*.jpg", "*.jpeg", "*.pdf"} {
			m, _ := filepath.Glob(filepath.Join(dir, set, pat))
			in = append(in, m...)
		}
		sort.Strings(in)
		files = append(files, in[:min(6, len(in))]...)
	}
	tmp := t.TempDir()
	var pages []string
	for i, f := range files {
		if !strings.HasSuffix(f, ".pdf") {
			pages = append(pages, f)
			continue
		}
		prefix := filepath.Join(tmp, fmt.Sprintf("pdf%02d", i))
		if b, err := exec.Command("pdftoppm", "-r", "300", "-gray", "-png", f, prefix).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm %s: %v: %s", f, err, b)
		}
		m, _ := filepath.Glob(prefix + "*.png")
		sort.Strings(m)
		for _, p := range m {
			pages = append(pages, p)
		}
	}
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fmt.Fprintln(w, "file\tpage_mp\twork_mp\tdet_mp\tlines\tbatches\tcolumns\twidest\tbatch_max\tdet_peak\trec_peak\tpage_peak")
	ctx := context.Background()
	mib := func(v float64) float64 { return v / (1 << 20) }
	for _, f := range pages {
		data := readFile(t, f)
		// The whole page, as the runner reads it.
		base := reset()
		process(t, h, data, engine.Options{})
		pagePeak := status("VmHWM") - base

		// Its phases, as read() runs them (one reading, upright).
		base = reset()
		img, err := decodePage(data, 1)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		p := img.pad(border(img))
		boxes, err := h.detect(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		detPeak := status("VmHWM") - base
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		var crops []*bgr
		var lines []line
		for _, b := range boxes {
			if c, v := p.warp(b); c != nil {
				crops = append(crops, c)
				lines = append(lines, line{Box: b, Vertical: v})
			}
		}
		columns, widest, batchMax, batches := 0, 0, 0, 0
		order := byAspect(crops)
		for _, i := range order {
			c := int(math.Ceil(float64(h.m.recHeight) * float64(crops[i].W) / float64(crops[i].H)))
			columns += c
			widest = max(widest, c)
		}
		for beg := 0; beg < len(order); {
			end := recBatchEnd(crops, order, beg, h.m.recHeight, h.m.narrowest())
			batchMax = max(batchMax, (end-beg)*recBatchWidth(crops, order[beg:end], h.m.recHeight, h.m.narrowest()))
			beg = end
			batches++
		}
		if h.m.cls != nil {
			if _, _, err := h.classify(ctx, crops); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.recognize(ctx, crops, lines, false); err != nil {
			t.Fatal(err)
		}
		recPeak := status("VmHWM") - base
		dw, dh := detSize(max(img.W, 32), max(img.H, 32), detLimitSide)
		shape := engine.PageShape{Width: img.W, Height: img.H}
		name := strings.TrimPrefix(f, dir+"/")
		fmt.Fprintf(w, "%s\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\n", name, float64(img.W*img.H)/1e6,
			Engine{}.WorkMegapixels("", shape), float64(dw*dh)/1e6, len(crops), batches, columns, widest, batchMax,
			mib(detPeak), mib(recPeak), mib(pagePeak))
	}
}
