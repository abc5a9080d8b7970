package render

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// testPage is one page of a PDF written by makePDF: Helvetica text drawn at
// user-space positions, and optional boxes and rotation.
type testPage struct {
	MediaBox  [4]float64
	CropBox   *[4]float64
	Rotate    int
	Text      []testText
	Invisible bool // draw the text in render mode 3
}

type testText struct {
	X, Y, Size float64
	S          string
}

// makePDF writes a small PDF by hand (offsets computed here), so tests
// need no fixture files.
func makePDF(pages []testPage) []byte {
	var objs []string
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	add("<< /Type /Catalog /Pages 2 0 R >>")
	add("") // pages, filled below
	font := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	var kids []string
	for _, p := range pages {
		var c strings.Builder
		for _, t := range p.Text {
			tr := 0
			if p.Invisible {
				tr = 3
			}
			// Text upright as the page is shown: turned against /Rotate.
			a, b := map[int][2]int{0: {1, 0}, 90: {0, 1}, 180: {-1, 0}, 270: {0, -1}}[p.Rotate][0], map[int][2]int{0: {1, 0}, 90: {0, 1}, 180: {-1, 0}, 270: {0, -1}}[p.Rotate][1]
			fmt.Fprintf(&c, "BT %d Tr /F1 %g Tf %d %d %d %d %g %g Tm (%s) Tj ET\n", tr, t.Size, a, b, -b, a, t.X, t.Y, t.S)
		}
		content := add(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
		extra := ""
		if p.CropBox != nil {
			extra += fmt.Sprintf(" /CropBox [%g %g %g %g]", p.CropBox[0], p.CropBox[1], p.CropBox[2], p.CropBox[3])
		}
		if p.Rotate != 0 {
			extra += fmt.Sprintf(" /Rotate %d", p.Rotate)
		}
		page := add(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%g %g %g %g]%s /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
			p.MediaBox[0], p.MediaBox[1], p.MediaBox[2], p.MediaBox[3], extra, font, content))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids))
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info << /Title (Lector test) >> >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// need skips… no: poppler-utils is installed by make setup (APT_PACKAGES);
// a missing tool fails the test.
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
