package document

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xtiff "golang.org/x/image/tiff"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/result"
)

// grayTIFF is a little-endian TIFF of uncompressed 8-bit gray pages, each
// w×h pixels with, where res[i] is not zero, XResolution/YResolution
// res[i] per unit[i] (2 inch, 3 centimetre).
func grayTIFF(w, h int, res []float64, unit []int) []byte {
	le := binary.LittleEndian
	out := []byte{'I', 'I', 42, 0, 0, 0, 0, 0}
	next := 4 // where the offset of the next page's directory goes
	for i := range res {
		pix := len(out)
		for y := range h {
			for x := range w {
				out = append(out, byte(200+(x+y)%50))
			}
		}
		rat := len(out)
		out = le.AppendUint32(out, uint32(res[i]*100))
		out = le.AppendUint32(out, 100)
		if len(out)%2 == 1 {
			out = append(out, 0)
		}
		type entry struct{ tag, typ, v int }
		es := []entry{{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1}, {273, 4, pix}, {277, 3, 1}, {278, 4, h}, {279, 4, w * h}}
		if res[i] != 0 {
			es = append(es, entry{282, 5, rat}, entry{283, 5, rat}, entry{296, 3, unit[i]})
		}
		le.PutUint32(out[next:], uint32(len(out)))
		out = le.AppendUint16(out, uint16(len(es)))
		for _, e := range es {
			out = le.AppendUint16(out, uint16(e.tag))
			out = le.AppendUint16(out, uint16(e.typ))
			out = le.AppendUint32(out, 1)
			if e.typ == 3 {
				out = le.AppendUint16(out, uint16(e.v))
				out = le.AppendUint16(out, 0)
			} else {
				out = le.AppendUint32(out, uint32(e.v))
			}
		}
		next = len(out)
		out = le.AppendUint32(out, 0)
	}
	return out
}

// A TIFF's pages are as large in the PDF as their resolution tags say.
func TestTIFFPagesSizedFromTheirResolution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := grayTIFF(300, 450, []float64{150, 0, 59.055}, []int{2, 0, 3})
	doc, err := Open(ctx, data, Limits{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	pages := []*result.Page{ocrPage(300, 450, "one"), ocrPage(300, 450, "two"), ocrPage(300, 450, "three")}
	out, _, err := doc.(*TIFF).SearchablePDF(ctx, pages, lector.PDFTextSkip)
	if err != nil {
		t.Fatal(err)
	}
	info := poppler(t, "pdfinfo", "-f", "1", "-l", "3", save(t, "out.pdf", out))
	for _, want := range []string{"Page    1 size:  144 x 216 pts", "Page    2 size:  72 x 108 pts", "Page    3 size:  144 x 216 pts"} {
		if !strings.Contains(info, want) {
			t.Errorf("want %q (150 dpi; none: 300; 59.055/cm: 150) in:\n%s", want, info)
		}
	}
}

// A G4 TIFF goes into the searchable PDF in its own coding (pdfimages:
// ccitt, its size and resolution), one image a page, its pixels exactly
// the TIFF's: a single strip as it is, whatever its FillOrder, and a TIFF
// of many strips a page (tiffcp's default) re-coded as one, and so is a
// Group 3 fax (the PDF library's TIFF decoder failed on 2-D G3: the
// searchable PDF was not written and the task failed).
func TestG4TIFFStaysCCITT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	page := pdftest.Build([]pdftest.Page{{MediaBox: [4]float64{0, 0, 300, 200}, Text: []pdftest.Text{
		pdftest.At(20, 150, 18, "Group 4 fax page"), pdftest.At(20, 100, 12, "strips and fill order")}}})
	pdf := filepath.Join(dir, "page.pdf")
	if err := os.WriteFile(pdf, page, 0o600); err != nil {
		t.Fatal(err)
	}
	poppler(t, "pdftoppm", "-r", "200", "-mono", "-tiff", "-singlefile", pdf, filepath.Join(dir, "mono"))
	raw := filepath.Join(dir, "mono.tif")
	ref, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	want, err := xtiff.Decode(bytes.NewReader(ref))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		args        []string
		whiteIsZero bool
	}{
		{"single strip", []string{"-c", "g4", "-r", "1000000"}, false},
		{"single strip, WhiteIsZero", []string{"-c", "g4", "-r", "1000000"}, true},
		{"single strip, FillOrder 2", []string{"-c", "g4", "-r", "1000000", "-f", "lsb2msb"}, false},
		{"many strips", []string{"-c", "g4", "-r", "16"}, false},
		{"Group 3 2-D", []string{"-c", "g3:2d"}, false},
		{"Group 3 1-D", []string{"-c", "g3:1d", "-r", "1000000"}, false},
	} {
		in := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".tif")
		poppler(t, "tiffcp", append(append(c.args, raw), in)...)
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		want := want
		if c.whiteIsZero { // the same code read the other way round: BlackIs1 false
			data = withPhotometric(t, data, 0)
			if want, err = xtiff.Decode(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		// The engines' decoder reads it as it shows, BlackIsZero too
		// (the TIFF decoder alone gave that one negative).
		// Group 3 2-D it cannot decode: a page to be resampled is then
		// re-coded by tiffcp first (TIFF.Page, below).
		if dec, err := engine.DecodeTIFFPage(data, 1); c.name != "Group 3 2-D" && (err != nil || dec.Bounds() != want.Bounds()) {
			t.Fatalf("%s: DecodeTIFFPage %v %v", c.name, dec, err)
		} else if err == nil {
			if n := differing(dec, want); n != 0 {
				t.Errorf("%s: DecodeTIFFPage: %d pixels differ from the page", c.name, n)
			}
		}
		// At 200 × 100 dpi the page goes to the engine resampled to
		// 200 × 200, twice as many rows, the same ink (two cases: the
		// resampling is slow under the race detector).
		if c.name != "single strip" && c.name != "Group 3 2-D" {
			// not resampled here
		} else if fax, err := Open(ctx, withYResolution(t, data, 100), Limits{}, t.TempDir()); err != nil {
			t.Fatalf("%s at 200 x 100 dpi: %v", c.name, err)
		} else if im, err := fax.Page(ctx, 0, t.TempDir()); err != nil || im.Format != "pgm" || im.Height != 2*want.Bounds().Dy() {
			t.Fatalf("%s at 200 x 100 dpi: page %d×%d %s, %v", c.name, im.Width, im.Height, im.Format, err)
		} else if dec, _, err := image.Decode(bytes.NewReader(im.Data)); err != nil {
			t.Fatal(err)
		} else if n := differing(dec, stretched(want)); n > want.Bounds().Dx()*want.Bounds().Dy()/50 {
			t.Errorf("%s at 200 x 100 dpi: %d pixels of the resampled page differ from the page's rows doubled", c.name, n)
		}
		doc, err := Open(ctx, data, Limits{}, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		w, h := doc.PageSize(0)
		out, _, err := doc.(*TIFF).SearchablePDF(ctx, []*result.Page{ocrPage(w, h, "fax")}, lector.PDFTextSkip)
		doc.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		outPath := save(t, "out.pdf", out)
		rows := imageRows(t, outPath)
		if len(rows) != 1 || !strings.Contains(rows[0], fmt.Sprintf("image %d %d gray 1 1 ccitt", w, h)) || !strings.HasSuffix(rows[0], "200 200") {
			t.Fatalf("%s: images\n%s", c.name, strings.Join(rows, "\n"))
		}
		if len(out) > len(data)+8<<10 {
			t.Errorf("%s: output %d bytes for a %d-byte TIFF", c.name, len(out), len(data))
		}
		px := filepath.Join(t.TempDir(), "px")
		poppler(t, "pdfimages", "-png", outPath, px)
		f, err := os.ReadFile(px + "-000.png")
		if err != nil {
			t.Fatal(err)
		}
		got, err := png.Decode(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		if got.Bounds() != want.Bounds() {
			t.Fatalf("%s: %v, want %v", c.name, got.Bounds(), want.Bounds())
		}
		diff := 0
		for y := range h {
			for x := range w {
				g, _, _, _ := got.At(x, y).RGBA()
				v, _, _, _ := want.At(x, y).RGBA()
				if (g > 0x7fff) != (v > 0x7fff) {
					diff++
				}
			}
		}
		if diff != 0 {
			t.Errorf("%s: %d pixels differ from the TIFF's", c.name, diff)
		}
		if txt := poppler(t, "pdftotext", outPath, "-"); !strings.Contains(txt, "fax") {
			t.Errorf("%s: text %q", c.name, txt)
		}
	}
}

// withPhotometric returns a little-endian TIFF with its first page's
// PhotometricInterpretation (tag 262, a SHORT) set to v.
func withPhotometric(t *testing.T, data []byte, v uint16) []byte {
	t.Helper()
	le := binary.LittleEndian
	if string(data[:2]) != "II" {
		t.Fatal("not a little-endian TIFF")
	}
	out := bytes.Clone(data)
	off := int(le.Uint32(out[4:]))
	for e := range int(le.Uint16(out[off:])) {
		p := off + 2 + 12*e
		if le.Uint16(out[p:]) == 262 {
			le.PutUint16(out[p+8:], v)
			return out
		}
	}
	t.Fatal("no PhotometricInterpretation")
	return nil
}

// differing counts the pixels of a and b (same bounds) on the other side of
// mid-gray.
func differing(a, b image.Image) int {
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			g, _, _, _ := a.At(x, y).RGBA()
			v, _, _, _ := b.At(x, y).RGBA()
			if (g > 0x7fff) != (v > 0x7fff) {
				n++
			}
		}
	}
	return n
}

// stretched is img with each row twice.
func stretched(img image.Image) image.Image {
	r := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, r.Dx(), 2*r.Dy()))
	for y := range 2 * r.Dy() {
		for x := range r.Dx() {
			out.Set(x, y, img.At(r.Min.X+x, r.Min.Y+y/2))
		}
	}
	return out
}
