package cli

import (
	"bytes"
	"fmt"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/lector-ocr/lector/internal/engine/ppocr"
	"github.com/lector-ocr/lector/internal/evaldata"
)

// ppocrEnv is testEnv with the ppocr directory make setup installed
// (LECTOR_PPOCR_DIR when set).
func ppocrEnv() map[string]string {
	env := testEnv()
	d := os.Getenv("LECTOR_PPOCR_DIR")
	if d == "" {
		d = ppocr.DefaultDir(os.Getenv)
	}
	env["LECTOR_PPOCR_DIR"] = d
	return env
}

// TestPPOCREndToEnd: `lector ocr --model ppocr:v4 IMG --format txt` reads
// through a ppocr runner (flags after the file, as users type them); a
// version that is not installed is unknown_model naming what is; `lector
// models --local` lists it.
func TestPPOCREndToEnd(t *testing.T) {
	t.Parallel()
	img := evaldata.Path(t, "scene", "images", "cnocr-multi-line_en_black.png")
	out, stderr, err := run(t, ppocrEnv(), "ocr", "--model", "ppocr:v4", img, "--format", "txt")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "the network learns new and increasingly complex features") || strings.Count(out, "\n") < 4 {
		t.Fatalf("txt output %q", out)
	}

	_, stderr, err = run(t, ppocrEnv(), "ocr", "--model", "ppocr:v9", img)
	if err == nil || !strings.Contains(stderr, "unknown_model") || !strings.Contains(stderr, "installed: ppocr:v4") {
		t.Fatalf("ppocr:v9: %v\n%s", err, stderr)
	}
	// No config, or a config not installed: every engine's installed
	// models are named, not only ppocr's.
	for _, m := range []string{"ppocr", "ppocr:v9"} {
		_, stderr, err = run(t, ppocrEnv(), "ocr", "--model", m, img)
		if err == nil || !strings.Contains(stderr, "unknown_model") || !strings.Contains(stderr, "installed models: ") ||
			!strings.Contains(stderr, "ppocr:v4") || !strings.Contains(stderr, "tesseract:eng") {
			t.Fatalf("%s: %v\n%s", m, err, stderr)
		}
	}
	// A structure model under the OCR pipeline, named, is refused (it
	// would run as structure).
	_, stderr, err = run(t, ppocrEnv(), "ocr", "--pipeline", "ocr", "--model", "structure:ppocr", img)
	if err == nil || !strings.Contains(err.Error(), "pipeline ocr runs OCR models") {
		t.Fatalf("--pipeline ocr --model structure:ppocr: %v\n%s", err, stderr)
	}
	empty := ppocrEnv()
	empty["LECTOR_PPOCR_DIR"] = t.TempDir()
	_, stderr, err = run(t, empty, "ocr", "--model", "ppocr:v4", img)
	if err == nil || !strings.Contains(stderr, "unknown_model") || !strings.Contains(stderr, "make setup") {
		t.Fatalf("nothing installed: %v\n%s", err, stderr)
	}

	out, stderr, err = run(t, ppocrEnv(), "models", "--local")
	if err != nil || !strings.Contains(out, "ppocr:v4") {
		t.Fatalf("models: %v\n%s%s", err, out, stderr)
	}
}

// TestStructureOverPPOCR: the experimental structure:ppocr model (the
// layout analysis over ppocr's reading, not a default) reads a page
// with a table into a table through a runner; its words make a searchable
// PDF as every engine's do.
func TestStructureOverPPOCR(t *testing.T) {
	t.Parallel()
	img := evaldata.Path(t, "tables-icdar13", "eu-001_01.png")
	out, stderr, err := run(t, ppocrEnv(), "ocr", "--pipeline", "structure", "--model", "structure:ppocr", img, "--format", "md")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "<table>") {
		t.Fatalf("no table in %q", out)
	}
	pdf := filepath.Join(t.TempDir(), "table.pdf")
	if _, stderr, err = run(t, ppocrEnv(), "ocr", "--pipeline", "structure", "--model", "structure:ppocr", img, "-o", pdf); err != nil {
		t.Fatalf("pdf from structure:ppocr: %v\n%s", err, stderr)
	}
	// Every cell of the table as read (the md above) is in the PDF's text.
	txt, err := exec.Command("pdftotext", pdf, "-").Output()
	var missing []string
	cells := regexp.MustCompile(`<t[dh][^>]*>([^<]+)</t[dh]>`).FindAllStringSubmatch(out, -1)
	for _, cell := range cells {
		for _, w := range strings.Fields(cell[1]) {
			if !strings.Contains(string(txt), w) {
				missing = append(missing, w)
			}
		}
	}
	if err != nil || len(cells) < 5 || len(missing) > 0 {
		t.Fatalf("the PDF's text layer: %v %q (%d cells; lacks %q)", err, txt, len(cells), missing)
	}
}

// TestStructureOverPPOCRKeepsHeadingAndParagraphs: on a drawn page (a
// 40-pt heading, a paragraph, a two-column table of three rows and a
// paragraph; ImageMagick, DejaVu Sans) structure:ppocr makes the heading a
// heading, the paragraphs paragraphs and only the rows a table. It made the
// whole page one table: ppocr's word boxes (from CTC time steps) put the
// heading's two words 33 px apart where the ink is 17, and the table
// finder took the heading for a row of two cells, the paragraph under it
// for a spanning row.
func TestStructureOverPPOCRKeepsHeadingAndParagraphs(t *testing.T) {
	t.Parallel()
	out, stderr, err := run(t, ppocrEnv(), "ocr", "--pipeline", "structure", "--model", "structure:ppocr", filepath.Join("testdata", "heading-paragraphs-table.png"), "--format", "md")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	want := []string{
		"# Sales Report\n",
		"\nSales grew in every region this quarter, led by strong demand for our new products and steady growth in services.\n",
		"| Region | Sales |\n| --- | --- |\n| North | 1,250 |\n| South | 980 |\n",
		"\nWe expect demand to stay strong in the next quarter, and we plan to open two new offices in the West.\n",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("no %q after offset %d in\n%s", w, at, out)
		}
		at += i + len(w)
	}
	if strings.Count(out, "|") != 12 || strings.Contains(out, "<table") {
		t.Fatalf("more than the rows in a table:\n%s", out)
	}
}

// TestPPOCRMultiPageTIFF: `lector ocr --model ppocr:v4` reads every page
// of a two-page TIFF (joined by libtiff's tiffcp) through a runner, in
// order.
func TestPPOCRMultiPageTIFF(t *testing.T) {
	t.Parallel()
	tiffcp, err := exec.LookPath("tiffcp")
	if err != nil {
		t.Fatalf("tiffcp (libtiff-tools, installed by make setup): %v", err)
	}
	dir := t.TempDir()
	var parts []string
	for i, src := range []string{evaldata.Path(t, "scene", "images", "cnocr-multi-line_en_black.png"), evaldata.Path(t, "lines", "010001.bin.png")} {
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate}); err != nil {
			t.Fatal(err)
		}
		part := filepath.Join(dir, fmt.Sprintf("p%d.tif", i))
		if err := os.WriteFile(part, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part)
	}
	both := filepath.Join(dir, "both.tif")
	if out, err := exec.Command(tiffcp, append(parts, both)...).CombinedOutput(); err != nil {
		t.Fatalf("tiffcp: %v\n%s", err, out)
	}
	out, stderr, err := run(t, ppocrEnv(), "ocr", "--model", "ppocr:v4", both, "--format", "txt")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	pages := strings.Split(out, "\f")
	if len(pages) != 2 || !strings.Contains(pages[0], "increasingly complex features") || !strings.Contains(pages[1], "Maximum Matching") {
		t.Fatalf("two pages expected, got %q", out)
	}
}
