package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/result"
)

// TestAPDFNotWrittenKeepsTheRecognisedText: lector ocr -o x.pdf for a file
// whose searchable PDF could not be written (pdf_not_written, its pages
// recognised) writes no PDF and the result as JSON beside it (x.json);
// to standard output nothing is written for it; the file counts as failed
// (runOCR's exit status) since what was asked for was not made.
func TestAPDFNotWrittenKeepsTheRecognisedText(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	page := &result.Page{Number: 1, Width: 100, Height: 50, Blocks: []result.Block{{Type: result.BlockText, Paragraphs: []result.Paragraph{{Lines: []result.Line{{Words: []result.Word{{Text: "kept"}}}}}}}}}
	r := ocrOutput{File: filepath.Join(dir, "scan.tif"), Pages: []*result.Page{page},
		Error: &lector.Error{Code: "pdf_not_written", Message: "the searchable PDF could not be written: x"}}
	out := filepath.Join(dir, "scan.ocr.pdf")
	if err := writeOCR(io.Discard, []ocrOutput{r}, "pdf", out, []string{out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a PDF was written: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "scan.ocr.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got ocrOutput
	if err := json.Unmarshal(data, &got); err != nil || len(got.Pages) != 1 || got.Pages[0].Text() != "kept" || got.Error == nil || got.Error.Code != "pdf_not_written" {
		t.Fatalf("kept JSON %s: %v", data, err)
	}
	var stdout bytes.Buffer
	if err := writeOCR(&stdout, []ocrOutput{r}, "pdf", "", nil); err != nil || stdout.Len() != 0 {
		t.Fatalf("standard output %q %v", stdout.String(), err)
	}
	if p := keptResultPath(ocrOutput{File: r.File, Pages: r.Pages, Error: &lector.Error{Code: "invalid_document"}}, []string{out}, 0); p != "" {
		t.Fatalf("another error keeps its result in %s", p)
	}
}
