package cli

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/eval"
)

// faxLines are a fax's text, 8-point Helvetica: at 98 dpi down a line is
// 11 pixels high.
var faxLines = []string{
	"Shipping notice: the parcel left our warehouse in Rotterdam on 12 May",
	"and should reach the customs office at Felixstowe within four days.",
	"Please quote reference QX-7741-B when calling about this delivery.",
	"Charges: freight 1,284.50 EUR; insurance 96.20 EUR; handling 45.00 EUR.",
	"Our office is open Monday to Friday from eight until half past five.",
}

// faxTIFF writes a fax of faxLines: a letter page rendered by pdftoppm at
// 204 × 98 dpi (a G3/G4 fax's "fine" horizontal and "standard" vertical
// resolution), bilevel, re-coded as CCITT Group 4 by libtiff's tiffcp, the
// resolution tags as pdftoppm wrote them. It returns the TIFF and the
// printed PDF (where the words are, for pdftotext -bbox).
func faxTIFF(t *testing.T, dir string) (tif, printed string) {
	t.Helper()
	var text []pdftest.Text
	for i, l := range faxLines {
		text = append(text, pdftest.At(72, 700-14*float64(i), 8, l))
	}
	printed = writeFile(t, dir, "fax-printed.pdf", pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, Text: text}}))
	base := filepath.Join(dir, "fax-raw")
	if out, err := exec.Command("pdftoppm", "-rx", "204", "-ry", "98", "-mono", "-tiff", "-singlefile", printed, base).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	tif = filepath.Join(dir, "fax.tif")
	if out, err := exec.Command("tiffcp", "-c", "g4", base+".tif", tif).CombinedOutput(); err != nil {
		t.Fatalf("tiffcp: %v %s", err, out)
	}
	if out, _ := exec.Command("tiffinfo", tif).CombinedOutput(); !strings.Contains(string(out), "Group 4") || !strings.Contains(string(out), "204, 98 pixels/inch") {
		t.Fatalf("not a 204 x 98-dpi G4 fax:\n%s", out)
	}
	return tif, printed
}

// TestFaxResolutionIsReadAtSquarePixels: a 204 × 98-dpi G4 fax is read at
// square pixels by every engine (resampled to 204 × 204 dpi before
// recognition) and its boxes come back on the fax's own pixels: the text
// is read (CER 0.000 Tesseract, 0.003 PP-OCR, 0.000 structure; read
// squashed, as before, 0.020, 0.725 and 0.020 — PP-OCR found one line of
// five), each word's box in the JSON lies over the printed word, and the
// searchable PDF's layer (pdftotext -bbox) too, over the fax embedded as
// it is (CCITT, its own pixels). pdftoppm's bilevel TIFF is BlackIsZero,
// which the TIFF decoder reads negative (squarePixels turns it back).
func TestFaxResolutionIsReadAtSquarePixels(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	dir := t.TempDir()
	tif, printed := faxTIFF(t, dir)
	want := shownWords(t, printed) // in points, y down
	truth := strings.Join(faxLines, "\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"tesseract", testEnv(), nil},
		{"ppocr", ppocrEnv(), []string{"--model", "ppocr:v4"}},
		{"structure", testEnv(), []string{"--pipeline", "structure"}},
	} {
		out, stderr, err := run(t, tc.env, append([]string{"ocr", tif, "--format", "json"}, tc.args...)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, stderr)
		}
		var res ocrOutput
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Pages) != 1 {
			t.Fatalf("%s: %d pages", tc.name, len(res.Pages))
		}
		p := res.Pages[0]
		if p.Width != 1734 || p.Height != 1078 { // 8.5 × 11 inches at 204 × 98 dpi
			t.Errorf("%s: page %d×%d, want the fax's 1734×1078", tc.name, p.Width, p.Height)
		}
		cer := eval.CER(p.Text(), truth)
		t.Logf("%s: CER %.3f", tc.name, cer)
		if cer > 0.01 {
			t.Errorf("%s: CER %.3f over 0.01 (squashed: 0.020 to 0.725):\n%s", tc.name, cer, p.Text())
		}
		// Each printed word's box, in the fax's pixels, holds a read word
		// of the same text near its centre.
		found := 0
		for _, w := range want {
			cx, cy := (w.xMin+w.xMax)/2*204/72, (w.yMin+w.yMax)/2*98/72
			for _, b := range p.Blocks {
				for _, para := range b.Paragraphs {
					for _, l := range para.Lines {
						for _, rw := range l.Words {
							if !strings.EqualFold(strings.Trim(rw.Text, ".,;:"), strings.Trim(w.s, ".,;:")) {
								continue
							}
							gx, gy := float64(rw.Box.X0+rw.Box.X1)/2, float64(rw.Box.Y0+rw.Box.Y1)/2
							// 10 px across is 3.5 pt; 4 px down, 3 pt.
							if math.Abs(gx-cx) <= 10 && math.Abs(gy-cy) <= 4 {
								found++
							}
						}
					}
				}
			}
		}
		if found < len(want)*9/10 {
			t.Errorf("%s: %d of %d printed words have a read word over them in the fax's pixels", tc.name, found, len(want))
		}
	}

	// The searchable PDF: the fax as it is, the layer over its words.
	pdf := filepath.Join(dir, "fax.pdf")
	if _, stderr, err := run(t, testEnv(), "ocr", tif, "-o", pdf); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if out, err := exec.Command("pdfimages", "-list", pdf).CombinedOutput(); err != nil || !strings.Contains(string(out), "1734  1078  gray    1   1  ccitt") {
		t.Errorf("pdfimages -list: %v\n%s", err, out)
	}
	got := shownWords(t, pdf)
	placed := 0
	for _, w := range want {
		for _, g := range got {
			if strings.EqualFold(g.s, w.s) &&
				math.Abs((g.xMin+g.xMax)/2-(w.xMin+w.xMax)/2) <= 4 && math.Abs((g.yMin+g.yMax)/2-(w.yMin+w.yMax)/2) <= 4 {
				placed++
				break
			}
		}
	}
	if placed < len(want)*9/10 {
		t.Errorf("%d of %d printed words have the layer's word over them: %+v", placed, len(want), got)
	}
	_ = os.Remove(pdf)
}
