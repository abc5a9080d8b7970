package ppocr

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/engine"
)

// wordsCorrect is the number of want's words read in order in got: the
// longest common subsequence of their words (a word read without the
// space after it counts as neither).
func wordsCorrect(got, want string) int {
	g, w := strings.Fields(got), strings.Fields(want)
	prev := make([]int, len(w)+1)
	cur := make([]int, len(w)+1)
	for i := range g {
		for j := range w {
			switch {
			case g[i] == w[j]:
				cur[j+1] = prev[j] + 1
			default:
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(w)]
}

// TestSpacesSynthetic measures the words read correctly on the synthetic
// paragraphs bench/ppocr-spaces.sh generates (PPOCR_SPACES=DIR; the
// figures are in docs/BENCHMARKS.md): words correct of the truth's, and
// words read (more than the truth's: a word split).
func TestSpacesSynthetic(t *testing.T) {
	dir := os.Getenv("PPOCR_SPACES")
	if dir == "" {
		t.Skip("set PPOCR_SPACES to a directory made by bench/ppocr-spaces.sh")
	}
	h := testHandle(t)
	imgs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	sort.Strings(imgs)
	if len(imgs) == 0 {
		t.Fatalf("no images in %s", dir)
	}
	correct, truth, read := 0, 0, 0
	for _, img := range imgs {
		want := strings.TrimSpace(string(readFile(t, strings.TrimSuffix(img, ".png")+".gt.txt")))
		got := strings.Join(strings.Fields(process(t, h, readFile(t, img), engine.Options{}).Text()), " ")
		c := wordsCorrect(got, want)
		correct += c
		truth += len(strings.Fields(want))
		read += len(strings.Fields(got))
		if c < len(strings.Fields(want)) {
			t.Logf("%s: %d/%d words: %q", filepath.Base(img), c, len(strings.Fields(want)), got)
		}
	}
	t.Logf("words correct %d of %d (%.3f); words read %d", correct, truth, float64(correct)/float64(truth), read)
}
