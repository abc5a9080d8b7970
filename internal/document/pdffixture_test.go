package document

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os/exec"
	"strings"
	"testing"
)

// fixturePage is one page of a PDF written by fixturePDF.
type fixturePage struct {
	W, H    float64     // MediaBox
	CropBox *[4]float64 // optional
	Text    []fixtureText
	// JPEG, when set, is drawn over the whole MediaBox first (a scan).
	JPEG []byte
	JW   int
	JH   int
}

type fixtureText struct {
	X, Y, Size float64
	S          string
}

// fixturePDF writes a small PDF by hand (offsets computed here): text in
// Helvetica, an optional JPEG covering the page.
func fixturePDF(pages []fixturePage) []byte {
	var objs []string
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	add("<< /Type /Catalog /Pages 2 0 R >>")
	add("")
	font := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	var kids []string
	for _, p := range pages {
		var c strings.Builder
		res := ""
		if len(p.Text) > 0 {
			res = fmt.Sprintf("/Font << /F1 %d 0 R >>", font)
		}
		if p.JPEG != nil {
			im := add(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream",
				p.JW, p.JH, len(p.JPEG), p.JPEG))
			res += fmt.Sprintf(" /XObject << /Im0 %d 0 R >>", im)
			fmt.Fprintf(&c, "q %g 0 0 %g 0 0 cm /Im0 Do Q\n", p.W, p.H)
		}
		for _, t := range p.Text {
			fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td (%s) Tj ET\n", t.Size, t.X, t.Y, t.S)
		}
		content := add(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
		extra := ""
		if p.CropBox != nil {
			extra = fmt.Sprintf(" /CropBox [%g %g %g %g]", p.CropBox[0], p.CropBox[1], p.CropBox[2], p.CropBox[3])
		}
		page := add(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g]%s /Resources << %s >> /Contents %d 0 R >>", p.W, p.H, extra, res, content))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids))
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info << /Title (Lector fixture) >> >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// grayJPEG is a w×h gray JPEG with some structure (a scan stand-in).
func grayJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8(200 + (x*7+y*3)%50)})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// poppler runs a poppler-utils or qpdf tool (installed by make setup from
// APT_PACKAGES); a missing tool fails the test.
func poppler(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func itoa(i int) string { return fmt.Sprint(i) }
