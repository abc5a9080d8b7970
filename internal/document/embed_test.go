package document

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// imageList is pdfimages -list's rows as fields (page, num, type, width,
// height, color, comp, bpc, enc, interp, ...).
func imageList(t *testing.T, path string) [][]string {
	t.Helper()
	var out [][]string
	for _, row := range imageRows(t, path) {
		out = append(out, strings.Fields(row))
	}
	return out
}

// A multi-page TIFF's pages each go in in their own coding: a Group 3 fax
// page and a Group 4 page cut in strips as CCITT (1 bit, re-coded as G4
// by libtiff without loss), an uncompressed gray page as 8-bit Flate, a
// JPEG page as its JPEG (DCT) — the fax page had gone in as 8-bit Flate
// beside a page of another coding — and pdf_output says original. The
// fax page's pixels are the TIFF's.
func TestMixedTIFFKeepsEachPagesCoding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	pdf := save(t, "page.pdf", pdftest.Build([]pdftest.Page{{MediaBox: [4]float64{0, 0, 86.4, 57.6}, Text: []pdftest.Text{pdftest.At(10, 30, 12, "fax")}}}))
	poppler(t, "pdftoppm", "-r", "100", "-mono", "-tiff", "-singlefile", pdf, filepath.Join(dir, "mono"))
	mono := filepath.Join(dir, "mono.tif")
	g3, g4, gray, jpg := filepath.Join(dir, "g3.tif"), filepath.Join(dir, "g4.tif"), filepath.Join(dir, "gray.tif"), filepath.Join(dir, "jpg.tif")
	poppler(t, "tiffcp", "-c", "g3:2d", mono, g3)
	poppler(t, "tiffcp", "-c", "g4", "-r", "16", mono, g4)
	if err := os.WriteFile(gray, grayTIFF(120, 80, []float64{100}, []int{2}), 0o600); err != nil {
		t.Fatal(err)
	}
	poppler(t, "tiffcp", "-c", "jpeg", "-r", "80", gray, jpg)
	in := filepath.Join(dir, "mixed.tif")
	poppler(t, "tiffcp", g3, gray, jpg, g4, in)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Open(ctx, data, Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	if doc.NumPages() != 4 {
		t.Fatalf("%d pages", doc.NumPages())
	}
	var pages []*result.Page
	for i, word := range []string{"faxpage", "graypage", "jpegpage", "stripspage"} {
		w, h := doc.PageSize(i)
		pages = append(pages, ocrPage(w, h, word))
	}
	out, how, err := doc.(*TIFF).SearchablePDF(ctx, pages, lector.PDFTextSkip)
	if err != nil {
		t.Fatal(err)
	}
	if how != PDFOriginal {
		t.Errorf("pdf_output %q, want %q", how, PDFOriginal)
	}
	path := save(t, "out.pdf", out)
	rows := imageList(t, path)
	want := [][2]string{{"1", "ccitt"}, {"8", "image"}, {"8", "jpeg"}, {"1", "ccitt"}} // bpc, enc
	if len(rows) != len(want) {
		t.Fatalf("%d images: %v", len(rows), rows)
	}
	for i, r := range rows {
		if r[7] != want[i][0] || r[8] != want[i][1] || r[9] != "no" {
			t.Errorf("page %d: %v, want %s bpc %s, interp no", i+1, r, want[i][0], want[i][1])
		}
	}
	if txt := poppler(t, "pdftotext", path, "-"); !strings.Contains(txt, "faxpage") || !strings.Contains(txt, "jpegpage") {
		t.Errorf("text %q", txt)
	}
	poppler(t, "pdfimages", "-png", "-f", "1", "-l", "1", path, filepath.Join(dir, "im"))
	got, want1 := decodeFile(t, filepath.Join(dir, "im-000.png")), decodeMono(t, mono)
	if got.Bounds() != want1.Bounds() || differing(got, want1) != 0 {
		t.Errorf("the fax page's pixels changed (%v, %v; %d differ)", got.Bounds(), want1.Bounds(), differing(got, want1))
	}
}

func decodeFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func decodeMono(t *testing.T, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := engine.DecodeTIFFPage(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// A TIFF page whose JPEG PDF cannot take as it is (in tiles: one JPEG
// stream a tile) goes in decoded, as Flate, and pdf_output says recoded.
func TestTIFFPageDecodedIsRecoded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	gray, tiled := filepath.Join(dir, "gray.tif"), filepath.Join(dir, "tiled.tif")
	if err := os.WriteFile(gray, grayTIFF(64, 64, []float64{100}, []int{2}), 0o600); err != nil {
		t.Fatal(err)
	}
	poppler(t, "tiffcp", "-c", "jpeg", "-t", "-w", "32", "-l", "32", gray, tiled)
	data, err := os.ReadFile(tiled)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Open(ctx, data, Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	out, how, err := doc.(*TIFF).SearchablePDF(ctx, []*result.Page{ocrPage(64, 64, "tiles")}, lector.PDFTextSkip)
	if err != nil {
		t.Fatal(err)
	}
	if how != PDFRecoded {
		t.Errorf("pdf_output %q, want %q", how, PDFRecoded)
	}
	if rows := imageList(t, save(t, "out.pdf", out)); len(rows) != 1 || rows[0][8] != "image" || rows[0][7] != "8" {
		t.Errorf("images %v", rows)
	}
}

// bilevelPNG is a w × h 1-bit grayscale PNG (colour type 0, depth 1) of
// black bars on white, as scanners write bilevel pages.
func bilevelPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	stride := (w + 7) / 8
	var raw bytes.Buffer
	for y := range h {
		raw.WriteByte(0) // filter: none
		row := make([]byte, stride)
		for x := range w {
			if (x/8+y/8)%2 == 0 || y%16 != 0 { // white but for some black bits
				row[x/8] |= 0x80 >> (x % 8)
			}
		}
		raw.Write(row)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	chunk := func(b *bytes.Buffer, typ string, body []byte) {
		binary.Write(b, binary.BigEndian, uint32(len(body)))
		b.WriteString(typ)
		b.Write(body)
		binary.Write(b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 1, 0, 0, 0, 0)
	chunk(&out, "IHDR", ihdr)
	chunk(&out, "IDAT", z.Bytes())
	chunk(&out, "IEND", nil)
	return out.Bytes()
}

// Image inputs go in at their own depth and coding, never marked
// /Interpolate: a 1-bit PNG stays 1-bit (its data as it is, Flate with
// PNG's predictors), a GIF's palette as an Indexed image of its palette's
// bits (it had been 8-bit RGB), and the pixels shown are the file's.
func TestImagesKeepTheirDepthAndAreNotInterpolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pal := image.NewPaletted(image.Rect(0, 0, 90, 60), color.Palette{color.White, color.Black, color.RGBA{200, 0, 0, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	var g bytes.Buffer
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	var gp bytes.Buffer
	grayImg := image.NewGray(image.Rect(0, 0, 90, 60))
	for i := range grayImg.Pix {
		grayImg.Pix[i] = uint8(i)
	}
	if err := png.Encode(&gp, grayImg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		color string
		bpc   string
	}{
		{"1-bit png", bilevelPNG(t, 200, 100), "gray", "1"},
		{"gif", g.Bytes(), "index", "2"},
		{"8-bit gray png", gp.Bytes(), "gray", "8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := Open(ctx, c.data, Limits{}, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer doc.Close()
			w, h := doc.PageSize(0)
			out, how, err := doc.(*Image).SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "word")}, lector.PDFTextSkip)
			if err != nil || how != PDFOriginal {
				t.Fatalf("%v (%s)", err, how)
			}
			path := save(t, "out.pdf", out)
			rows := imageList(t, path)
			if len(rows) != 1 || rows[0][5] != c.color || rows[0][7] != c.bpc || rows[0][9] != "no" {
				t.Fatalf("images %v, want %s at %s bpc, interp no", rows, c.color, c.bpc)
			}
			dir := t.TempDir()
			poppler(t, "pdfimages", "-png", path, filepath.Join(dir, "im"))
			got := decodeFile(t, filepath.Join(dir, "im-000.png"))
			want, _, err := image.Decode(bytes.NewReader(c.data))
			if err != nil {
				t.Fatal(err)
			}
			if n := pixelsDiffer(got, want); n != 0 {
				t.Fatalf("%d pixels differ from the file's", n)
			}
		})
	}
}

// pixelsDiffer counts the pixels of a and b (same size) whose colours
// differ by more than 1 in 255 in a channel.
func pixelsDiffer(a, b image.Image) int { return pixelsDifferBy(a, b, 1) }

// pixelsDifferBy counts the pixels of a and b (same size) whose colours
// differ by more than tol in 255 in a channel.
func pixelsDifferBy(a, b image.Image, tol int) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	ra, rb := a.Bounds(), b.Bounds()
	for y := range ra.Dy() {
		for x := range ra.Dx() {
			r1, g1, b1, _ := a.At(ra.Min.X+x, ra.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(rb.Min.X+x, rb.Min.Y+y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				if d > tol || d < -tol {
					n++
					break
				}
			}
		}
	}
	return n
}

// arithmeticJPEG is a 120 × 80 gray-gradient JPEG and the same JPEG
// losslessly transcoded to arithmetic coding by libjpeg's jpegtran.
func arithmeticJPEG(t *testing.T) (baseline, arith []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 80))
	for y := range 80 {
		for x := range 120 {
			img.Set(x, y, color.RGBA{uint8(2 * x), uint8(3 * y), 128, 255})
		}
	}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	in := save(t, "base.jpg", j.Bytes())
	out, err := exec.Command("jpegtran", "-arithmetic", in).Output()
	if err != nil {
		t.Fatalf("jpegtran -arithmetic (libjpeg-turbo-progs): %v", err)
	}
	return j.Bytes(), out
}

// An arithmetic-coded JPEG (valid, but not read by Go's decoder) is
// transcoded to Huffman coding by libjpeg's jpegtran, without loss: its
// page is the file's pixels, and the PDF holds it as a JPEG (pdf_output
// recoded: not the file's own coding; PDF's DCTDecode is baseline and
// progressive JPEG). It had been invalid_document, "the jpeg header is
// unreadable".
func TestArithmeticJPEGIsRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, arith := arithmeticJPEG(t)
	if _, _, err := image.DecodeConfig(bytes.NewReader(arith)); err == nil {
		t.Fatal("Go's decoder reads the arithmetic-coded fixture: it tests nothing")
	}
	doc, err := Open(ctx, arith, Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	if w, h := doc.PageSize(0); w != 120 || h != 80 {
		t.Fatalf("page %d×%d", w, h)
	}
	page, err := doc.Page(ctx, 0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := image.Decode(bytes.NewReader(page.Data))
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := image.Decode(bytes.NewReader(base))
	if n := pixelsDiffer(got, want); n != 0 {
		t.Fatalf("%d pixels differ from the baseline JPEG's", n)
	}
	out, how, err := doc.(*Image).SearchablePDF(ctx, []*result.Page{ocrPage(120, 80, "arith")}, lector.PDFTextSkip)
	if err != nil || how != PDFRecoded {
		t.Fatalf("%v (%s, want %s)", err, how, PDFRecoded)
	}
	if rows := imageList(t, save(t, "out.pdf", out)); len(rows) != 1 || rows[0][8] != "jpeg" || rows[0][3] != "120" {
		t.Fatalf("images %v", rows)
	}
}

// Without jpegtran an arithmetic-coded JPEG is unsupported_media_type, and
// the message names arithmetic coding.
func TestArithmeticJPEGWithoutJpegtran(t *testing.T) {
	_, arith := arithmeticJPEG(t)
	t.Setenv("PATH", t.TempDir())
	_, err := Open(context.Background(), arith, Limits{}, t.TempDir())
	if errcode.Of(err) != errcode.UnsupportedMediaType || !strings.Contains(err.Error(), "arithmetic") {
		t.Fatalf("err = %v", err)
	}
}

// A JPEG-in-TIFF page cut in strips of 16 rows (what PIL and scanners
// write), gray and RGB (libtiff codes it YCbCr, chroma halved each way: a
// 16-row MCU), goes in as one JPEG (DCT) whose strips are joined by
// restart markers, not decoded to Flate: pdf_output says original, and
// the pixels are those libtiff decodes from the TIFF (within the JPEG
// decoders' rounding).
func TestTIFFJPEGStripsAreJoinedNotDecoded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	var lines []pdftest.Text
	for i := range 8 {
		lines = append(lines, pdftest.At(6, float64(110-13*i), 11, "strips Il1O0 joined"))
	}
	pdf := save(t, "page.pdf", pdftest.Build([]pdftest.Page{{MediaBox: [4]float64{0, 0, 130, 120}, Text: lines}}))
	for _, color := range []string{"-gray", "-r"} {
		args := []string{"-r", "150", "-tiff", "-singlefile", pdf, filepath.Join(dir, "src")}
		if color == "-gray" {
			args = append([]string{"-gray"}, args...)
		}
		poppler(t, "pdftoppm", args...)
		src, in, plain := filepath.Join(dir, "src.tif"), filepath.Join(dir, "in.tif"), filepath.Join(dir, "plain.tif")
		poppler(t, "tiffcp", "-c", "jpeg", "-r", "16", src, in)
		poppler(t, "tiffcp", "-c", "none", in, plain) // libtiff's decoding of the strips
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Open(ctx, data, Limits{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer doc.Close()
		if g := doc.(*TIFF).g4[0]; g.strips < 10 || g.comp != 7 {
			t.Fatalf("%s: the fixture has %d strips, compression %d; want ≥ 10 JPEG strips", color, g.strips, g.comp)
		}
		w, h := doc.PageSize(0)
		out, how, err := doc.(*TIFF).SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "strips")}, lector.PDFTextSkip)
		if err != nil {
			t.Fatal(err)
		}
		if how != PDFOriginal {
			t.Errorf("%s: pdf_output %q, want %q", color, how, PDFOriginal)
		}
		path := save(t, "out.pdf", out)
		if rows := imageList(t, path); len(rows) != 1 || rows[0][8] != "jpeg" {
			t.Fatalf("%s: images %v, want one JPEG", color, rows)
		}
		poppler(t, "pdfimages", "-j", path, filepath.Join(dir, "im"))
		got, want := decodeFile(t, filepath.Join(dir, "im-000.jpg")), decodeMono(t, plain)
		if got.Bounds() != want.Bounds() {
			t.Fatalf("%s: the JPEG is %v, the TIFF %v", color, got.Bounds(), want.Bounds())
		}
		if d := maxDiff(got, want); d > 8 {
			t.Errorf("%s: the joined JPEG's pixels differ from libtiff's by up to %d levels, want ≤ 8", color, d)
		}
	}
}

// maxDiff is the largest difference of a and b (same bounds) in any
// channel, in 8-bit levels.
func maxDiff(a, b image.Image) int {
	m := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(ar>>8) - int(br>>8), int(ag>>8) - int(bg>>8), int(ab>>8) - int(bb>>8)} {
				m = max(m, d, -d)
			}
		}
	}
	return m
}

// Strips that do not cut the page at MCU rows (8 rows a strip of 16-row
// MCUs) cannot be joined by restarts: joinJPEGStrips declines them.
func TestJoinJPEGStripsNeedsWholeMCURows(t *testing.T) {
	t.Parallel()
	// One SOF0 with one component sampled 2×2 (a 16×16 MCU), 8 rows a
	// strip, then SOS and a byte of data.
	strip := func(rows byte) []byte {
		return []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, rows, 0, 16, 1, 1, 0x22, 0,
			0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xFF, 0xD9}
	}
	if j := joinJPEGStrips([][]byte{strip(8), strip(8)}, 16, 16, 8); j != nil {
		t.Fatalf("joined strips of half an MCU row: % x", j)
	}
	if j := joinJPEGStrips([][]byte{strip(16), strip(16)}, 16, 32, 16); j == nil {
		t.Fatal("declined strips of whole MCU rows")
	}
}

// joinJPEGStrips never panics, whatever the strips hold (its segment
// lengths and SOF fields are read from the file).
func FuzzJoinJPEGStrips(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x22, 0, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xFF, 0xD9}, 16, 32, 16)
	f.Fuzz(func(t *testing.T, s []byte, w, h, rows int) {
		joinJPEGStrips([][]byte{s, s}, w, h, rows)
		joinJPEGStrips([][]byte{s[:len(s)/2], s}, w, h, rows)
	})
}
