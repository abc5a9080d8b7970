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

// TestTightLinesKeepSpaces: paragraphs of ordinary English at 18–22 px
// (x-height 9–12 px) on a 660-px canvas, sharp or blurred, black or faint
// grey (bench/ppocr-spaces.sh), read with every word. The recogniser
// alone gave "Salesgrewineveryregionthisquarter,ledbystrongdemandfor…"
// (0–2 of 20–22 words); tightBreaks finds the word gaps in the ink.
func TestTightLinesKeepSpaces(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	for file, want := range map[string]string{
		"tight-dejavusans-18.png":            "Sales grew in every region this quarter, led by strong demand for our new products and steady growth in services.",
		"tight-dejavusans-18-blur-faint.png": "All visitors must sign in at the front desk and wear their badge at all times while they are in the building.",
		"tight-nimbusroman-22-blur.png":      "Sales grew in every region this quarter, led by strong demand for our new products and steady growth in services.",
		"tight-nimbussans-18-blur.png":       "The committee will meet on Tuesday to review the budget and decide which of the proposed projects to fund next year.",
	} {
		got := strings.Join(strings.Fields(process(t, h, readFile(t, filepath.Join("testdata", file)), engine.Options{}).Text()), " ")
		if c := wordsCorrect(got, want); c != len(strings.Fields(want)) {
			t.Errorf("%s: %d of %d words: %q", file, c, len(strings.Fields(want)), got)
		}
	}
}
