package ppocr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/eval"
)

// TestTrialFiles reads the images named in PPOCR_TRIAL (a directory with a
// gt/ of NAME.txt truths; PPOCR_TRIAL_FILES, comma-separated, picks them)
// and logs each one's CER, characters and seconds: a measuring aid for
// docs/BENCHMARKS.md, skipped without PPOCR_TRIAL.
func TestTrialFiles(t *testing.T) {
	dir := os.Getenv("PPOCR_TRIAL")
	if dir == "" {
		t.Skip("PPOCR_TRIAL names no directory of trial images")
	}
	h := testHandle(t)
	for _, name := range strings.Split(os.Getenv("PPOCR_TRIAL_FILES"), ",") {
		data := readFile(t, filepath.Join(dir, name))
		start := time.Now()
		got := process(t, h, data, engine.Options{}).Text()
		secs := time.Since(start).Seconds()
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		want, err := os.ReadFile(filepath.Join(dir, "gt", stem+".txt"))
		if err != nil {
			t.Logf("%s: %.2f s, %d chars, no truth", name, secs, len(got))
			continue
		}
		g, w := eval.Normalize(got), eval.Normalize(string(want))
		e, l := eval.Errors(g, w)
		t.Logf("%-22s CER %.4f  %5d/%5d chars  %.2f s", name, float64(e)/float64(max(l, 1)), len([]rune(g)), len([]rune(w)), secs)
		if d := os.Getenv("PPOCR_TRIAL_OUT"); d != "" {
			os.WriteFile(filepath.Join(d, stem+".txt"), []byte(got), 0o644)
		}
	}
}
