package document

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

func openFixture(t *testing.T, data []byte) *PDF {
	t.Helper()
	doc, err := Open(context.Background(), data, Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { doc.Close() })
	return doc.(*PDF)
}

func save(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ocrPage is what an engine might return for a page: one word.
func ocrPage(w, h int, word string) *result.Page {
	b := result.Box{X0: w / 10, Y0: h / 10, X1: w / 2, Y1: h/10 + h/40}
	return &result.Page{Width: w, Height: h, Source: result.SourceOCR, Blocks: []result.Block{{Type: result.BlockText, Box: b,
		Paragraphs: []result.Paragraph{{Box: b, Lines: []result.Line{{Box: b, Words: []result.Word{{Text: word, Box: b, Confidence: 90}}}}}}}}}
}

func TestBornDigitalPageIsReadFromItsTextExactly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	crop := [4]float64{0, 0, 612, 700}
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, CropBox: &crop, Text: []pdftest.Text{
		pdftest.At(72, 600, 14, "Il1O0-O0Il1-lI0O1"), pdftest.At(72, 560, 12, "rn m cl d 0O"), pdftest.At(72, 760, 10, "BLEED")}}})
	p := openFixture(t, in)
	page, err := p.TextPage(ctx, 0, lector.PDFTextSkip)
	if err != nil || page == nil {
		t.Fatalf("page not read from its text: %v", err)
	}
	if got, want := page.Text(), "Il1O0-O0Il1-lI0O1\n\nrn m cl d 0O"; got != want {
		t.Fatalf("text %q, want %q (the bleed outside the CropBox must not be read)", got, want)
	}
	if page.Source != result.SourceText || page.Width != 2550 || page.Height != 2917 {
		t.Fatalf("page %dx%d source %q, want 2550x2917 (the CropBox at 300 dpi), text", page.Width, page.Height, page.Source)
	}
	if forced, _ := p.TextPage(ctx, 0, lector.PDFTextForce); forced != nil {
		t.Fatal("force read a page from its text")
	}
	out, how, err := p.SearchablePDF(ctx, []*result.Page{page}, lector.PDFTextSkip)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%s)", err, how)
	}
	inPath, outPath := save(t, "in.pdf", in), save(t, "out.pdf", out)
	if a, b := poppler(t, "pdftotext", "-cropbox", inPath, "-"), poppler(t, "pdftotext", "-cropbox", outPath, "-"); a != b {
		t.Fatalf("text changed:\n%q\n%q", a, b)
	}
	fonts := poppler(t, "pdffonts", outPath)
	if !strings.Contains(fonts, "Helvetica") || strings.Contains(fonts, "GlyphLess") {
		t.Fatalf("fonts of a page read from its text:\n%s", fonts)
	}
	if box := strings.Join(strings.Fields(poppler(t, "pdfinfo", "-box", outPath)), " "); !strings.Contains(box, "CropBox: 0.00 0.00 612.00 700.00") {
		t.Fatalf("CropBox not kept:\n%s", box)
	}
}

// imageRows is pdfimages -list without the object numbers.
func imageRows(t *testing.T, path string) []string {
	var rows []string
	for _, l := range strings.Split(poppler(t, "pdfimages", "-list", path), "\n")[2:] {
		if f := strings.Fields(l); len(f) >= 14 {
			rows = append(rows, strings.Join(append(f[:10:10], f[12:14]...), " "))
		}
	}
	return rows
}

func TestScansAreOCRdKeepTheirImagesAndRedoDoesNotStack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j, scan := pdftest.GrayJPEG(425, 550), pdftest.ScanJPEG(425, 550)
	var lots []pdftest.Text
	for i := range 40 {
		lots = append(lots, pdftest.At(40, float64(760-18*i), 14, "a born-digital line of text over a picture that covers the page"))
	}
	in := pdftest.Build([]pdftest.Page{
		{MediaBox: pdftest.Letter, JPEG: scan, JW: 425, JH: 550},                                                                  // a scan
		{MediaBox: pdftest.Letter, JPEG: scan, JW: 425, JH: 550, Text: []pdftest.Text{pdftest.At(450, 40, 9, "PAID 2024-03-01")}}, // a scan with a stamp
		{MediaBox: pdftest.Letter, JPEG: j, JW: 425, JH: 550, Text: lots},                                                         // text over a smooth picture
	})
	p := openFixture(t, in)
	var pages []*result.Page
	for i, want := range []bool{false, false, true} {
		page, err := p.TextPage(ctx, i, lector.PDFTextSkip)
		if err != nil {
			t.Fatal(err)
		}
		if (page != nil) != want {
			t.Fatalf("page %d (%s): read from its text %v, want %v", i+1, p.text[i], page != nil, want)
		}
		if page == nil {
			w, h := p.PageSize(i)
			page = ocrPage(w, h, "scanned")
		}
		if i == 1 { // the OCR reads the stamp too: where its printed word is
			stamp := p.text[1].blocks[0][0].words[0]
			s := float64(p.dpi[1]) / 72
			b := result.Box{X0: int(stamp.xMin * s), Y0: int(stamp.yMin * s), X1: int(stamp.xMax * s), Y1: int(stamp.yMax * s)}
			page.Blocks = append(page.Blocks, result.Block{Paragraphs: []result.Paragraph{{Lines: []result.Line{{Box: b, Words: []result.Word{{Text: "PAID", Box: b}}}}}}})
		}
		pages = append(pages, page)
	}
	out, how, err := p.SearchablePDF(ctx, pages, lector.PDFTextSkip)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%s)", err, how)
	}
	inPath, outPath := save(t, "in.pdf", in), save(t, "out.pdf", out)
	before, after := imageRows(t, inPath), imageRows(t, outPath)
	if strings.Join(before, "\n") != strings.Join(after, "\n") || !strings.Contains(before[0], "jpeg") {
		t.Fatalf("images changed:\n%s\n--\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	fonts := poppler(t, "pdffonts", outPath)
	if !strings.Contains(fonts, "Helvetica") || !strings.Contains(fonts, "GlyphLessFont") {
		t.Fatalf("fonts:\n%s", fonts)
	}
	for i, want := range []string{"scanned", "scanned", ""} {
		n := itoa(i + 1)
		txt := poppler(t, "pdftotext", "-f", n, "-l", n, outPath, "-")
		if strings.Count(txt, "scanned") != strings.Count(want, "scanned") {
			t.Fatalf("page %d text %q", i+1, txt)
		}
		if i == 1 && strings.Count(txt, "PAID") != 1 {
			t.Fatalf("the stamp's word, printed and recognised, is in page 2's text %d times, want once: %q", strings.Count(txt, "PAID"), txt)
		}
	}

	// Lector's own output: skip reads the layer; redo OCRs again and the
	// layers do not stack.
	again := openFixture(t, out)
	if page, err := again.TextPage(ctx, 0, lector.PDFTextSkip); err != nil || page == nil || page.Text() != "scanned" {
		t.Fatalf("skip on an OCR'd page: %v %+v (%s)", err, page, again.text[0])
	}
	redo := make([]*result.Page, 3)
	for i := range 3 {
		page, err := again.TextPage(ctx, i, lector.PDFTextRedo)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 && page != nil {
			t.Fatalf("redo read page %d from its text (%s)", i+1, again.text[i])
		}
		if page == nil {
			w, h := again.PageSize(i)
			page = ocrPage(w, h, "scanned")
		}
		redo[i] = page
	}
	out2, _, err := again.SearchablePDF(ctx, redo, lector.PDFTextRedo)
	if err != nil {
		t.Fatal(err)
	}
	out2Path := save(t, "out2.pdf", out2)
	if a, b := poppler(t, "pdftotext", outPath, "-"), poppler(t, "pdftotext", out2Path, "-"); a != b {
		t.Fatalf("redo changed the text (stacked layers?):\n%q\n%q", a, b)
	}
	if strings.Join(imageRows(t, out2Path), "\n") != strings.Join(before, "\n") {
		t.Fatal("redo changed the images")
	}
}

// TestStructureThePDFLibraryCannotReadFallsBack: a PDF whose cross-reference
// offsets are all wrong is read by poppler (it reconstructs them) but not by
// pdfcpu; the searchable PDF is still made, from qpdf's repaired copy, and
// says so.
func TestStructureThePDFLibraryCannotReadFallsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A scan with a stamp: OCR'd, so it gets a layer.
	good := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(64, 64), JW: 64, JH: 64, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Printed")}}})
	broken := regexp.MustCompile(`\d{10} 00000 n`).ReplaceAll(good, []byte("0000000003 00000 n"))
	p := openFixture(t, broken)
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "recognised")}, lector.PDFTextForce)
	if err != nil || how != PDFRepaired {
		t.Fatalf("searchable PDF of a broken structure: %v (%q), want it repaired", err, how)
	}
	txt := poppler(t, "pdftotext", save(t, "out.pdf", out), "-")
	if !strings.Contains(txt, "Printed") || !strings.Contains(txt, "recognised") {
		t.Fatalf("text %q", txt)
	}
}

// TestRebuiltWhenNeitherPDFLibraryNorQPDFCan: the last resort — with no
// qpdf to repair it, the broken PDF's pages are redrawn by pdftocairo, and
// the result says so. (Not parallel: it narrows PATH.)
func TestRebuiltWhenNeitherPDFLibraryNorQPDFCan(t *testing.T) {
	dir := t.TempDir()
	for _, tool := range []string{"pdfinfo", "pdftoppm", "pdftotext", "pdfimages", "pdffonts", "pdftocairo", "prlimit"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
				t.Fatal(err)
			}
		} else if tool != "prlimit" {
			t.Fatalf("%s (poppler-utils, installed by make setup): %v", tool, err)
		}
	}
	t.Setenv("PATH", dir)
	// A scan with a stamp: OCR'd, so it gets a layer.
	good := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(64, 64), JW: 64, JH: 64, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Printed")}}})
	broken := regexp.MustCompile(`\d{10} 00000 n`).ReplaceAll(good, []byte("0000000003 00000 n"))
	p := openFixture(t, broken)
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(context.Background(), []*result.Page{ocrPage(w, h, "recognised")}, lector.PDFTextForce)
	if err != nil || how != PDFRebuilt {
		t.Fatalf("searchable PDF without qpdf: %v (%q), want it rebuilt", err, how)
	}
	txt := poppler(t, filepath.Join(dir, "pdftotext"), save(t, "out.pdf", out), "-")
	if !strings.Contains(txt, "Printed") || !strings.Contains(txt, "recognised") {
		t.Fatalf("text %q", txt)
	}
}

// A PDF whose page font is a direct dictionary in the page's resources
// keeps its visible text and font next to an OCR'd page; a PDF whose pages
// are all read from their text is returned byte for byte; and the check
// after writing catches a PDF that lost a page's own text or a font.
func TestDirectFontKeptUnchangedWithoutLayerAndLossCaught(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	text := pdftest.Page{MediaBox: pdftest.Letter, DirectFont: true, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Direct font text")}}
	in := pdftest.Build([]pdftest.Page{text, {MediaBox: pdftest.Letter, JPEG: pdftest.GrayJPEG(64, 64), JW: 64, JH: 64}})
	p := openFixture(t, in)
	first, err := p.TextPage(ctx, 0, lector.PDFTextSkip)
	if err != nil || first == nil {
		t.Fatalf("page 1 not read from its text: %v", err)
	}
	out, how, err := p.SearchablePDF(ctx, []*result.Page{first, ocrPage(2550, 3300, "scanned")}, lector.PDFTextSkip)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%s)", err, how)
	}
	inPath, outPath := save(t, "in.pdf", in), save(t, "out.pdf", out)
	if a, b := poppler(t, "pdftotext", "-f", "1", "-l", "1", inPath, "-"), poppler(t, "pdftotext", "-f", "1", "-l", "1", outPath, "-"); a != b {
		t.Fatalf("page 1's text %q, was %q", b, a)
	}
	if fonts := poppler(t, "pdffonts", outPath); !strings.Contains(fonts, "Helvetica") || !strings.Contains(fonts, "GlyphLess") {
		t.Fatalf("fonts:\n%s", fonts)
	}
	// (The page's JPEG was deflated, so qpdf rewrote the update: the input's
	// bytes are not a prefix of the output; render's tests check the update.)

	only := pdftest.Build([]pdftest.Page{text})
	q := openFixture(t, only)
	page, err := q.TextPage(ctx, 0, lector.PDFTextSkip)
	if err != nil || page == nil {
		t.Fatalf("not read from its text: %v", err)
	}
	same, how, err := q.SearchablePDF(ctx, []*result.Page{page}, lector.PDFTextSkip)
	if err != nil || how != PDFOriginal || !bytes.Equal(same, only) {
		t.Fatalf("a PDF read from its text only was rewritten (%v, %s, %d bytes, input %d)", err, how, len(same), len(only))
	}
	if &same[0] == &q.data[0] {
		t.Fatal("the output is the document's own buffer (the service unmaps it after the task)")
	}

	// What pdfcpu's validation used to write: the text undrawn, the font gone.
	lost := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter}, {MediaBox: pdftest.Letter}})
	pages := []*result.Page{first, ocrPage(2550, 3300, "scanned")}
	if err := p.keeps(ctx, lost, pages, true); err == nil || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("a written PDF that lost page 1's text passed the check: %v", err)
	}
	if err := p.keeps(ctx, in, pages, true); err != nil {
		t.Fatalf("the input itself failed the check: %v", err)
	}
	blank := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter}})
	if err := q.keeps(ctx, blank, []*result.Page{nil}, true); err == nil {
		t.Fatal("a written PDF that lost its text and font passed the check")
	}
}

// A born-digital page too large to render at MinDPI within the pixel limit
// is still read from its text; only rendering it is refused.
func TestHugeBornDigitalPageIsReadFromItsText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	big := [4]float64{0, 0, 2880, 2880} // 40 in: 2800×2800 pixels at 70 dpi
	in := pdftest.Build([]pdftest.Page{{MediaBox: big, Text: []pdftest.Text{pdftest.At(100, 2700, 40, "Poster title")}}})
	doc, err := Open(ctx, in, Limits{MaxPixelsPerPage: 1_000_000}, t.TempDir())
	if err != nil {
		t.Fatalf("a page read from its text was refused: %v", err)
	}
	defer doc.Close()
	p := doc.(*PDF)
	page, err := p.TextPage(ctx, 0, lector.PDFTextSkip)
	if err != nil || page == nil || page.Text() != "Poster title" {
		t.Fatalf("page %+v, %v", page, err)
	}
	if _, err := p.Page(ctx, 0, t.TempDir()); errcode.Of(err) != errcode.TooManyPixels {
		t.Fatalf("rendering the page: %v, want too_many_pixels", err)
	}
}

// force OCRs a born-digital page, but the PDF gets no layer over text
// that is searchable already (the OCR, a word misread, agrees with it);
// a scan next to it still gets its layer.
func TestForceAddsNoLayerOverAPagesOwnText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := pdftest.Build([]pdftest.Page{
		{MediaBox: pdftest.Letter, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Born digital words")}},
		{MediaBox: pdftest.Letter, JPEG: pdftest.GrayJPEG(64, 64), JW: 64, JH: 64},
	})
	p := openFixture(t, in)
	for _, mode := range []lector.PDFText{lector.PDFTextForce} {
		pages := []*result.Page{ocrPage(2550, 3300, "Bom digital words"), ocrPage(2550, 3300, "scanned")}
		out, how, err := p.SearchablePDF(ctx, pages, mode)
		if err != nil || how != PDFOriginal {
			t.Fatalf("%s: %v (%s)", mode, err, how)
		}
		path := save(t, "out.pdf", out)
		if got := poppler(t, "pdftotext", "-f", "1", "-l", "1", path, "-"); strings.Contains(got, "Bom") || !strings.Contains(got, "Born digital words") {
			t.Errorf("%s: page 1's text %q: an OCR layer over the page's own text", mode, got)
		}
		if got := poppler(t, "pdftotext", "-f", "2", "-l", "2", path, "-"); !strings.Contains(got, "scanned") {
			t.Errorf("%s: the scan's layer is missing: %q", mode, got)
		}
	}
}

// A damaged input that pdfcpu still reads (a stream's /Length wrong) is
// written whole, not as an update over the damage: qpdf finds the output
// sound.
func TestDamagedInputIsWrittenWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(64, 64), JW: 64, JH: 64, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Printed")}}})
	damaged := regexp.MustCompile(`/Length (\d+) >>\nstream\nq `).ReplaceAll(good, []byte("/Length 9 >>\nstream\nq "))
	if bytes.Equal(damaged, good) {
		t.Fatal("the fixture was not damaged")
	}
	if !openFixture(t, good).sound(ctx) {
		t.Fatal("a sound PDF read as damaged")
	}
	p := openFixture(t, damaged)
	if p.sound(ctx) {
		t.Fatal("a stream length off read as sound")
	}
	w, h := p.PageSize(0)
	out, _, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "recognised")}, lector.PDFTextSkip)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("qpdf", "--check", save(t, "out.pdf", out)).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check of the output: %v\n%s", err, msg)
	}
	if txt := poppler(t, "pdftotext", save(t, "out2.pdf", out), "-"); !strings.Contains(txt, "Printed") || !strings.Contains(txt, "recognised") {
		t.Fatalf("text %q", txt)
	}
}

// A scan's JPEG goes into the searchable PDF wrapped in Flate, its DCT
// data byte for byte (pdfimages -j gives back the input's JPEG file), and
// the output, rewritten by qpdf without the input's copy, is smaller than
// the input.
func TestJPEGScanIsDeflatedLosslessly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := printedJPEG()
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: j, JW: 850, JH: 1100}})
	p := openFixture(t, in)
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "scanned")}, lector.PDFTextSkip)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%s)", err, how)
	}
	if len(out) >= len(in) {
		t.Fatalf("output %d bytes, input %d: the JPEG was not deflated or its old copy kept", len(out), len(in))
	}
	sameJPEG(t, in, out, j)
	if txt := poppler(t, "pdftotext", save(t, "out.pdf", out), "-"); !strings.Contains(txt, "scanned") {
		t.Fatalf("text %q", txt)
	}
}

// A PDF that is repaired first (a content stream's /Length wrong), or is
// encrypted (written whole by the PDF library, with its encryption), gets
// the same JPEG optimisation as a sound one: its JPEG wrapped in Flate,
// byte for byte, and the output smaller than the input.
func TestRepairedAndEncryptedScansAreDeflatedToo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := printedJPEG()
	good := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: j, JW: 850, JH: 1100}})
	damaged := regexp.MustCompile(`/Length (\d+) >>\nstream\nq `).ReplaceAll(good, []byte("/Length 9 >>\nstream\nq "))
	if bytes.Equal(damaged, good) {
		t.Fatal("the fixture was not damaged")
	}
	encPath := filepath.Join(t.TempDir(), "enc.pdf")
	if msg, err := exec.Command("qpdf", "--encrypt", "", "owner", "256", "--", save(t, "good.pdf", good), encPath).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --encrypt: %v\n%s", err, msg)
	}
	encrypted, err := os.ReadFile(encPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, how string
		in        []byte
	}{{"damaged", PDFRepaired, damaged}, {"encrypted", PDFOriginal, encrypted}} {
		t.Run(c.name, func(t *testing.T) {
			p := openFixture(t, c.in)
			w, h := p.PageSize(0)
			out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "scanned")}, lector.PDFTextSkip)
			if err != nil || how != c.how {
				t.Fatalf("searchable PDF: %v (%s, want %s)", err, how, c.how)
			}
			if len(out) >= len(c.in) {
				t.Fatalf("output %d bytes, input %d: the JPEG was not deflated", len(out), len(c.in))
			}
			raw, err := exec.Command("qpdf", "--decrypt", "--stream-data=preserve", "--object-streams=disable", save(t, "o.pdf", out), "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`/FlateDecode\s*/DCTDecode`).Match(raw) {
				t.Fatal("the JPEG is not wrapped in Flate")
			}
			sameJPEG(t, c.in, out, j)
		})
	}
}

// sameJPEG fails unless out's image is j byte for byte (pdfimages -j), as
// pdfimages -list shows the input's.
func sameJPEG(t *testing.T, in, out, j []byte) {
	t.Helper()
	inPath, outPath := save(t, "in.pdf", in), save(t, "out.pdf", out)
	if before, after := imageRows(t, inPath), imageRows(t, outPath); strings.Join(before, "\n") != strings.Join(after, "\n") || !strings.Contains(after[0], "jpeg") {
		t.Fatalf("images changed:\n%s\n--\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	dir := t.TempDir()
	poppler(t, "pdfimages", "-j", outPath, filepath.Join(dir, "im"))
	if got, err := os.ReadFile(filepath.Join(dir, "im-000.jpg")); err != nil || !bytes.Equal(got, j) {
		t.Fatalf("the JPEG's bytes changed (%v)", err)
	}
}

// printedJPEG is an 850 × 1100 white page with lines of dark "print", as
// Go's encoder writes it (standard Huffman tables: Flate shrinks it).
func printedJPEG() []byte {
	img := image.NewGray(image.Rect(0, 0, 850, 1100))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 100; y < 1000; y += 30 { // lines of "print"
		for x := 80; x < 770; x++ {
			for dy := range 12 {
				if (x/9)%4 != 3 {
					img.SetGray(x, y+dy, color.Gray{Y: 20})
				}
			}
		}
	}
	return pdftest.EncodeJPEG(img)
}

// redo takes invisible text drawn in the page's own content stream (as
// Tesseract's PDF renderer draws its layer) off a page it OCRs, keeps the
// page's visible text, and the new layer is the only one: each word once.
func TestRedoRemovesInvisibleTextFromThePagesContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := pdftest.Text{X: 72, Y: 700, Size: 12, S: "oldlayer", Invisible: true}
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(425, 550), JW: 425, JH: 550,
		Text: []pdftest.Text{old, pdftest.At(450, 40, 9, "PAID")}}})
	p := openFixture(t, in)
	if page, err := p.TextPage(ctx, 0, lector.PDFTextRedo); err != nil || page != nil {
		t.Fatalf("redo read a scan with an old layer from its text: %v (%s)", err, p.text[0])
	}
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "scanned")}, lector.PDFTextRedo)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%s)", err, how)
	}
	inPath, outPath := save(t, "in.pdf", in), save(t, "out.pdf", out)
	if txt := poppler(t, "pdftotext", inPath, "-"); !strings.Contains(txt, "oldlayer") {
		t.Fatalf("the input has no old layer: %q", txt)
	}
	txt := poppler(t, "pdftotext", outPath, "-")
	if strings.Contains(txt, "oldlayer") || strings.Count(txt, "scanned") != 1 || strings.Count(txt, "PAID") != 1 {
		t.Fatalf("redo's text %q: want scanned and PAID once, no oldlayer", txt)
	}
	if before, after := imageRows(t, inPath), imageRows(t, outPath); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("images changed:\n%s\n--\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// A JPEG stream whose /Length is too short (poppler and qpdf read on to
// its endstream, pdfcpu cut it) keeps its whole image: the output shows
// what the input shows — the dark bottom half of the scan is still drawn
// — and says it was repaired.
func TestStreamLengthTooShortKeepsTheWholeImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetGray(x, y, color.Gray{Y: uint8(map[bool]int{true: 240, false: 10}[y < 32])})
		}
	}
	j := pdftest.EncodeJPEG(img)
	good := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: j, JW: 64, JH: 64}})
	cut := bytes.Replace(good, []byte("/Length "+itoa(len(j))+" >>"), []byte("/Length "+itoa(len(j)/3)+" >>"), 1)
	if bytes.Equal(cut, good) {
		t.Fatal("the fixture was not damaged")
	}
	p := openFixture(t, cut)
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "recognised")}, lector.PDFTextSkip)
	if err != nil {
		t.Fatal(err)
	}
	if how != PDFRepaired {
		t.Errorf("pdf_output %q, want %q", how, PDFRepaired)
	}
	bottom := func(path string) int { // the mean gray of the page's bottom quarter
		pgm, err := exec.Command("pdftoppm", "-r", "10", "-gray", path).Output() // stderr: poppler's warning
		if err != nil {
			t.Fatal(err)
		}
		// P5\nW H\n255\n then W×H bytes.
		var wd, ht int
		hdr := bytes.SplitN(pgm, []byte("\n"), 4)
		if _, err := fmt.Sscan(string(hdr[1]), &wd, &ht); err != nil || len(hdr[3]) < wd*ht {
			t.Fatalf("pdftoppm wrote %q", hdr[:3])
		}
		sum, n := 0, 0
		for _, v := range hdr[3][wd*ht*3/4 : wd*ht] {
			sum += int(v)
			n++
		}
		return sum / n
	}
	in, got := bottom(save(t, "in.pdf", cut)), bottom(save(t, "out.pdf", out))
	if in > 100 {
		t.Fatalf("poppler does not draw the input's dark half (mean %d): the fixture is wrong", in)
	}
	if got > in+30 {
		t.Fatalf("the output's bottom quarter is %d gray, the input's %d: the image was cut", got, in)
	}
}

// redo writes the file whole: the earlier layer's words are nowhere in it,
// not even in an earlier revision under an update (they were recoverable
// there, and the file grew at each redo), and redoing again does not grow it.
func TestRedoLeavesNoEarlierLayerInTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.GrayJPEG(64, 64), JW: 64, JH: 64}})
	p := openFixture(t, in)
	w, h := p.PageSize(0)
	first, _, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "Zyzzogeton")}, lector.PDFTextSkip)
	if err != nil {
		t.Fatal(err)
	}
	again := openFixture(t, first)
	second, _, err := again.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "Quokka")}, lector.PDFTextRedo)
	if err != nil {
		t.Fatal(err)
	}
	third, _, err := openFixture(t, second).SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "Quokka")}, lector.PDFTextRedo)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"redo": second, "second redo": third} {
		path := save(t, "out.pdf", out)
		if txt := poppler(t, "pdftotext", path, "-"); !strings.Contains(txt, "Quokka") || strings.Contains(txt, "Zyzzogeton") {
			t.Fatalf("%s: text %q", name, txt)
		}
		// Every stream decompressed, every revision: the words are drawn
		// as hex UTF-16 (TextLayer), <005A0079…> for "Zy…".
		qdf := filepath.Join(t.TempDir(), "qdf.pdf")
		if msg, err := exec.Command("qpdf", "--qdf", "--object-streams=disable", path, qdf).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --qdf: %v\n%s", err, msg)
		}
		raw, err := os.ReadFile(qdf)
		if err != nil {
			t.Fatal(err)
		}
		old := []byte("005A0079007A007A006F006700650074006F006E")
		if bytes.Contains(raw, old) {
			t.Errorf("%s: the earlier layer's words are still in the file", name)
		}
		if bytes.Count(out, []byte("startxref")) != 1 {
			t.Errorf("%s: %d revisions, want the file written whole", name, bytes.Count(out, []byte("startxref")))
		}
	}
	if len(third) > len(second)+len(second)/50 {
		t.Errorf("a second redo grew the file from %d to %d bytes", len(second), len(third))
	}
}

// A PDF with bytes before its header (a mail header, within the first
// 1024 bytes, which poppler and qpdf accept) is read as a PDF — it was
// refused as unsupported_media_type — and its searchable PDF starts at
// the header; past 1024 bytes it is not a PDF.
func TestBytesBeforeThePDFHeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pdf := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(64, 64), JW: 64, JH: 64, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Printed")}}})
	junk := []byte("From: scanner@example.org\r\nSubject: scan\r\nContent-Type: application/pdf\r\n\r\n")
	p := openFixture(t, append(bytes.Clone(junk), pdf...))
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "recognised")}, lector.PDFTextSkip)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%q)", err, how)
	}
	if !bytes.HasPrefix(out, []byte("%PDF-")) {
		t.Fatalf("the output starts %q", out[:20])
	}
	if txt := poppler(t, "pdftotext", save(t, "out.pdf", out), "-"); !strings.Contains(txt, "Printed") || !strings.Contains(txt, "recognised") {
		t.Fatalf("text %q", txt)
	}
	_, err = Open(ctx, append(bytes.Repeat([]byte{' '}, 1100), pdf...), Limits{}, t.TempDir())
	if errcode.Of(err) != errcode.UnsupportedMediaType {
		t.Fatalf("a header past 1024 bytes: %v, want unsupported_media_type", err)
	}
}

// force on a page whose own text extracts as garbage (a broken ToUnicode
// map: drawn right, searchable as nothing) gives it the OCR layer over
// its own text: the input came back unchanged, still unsearchable. A page
// whose text reads right, beside it, gets none.
func TestForceLayersAPageWhoseOwnTextIsGarbage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := pdftest.Build([]pdftest.Page{
		{MediaBox: pdftest.Letter, BrokenToUnicode: true, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Born digital words")}},
	})
	p := openFixture(t, in)
	if txt := poppler(t, "pdftotext", save(t, "in.pdf", in), "-"); strings.Contains(txt, "Born") {
		t.Fatalf("the fixture's text reads right: %q", txt)
	}
	w, h := p.PageSize(0)
	out, _, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "Born digital words")}, lector.PDFTextForce)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(poppler(t, "pdftotext", save(t, "out.pdf", out), "-")), " "); !strings.Contains(got, "Born digital words") {
		t.Fatalf("text %q: force left the page unsearchable", got)
	}
}

// A damaged PDF (qpdf warns: here a trailer /Size too small, as pdfunite
// writes) none of whose pages gets a layer — force on born-digital pages —
// comes back as it is, not repaired.
func TestDamagedInputWithoutLayersIsReturnedAsItIs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Born digital words")}}})
	damaged := regexp.MustCompile(`/Size \d+`).ReplaceAll(good, []byte("/Size 2"))
	p := openFixture(t, damaged)
	if p.sound(ctx) {
		t.Fatal("a wrong /Size read as sound")
	}
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "Born digital words")}, lector.PDFTextForce)
	if err != nil || how != PDFOriginal || !bytes.Equal(out, damaged) {
		t.Fatalf("%v (%q), output equal to the input: %v", err, how, bytes.Equal(out, damaged))
	}
}
