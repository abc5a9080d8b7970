package ppocr

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/eval"
)

// cpuSeconds is the process's user and system CPU time so far: a page's
// cost, where the wall clock follows the machine's load.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestTrialFiles reads the images named in PPOCR_TRIAL (a directory with a
// gt/ of NAME.txt truths; PPOCR_TRIAL_FILES, comma-separated, picks them)
// and logs each one's CER, characters and seconds: a measuring aid for
// docs/BENCHMARKS.md, skipped without PPOCR_TRIAL.
func TestTrialFiles(t *testing.T) {
	dir := os.Getenv("PPOCR_TRIAL")
	if dir == "" {
		t.Skip("a measuring aid: PPOCR_TRIAL names no directory of trial images")
	}
	h := testHandle(t)
	for _, name := range strings.Split(os.Getenv("PPOCR_TRIAL_FILES"), ",") {
		data := readFile(t, filepath.Join(dir, name))
		cpu0 := cpuSeconds()
		start := time.Now()
		got := process(t, h, data, engine.Options{}).Text()
		secs := time.Since(start).Seconds()
		cpu := cpuSeconds() - cpu0
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		want, err := os.ReadFile(filepath.Join(dir, "gt", stem+".txt"))
		if err != nil {
			t.Logf("%-22s no truth  %5d chars  %.2f s (CPU %.2f s)", name, len([]rune(eval.Normalize(got))), secs, cpu)
			continue
		}
		g, w := eval.Normalize(got), eval.Normalize(string(want))
		e, l := eval.Errors(g, w)
		t.Logf("%-22s CER %.4f  %5d/%5d chars  %.2f s (CPU %.2f s)", name, float64(e)/float64(max(l, 1)), len([]rune(g)), len([]rune(w)), secs, cpu)
		if d := os.Getenv("PPOCR_TRIAL_OUT"); d != "" {
			os.WriteFile(filepath.Join(d, stem+".txt"), []byte(got), 0o644)
		}
	}
}
