package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"

	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/task"
)

// minimalPDF builds a PDF whose page tree holds the given MediaBoxes.
func minimalPDF(boxes ...string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.4\n")
	kids := []string{}
	for i := range boxes {
		kids = append(kids, fmt.Sprintf("%d 0 R", 3+i))
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(boxes)))
	for _, box := range boxes {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%s] >>", box))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

func pngClaiming(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8
	chunk := append([]byte("IHDR"), ihdr...)
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&out, binary.BigEndian, uint32(13))
	out.Write(chunk)
	binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return out.Bytes()
}

func textPNG(t *testing.T, text string) []byte {
	t.Helper()
	// A rendered page from the evaluation data would do; a generated one
	// keeps this test independent: linn's first line, cropped.
	data := readFile(t, filepath.Join(evalDir(t), "pages", "linn.png"))
	g := decodeGray(t, data)
	crop := g.SubImage(image.Rect(0, 0, g.Bounds().Dx(), 700)).(*image.Gray)
	_ = text
	var buf bytes.Buffer
	if err := png.Encode(&buf, crop); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBadInputsGetTheirCodes: each bad input ends with its code, no runner
// crashes, and the runtime is quiescent afterwards.
func TestBadInputsGetTheirCodes(t *testing.T) {
	t.Parallel()
	ts := newTesseractStack(t)
	dir := t.TempDir()
	good := textPNG(t, "")

	encrypted := filepath.Join(dir, "enc.pdf")
	plain := filepath.Join(dir, "plain.pdf")
	os.WriteFile(plain, minimalPDF("0 0 612 792"), 0o644)
	if out, err := exec.Command("qpdf", "--encrypt", "user", "owner", "256", "--", plain, encrypted).CombinedOutput(); err != nil {
		t.Fatalf("qpdf (make setup installs it): %v %s", err, out)
	}

	cases := []struct {
		name string
		data []byte
		code errcode.Code
	}{
		{"empty file", nil, errcode.InvalidDocument},
		{"truncated PNG", good[:len(good)/2], errcode.InvalidDocument},
		{"text with a .png name", []byte("Dear reader, this is not a picture.\n"), errcode.UnsupportedMediaType},
		{"PNG header claiming 50000x50000", pngClaiming(50000, 50000), errcode.TooManyPixels},
		{"encrypted PDF", readFile(t, encrypted), errcode.EncryptedPDF},
		{"PDF with zero pages", minimalPDF(), errcode.InvalidDocument},
		{"corrupt PDF", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage\x00\xff%%EOF"), errcode.InvalidDocument},
		{"page-size bomb PDF", minimalPDF("0 0 14400 14400", "0 0 14400 14400"), errcode.TooManyPixels},
		{"blank page", encodePNG(t, image.NewGray(image.Rect(0, 0, 3000, 3000))), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ts.ocr(t, tc.data, task.Options{})
			if tc.code == "" && (err != nil || len(res.Pages) != 1 || res.Pages[0].Blocks == nil) {
				t.Fatalf("blank page: %v %+v, want one page with no blocks", err, res)
			}
			if errcode.Of(err) != tc.code {
				t.Fatalf("err = %v (code %q), want %s", err, errcode.Of(err), tc.code)
			}
			if err := ts.st.rt.Quiescent(); err != nil {
				t.Fatalf("not quiescent: %v", err)
			}
		})
	}
	for _, u := range ts.st.models.Unloads() {
		if u.Reason == "crash" {
			t.Fatalf("a runner crashed: %+v", u)
		}
	}
}

// TestMultiPageTIFFWorks: a two-page TIFF reads as two pages.
func TestMultiPageTIFFWorks(t *testing.T) {
	t.Parallel()
	ts := newTesseractStack(t)
	dir := t.TempDir()
	g := decodeGray(t, textPNG(t, ""))
	var pages []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("p%d.tif", i))
		f, _ := os.Create(p)
		if err := tiff.Encode(f, g, &tiff.Options{Compression: tiff.Deflate}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		pages = append(pages, p)
	}
	multi := filepath.Join(dir, "multi.tif")
	if out, err := exec.Command("tiffcp", append(pages, multi)...).CombinedOutput(); err != nil {
		t.Fatalf("tiffcp (make setup installs libtiff-tools): %v %s", err, out)
	}
	res, err := ts.ocr(t, readFile(t, multi), task.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pages) != 2 || !strings.Contains(res.Pages[1].Text(), "LinnSequencer") {
		t.Fatalf("%d pages; page 2 reads %q", len(res.Pages), res.Pages[len(res.Pages)-1].Text())
	}
	if err := ts.st.rt.Quiescent(); err != nil {
		t.Fatal(err)
	}
}

// TestSearchablePDF: `lector ocr --format pdf --pdf-text force` of a
// two-page born-digital PDF returns it as it is (its own text is
// searchable; an OCR layer over it would have every word found twice);
// of the same pages scanned (drawn as 150-dpi JPEGs), pdftotext of the
// output finds the recognised words on every page, in order.
func TestSearchablePDF(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	dir := filepath.Join(evalDir(t), "pdfs")
	work := t.TempDir()
	two := filepath.Join(work, "two.pdf")
	if out, err := exec.Command("pdfunite", filepath.Join(dir, "background-checks.pdf"), filepath.Join(dir, "san-jose-pd-firearm-sample.pdf"), two).CombinedOutput(); err != nil {
		t.Fatalf("pdfunite: %v %s", err, out)
	}
	bornDigital := filepath.Join(work, "two.ocr.pdf")
	// The format follows from -o's extension, as users type it.
	if _, stderr, err := run(t, testEnv(), "ocr", two, "-o", bornDigital, "--pdf-text", "force"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if in, out := readFile(t, two), readFile(t, bornDigital); !bytes.Equal(in, out) {
		t.Fatalf("force wrote an OCR layer over born-digital pages (%d bytes, input %d)", len(out), len(in))
	}
	var scans []pdftest.Page
	for page := 1; page <= 2; page++ {
		base := filepath.Join(work, fmt.Sprintf("scan%d", page))
		if out, err := exec.Command("pdftoppm", "-r", "150", "-gray", "-jpeg", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), "-singlefile", two, base).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
		// pdftoppm -gray -jpeg writes three components: made gray here.
		im, err := jpeg.Decode(bytes.NewReader(readFile(t, base+".jpg")))
		if err != nil {
			t.Fatal(err)
		}
		b := im.Bounds()
		gray := image.NewGray(b)
		draw.Draw(gray, b, im, b.Min, draw.Src)
		scans = append(scans, pdftest.Page{MediaBox: [4]float64{0, 0, float64(b.Dx()) * 72 / 150, float64(b.Dy()) * 72 / 150},
			JPEG: pdftest.EncodeJPEG(gray), JW: b.Dx(), JH: b.Dy()})
	}
	two = filepath.Join(work, "scans.pdf")
	if err := os.WriteFile(two, pdftest.Build(scans), 0o600); err != nil {
		t.Fatal(err)
	}
	outPDF := filepath.Join(work, "scans.ocr.pdf")
	if _, stderr, err := run(t, testEnv(), "ocr", two, "-o", outPDF, "--pdf-text", "force"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	jsonOut, stderr, err := run(t, testEnv(), "ocr", "--format", "txt", "--pdf-text", "force", two)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	ocrPages := strings.Split(jsonOut, "\f")
	for page := 1; page <= 2; page++ {
		out, err := exec.Command("pdftotext", "-raw", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), outPDF, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext page %d: %v", page, err)
		}
		want := strings.Fields(ocrPages[page-1])
		got := strings.Fields(string(out))
		// Every recognised word, in order, as a subsequence of the layer.
		j := 0
		for _, w := range got {
			if j < len(want) && w == want[j] {
				j++
			}
		}
		if len(want) < 20 || float64(j) < 0.9*float64(len(want)) {
			t.Fatalf("page %d: %d of %d recognised words found in order in the PDF's text layer", page, j, len(want))
		}
	}
}

// TestTesseractPageTimeout: a page past the page timeout ends with
// timeout through the whole runtime; the runner survives and the runtime is
// quiescent. (Cancellation inside Tesseract is tested on the engine.)
func TestTesseractPageTimeout(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	page := readFile(t, filepath.Join(evalDir(t), "pages", "linn.png"))
	work := t.TempDir()
	cfg := config.Config{DataDir: work, Limits: config.Limits{PageTimeout: 50 * time.Millisecond}}.WithDefaults(runtime.NumCPU())
	st, err := buildStack(context.Background(), cfg, IO{Env: testEnv(), Stdout: io.Discard, Stderr: io.Discard}, "/nonexistent", work, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.stop(context.Background())
	ts := &tesseractStack{st: st, work: work}
	if _, err := ts.ocr(t, page, task.Options{}); errcode.Of(err) != errcode.Timeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	if err := st.rt.Quiescent(); err != nil {
		t.Fatal(err)
	}
	for _, u := range st.models.Unloads() {
		if u.Reason == "crash" {
			t.Fatalf("a runner crashed: %+v", u)
		}
	}
}

// TestJPEGExifOrientationIsApplied: a JPEG stored sideways with EXIF
// orientation 6 is read upright from its EXIF, not by the engine's own
// orientation search (which would report a rotation).
func TestJPEGExifOrientationIsApplied(t *testing.T) {
	t.Parallel()
	ts := newTesseractStack(t)
	g := decodeGray(t, textPNG(t, ""))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, turn(g, 3), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	jpg := buf.Bytes()
	tiffHdr := []byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	seg := append([]byte("Exif\x00\x00"), tiffHdr...)
	withExif := append(append(append([]byte{}, jpg[:2]...), 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2)), seg...)
	withExif = append(withExif, jpg[2:]...)
	res, err := ts.ocr(t, withExif, task.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pages[0]
	if !strings.Contains(p.Text(), "LinnSequencer") || p.Rotation != 0 || p.Width <= p.Height {
		t.Fatalf("rotation %d, %dx%d, text %q", p.Rotation, p.Width, p.Height, p.Text())
	}
}
