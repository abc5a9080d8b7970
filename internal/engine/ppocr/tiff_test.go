package ppocr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/eval"
)

// TestMultiPageTIFF: each page of a three-page TIFF (joined by libtiff's
// tiffcp, as scanners write them; two deflated pages and a CCITT Group 4
// one) reads as that page's image alone; a page past the end is
// invalid_document.
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
	// A third page as scanners and fax write bilevel pages: CCITT Group 4
	// (the binarised line again, through a PBM and libtiff's ppm2tiff).
	ppm2tiff, err := exec.LookPath("ppm2tiff")
	if err != nil {
		t.Fatalf("ppm2tiff (libtiff-tools): %v", err)
	}
	line, _, err := image.Decode(bytes.NewReader(readFile(t, sources[1])))
	if err != nil {
		t.Fatal(err)
	}
	pbm := filepath.Join(dir, "line.pbm")
	if err := os.WriteFile(pbm, bilevel(line), 0o600); err != nil {
		t.Fatal(err)
	}
	g4 := filepath.Join(dir, "line-g4.tif")
	if out, err := exec.Command(ppm2tiff, "-c", "g4", pbm, g4).CombinedOutput(); err != nil {
		t.Fatalf("ppm2tiff: %v\n%s", err, out)
	}
	sources = append(sources, sources[1])
	want = append(want, want[1])
	parts = append(parts, g4)
	both := filepath.Join(dir, "all.tif")
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
	_, err = h.Process(t.Context(), engine.Image{Number: 4, Format: "tiff", Data: data, TIFFPage: 4}, engine.Options{})
	if errcode.Of(err) != errcode.InvalidDocument {
		t.Fatalf("page 4 of 3: %v, want invalid_document", err)
	}
}

// bilevel is img as a binary PBM (P4): black where the gray is under half.
func bilevel(img image.Image) []byte {
	b := img.Bounds()
	var out bytes.Buffer
	fmt.Fprintf(&out, "P4\n%d %d\n", b.Dx(), b.Dy())
	row := make([]byte, (b.Dx()+7)/8)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		clear(row)
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 {
				row[(x-b.Min.X)/8] |= 0x80 >> ((x - b.Min.X) % 8)
			}
		}
		out.Write(row)
	}
	return out.Bytes()
}
