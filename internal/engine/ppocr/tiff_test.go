package ppocr

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/eval"
)

// TestMultiPageTIFF: each page of a two-page TIFF (joined by libtiff's
// tiffcp, as scanners write them) reads as that page's image alone; a page
// past the end is invalid_document.
func TestMultiPageTIFF(t *testing.T) {
	tiffcp, err := exec.LookPath("tiffcp")
	if err != nil {
		t.Fatalf("tiffcp (libtiff-tools, installed by make setup): %v", err)
	}
	h := testHandle(t)
	dir := t.TempDir()
	sources := []string{
		filepath.Join(evalDir(t), "scene", "images", "cnocr-multi-line_en_black.png"),
		filepath.Join(evalDir(t), "lines", "010001.bin.png"),
	}
	var want []string
	var parts []string
	for i, src := range sources {
		data := readFile(t, src)
		want = append(want, process(t, h, data, engine.Options{}).Text())
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate}); err != nil {
			t.Fatal(err)
		}
		part := filepath.Join(dir, filepath.Base(src)+".tif")
		if err := os.WriteFile(part, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part)
		if want[i] == "" {
			t.Fatalf("%s reads as nothing", src)
		}
	}
	both := filepath.Join(dir, "both.tif")
	if out, err := exec.Command(tiffcp, append(parts, both)...).CombinedOutput(); err != nil {
		t.Fatalf("tiffcp: %v\n%s", err, out)
	}
	data := readFile(t, both)
	for i := range sources {
		p, err := h.Process(t.Context(), engine.Image{Number: i + 1, Format: "tiff", Data: data, TIFFPage: i + 1}, engine.Options{})
		if err != nil {
			t.Fatalf("page %d: %v", i+1, err)
		}
		if got := p.Text(); eval.CER(got, want[i]) != 0 {
			t.Fatalf("page %d of the TIFF reads %q; alone it reads %q", i+1, got, want[i])
		}
	}
	_, err = h.Process(t.Context(), engine.Image{Number: 3, Format: "tiff", Data: data, TIFFPage: 3}, engine.Options{})
	if errcode.Of(err) != errcode.InvalidDocument {
		t.Fatalf("page 3 of 2: %v, want invalid_document", err)
	}
}
