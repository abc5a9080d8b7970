package document

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/lector-ocr/lector"
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
