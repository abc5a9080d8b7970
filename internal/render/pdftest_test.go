package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tool runs a poppler-utils tool (installed by make setup from
// APT_PACKAGES); a missing tool fails the test.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bboxWord is a word of pdftotext -bbox: its text and box in points of
// the page as shown.
type bboxWord struct {
	Page                   int
	S                      string
	XMin, YMin, XMax, YMax float64
}

var reWord = regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)

func bboxWords(t *testing.T, path string, args ...string) []bboxWord {
	t.Helper()
	out := tool(t, "pdftotext", append(append([]string{"-bbox"}, args...), path, "-")...)
	var ws []bboxWord
	for pi, page := range strings.Split(out, "<page ")[1:] {
		for _, m := range reWord.FindAllStringSubmatch(page, -1) {
			f := func(i int) float64 { v, _ := strconv.ParseFloat(m[i], 64); return v }
			ws = append(ws, bboxWord{pi + 1, m[5], f(1), f(2), f(3), f(4)})
		}
	}
	return ws
}

func itoa(i int) string { return strconv.Itoa(i) }
