// Package pdftest writes small PDFs for tests, by hand (objects and their
// offsets computed here), so that tests need no fixture files: pages with
// Helvetica text placed in user space, page boxes, /Rotate, a JPEG
// drawn over the whole page (a scan), and ruling lines.
package pdftest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"
)

// Page is one page.
type Page struct {
	MediaBox [4]float64
	CropBox  *[4]float64 // optional
	Rotate   int         // 0, 90, 180, 270
	// TextTurn, when not zero, turns the text as for that /Rotate instead
	// of the page's own (a page drawn sideways: what a scanner stores);
	// 360 draws it unturned, so that a page with /Rotate shows it turned.
	TextTurn int
	// TextAngle turns the text a further number of degrees,
	// counter-clockwise (a skewed scan).
	TextAngle float64
	Text      []Text
	// Invisible draws the text in render mode 3 (as OCR layers are).
	Invisible bool
	// DirectFont writes the font as a direct dictionary inside the page's
	// resources instead of a reference to a shared font object (valid,
	// and common in files from some producers).
	DirectFont bool
	// JPEG, when set, is a gray JPEG of JW×JH pixels drawn over the whole
	// MediaBox before the text.
	JPEG   []byte
	JW, JH int
	// Rules are line segments (x0, y0, x1, y1 in user space) stroked in
	// black, 1 point wide, after the image: a ruled table's grid.
	Rules [][4]float64
	// BrokenToUnicode gives the shared font (every page's) a ToUnicode
	// CMap that maps each character to the one 13 places on (ROT13-like
	// over ASCII: "Born" extracts as "O|\x7f{"): drawn right, extracted
	// as garbage, as some producers' files are.
	BrokenToUnicode bool
}

// Text is a string at (X, Y) in user space, Size points high. It is drawn
// turned against the page's /Rotate, so that it reads upright as shown.
type Text struct {
	X, Y, Size float64
	S          string
	Invisible  bool // drawn in render mode 3 whatever the page's Invisible
}

// Letter is a US Letter MediaBox.
var Letter = [4]float64{0, 0, 612, 792}

// Build writes the PDF.
func Build(pages []Page) []byte { return BuildWithInfo(pages, "") }

// BuildWithInfo writes the PDF with info (a dictionary, "<< … >>") as its
// document information dictionary, an indirect object; "" writes a small
// direct one.
func BuildWithInfo(pages []Page, info string) []byte { return BuildWithMetadata(pages, info, "") }

// BuildWithMetadata writes the PDF with info as BuildWithInfo and, when
// xmp is not "", an XMP packet as the catalog's unfiltered /Metadata
// stream (as PDF/A has it).
func BuildWithMetadata(pages []Page, info, xmp string) []byte {
	var objs []string
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	add("<< /Type /Catalog /Pages 2 0 R >>")
	add("")
	font := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	turn := map[int][2]int{0: {1, 0}, 90: {0, 1}, 180: {-1, 0}, 270: {0, -1}, 360: {1, 0}}
	var kids []string
	for _, p := range pages {
		var c strings.Builder
		var res []string
		if len(p.Text) > 0 {
			if p.DirectFont {
				res = append(res, "/Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >>")
			} else {
				res = append(res, fmt.Sprintf("/Font << /F1 %d 0 R >>", font))
			}
		}
		if p.JPEG != nil {
			im := add(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream",
				p.JW, p.JH, len(p.JPEG), p.JPEG))
			res = append(res, fmt.Sprintf("/XObject << /Im0 %d 0 R >>", im))
			mb := p.MediaBox
			fmt.Fprintf(&c, "q %g 0 0 %g %g %g cm /Im0 Do Q\n", mb[2]-mb[0], mb[3]-mb[1], mb[0], mb[1])
		}
		for _, r := range p.Rules {
			fmt.Fprintf(&c, "q 0 G 1 w %g %g m %g %g l S Q\n", r[0], r[1], r[2], r[3])
		}
		tr := 0
		if p.Invisible {
			tr = 3
		}
		tt := p.Rotate
		if p.TextTurn != 0 {
			tt = p.TextTurn
		}
		a, b := float64(turn[tt][0]), float64(turn[tt][1])
		if p.TextAngle != 0 {
			r := p.TextAngle * math.Pi / 180
			a, b = a*math.Cos(r)-b*math.Sin(r), b*math.Cos(r)+a*math.Sin(r)
		}
		for _, t := range p.Text {
			m := tr
			if t.Invisible {
				m = 3
			}
			fmt.Fprintf(&c, "BT %d Tr /F1 %g Tf %.6f %.6f %.6f %.6f %g %g Tm (%s) Tj ET\n", m, t.Size, a, b, -b, a, t.X, t.Y, t.S)
		}
		content := add(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
		extra := ""
		if p.CropBox != nil {
			extra += fmt.Sprintf(" /CropBox [%g %g %g %g]", p.CropBox[0], p.CropBox[1], p.CropBox[2], p.CropBox[3])
		}
		if p.Rotate != 0 {
			extra += fmt.Sprintf(" /Rotate %d", p.Rotate)
		}
		mb := p.MediaBox
		page := add(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%g %g %g %g]%s /Resources << %s >> /Contents %d 0 R >>",
			mb[0], mb[1], mb[2], mb[3], extra, strings.Join(res, " "), content))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids))
	for _, p := range pages {
		if p.BrokenToUnicode {
			cmap := "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Broken def /CMapType 2 def\n" +
				"1 begincodespacerange <00> <FF> endcodespacerange\n1 beginbfrange <20> <7E> <002D> endbfrange\n" +
				"endcmap CMapName currentdict /CMap defineresource pop end end\n"
			tu := add(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(cmap), cmap))
			objs[font-1] = fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /ToUnicode %d 0 R >>", tu)
			break
		}
	}
	if xmp != "" {
		m := add(fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%s\nendstream", len(xmp), xmp))
		objs[0] = fmt.Sprintf("<< /Type /Catalog /Pages 2 0 R /Metadata %d 0 R >>", m)
	}
	infoRef := "<< /Title (Lector test) >>"
	if info != "" {
		infoRef = fmt.Sprintf("%d 0 R", add(info))
	}
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, infoRef, xref)
	return out.Bytes()
}

// GrayJPEG is a w×h gray JPEG with a faint pattern (a blank scan).
func GrayJPEG(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8(200 + (x*7+y*3)%50)})
		}
	}
	return EncodeJPEG(img)
}

// GradientJPEG is a w×h gray JPEG shading from near white at the top to a
// light grey at the bottom: a slide's or letterhead's background.
func GradientJPEG(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8(248 - 30*y/h)})
		}
	}
	return EncodeJPEG(img)
}

// ScanJPEG is a w×h gray JPEG of a scanned page of text: GrayJPEG's faint
// pattern with rows of dark glyph-sized marks (w/85 by w/53 pixels, a
// line every w/17 pixels down the middle eight tenths of the page) — ink
// that a text layer over it does not account for.
func ScanJPEG(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8(200 + (x*7+y*3)%50)})
		}
	}
	gw, gh, step := max(2, w/85), max(3, w/53), max(6, w/17)
	for y := h / 10; y+gh < h*9/10; y += step {
		for x := w / 10; x+gw < w*9/10; x += gw + gw/2 + 1 {
			for dy := range gh {
				for dx := range gw {
					img.SetGray(x+dx, y+dy, color.Gray{Y: 20})
				}
			}
		}
	}
	return EncodeJPEG(img)
}

// EncodeJPEG encodes img at quality 85.
func EncodeJPEG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// At is the Text s at (x, y), size points high.
func At(x, y, size float64, s string) Text { return Text{X: x, Y: y, Size: size, S: s} }
