package document

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"golang.org/x/image/draw"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// squareTolerance is how far apart a page's horizontal and vertical
// resolutions may be and still be read as square pixels: headers round
// (a pHYs of 11811 pixels a metre is 299.9994 dpi), and a 2 % stretch does
// not change what an engine reads.
const squareTolerance = 0.02

// squareScale is how much a page of xdpi × ydpi must be stretched on each
// axis (its stored axes) to have square pixels at the higher of the two
// resolutions: fx, fy ≥ 1, ok false when it needs none (both equal within
// squareTolerance, or either unknown — one missing is taken as the other,
// as the searchable PDF sizes the page). A fax's 204 × 98 dpi is (1, 2.08).
func squareScale(xdpi, ydpi int) (fx, fy float64, ok bool) {
	if xdpi <= 0 || ydpi <= 0 {
		return 1, 1, false
	}
	hi := max(xdpi, ydpi)
	if float64(hi-min(xdpi, ydpi)) <= squareTolerance*float64(hi) {
		return 1, 1, false
	}
	return float64(hi) / float64(xdpi), float64(hi) / float64(ydpi), true
}

// squareSize is a stored w × h page's size once stretched by fx, fy.
func squareSize(w, h int, fx, fy float64) (int, int) {
	return max(1, int(math.Round(float64(w)*fx))), max(1, int(math.Round(float64(h)*fy)))
}

// squarePixels decodes a page whose pixels are not square (data: the
// encoded image, or the whole TIFF with tiffPage its 1-based page) and
// resamples it to w × h (stored orientation) with a Catmull-Rom cubic
// (golang.org/x/image/draw's CatmullRom: the bicubic filter of image
// tools, sharp on text edges without a Lanczos filter's ringing). A
// bilevel or gray page comes back as 8-bit gray PGM (it costs nothing to
// write or read, as rendered PDF pages are), a colour one as RGB PNG.
// TIFF pages are decoded by engine.DecodeTIFFPage (a BlackIsZero CCITT
// page as it shows). Errors are invalid_document.
func squarePixels(data []byte, tiffPage, w, h int) ([]byte, string, error) {
	var src image.Image
	var err error
	if tiffPage > 0 {
		src, err = engine.DecodeTIFFPage(data, tiffPage)
	} else {
		src, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, "", errcode.Wrap(errcode.InvalidDocument, err, "decoding the page to resample it to square pixels")
	}
	if gray := asGray(src); gray != nil {
		dst := image.NewGray(image.Rect(0, 0, w, h))
		draw.CatmullRom.Scale(dst, dst.Rect, gray, gray.Rect, draw.Src, nil)
		var buf bytes.Buffer
		buf.Grow(len(dst.Pix) + 32)
		fmt.Fprintf(&buf, "P5\n%d %d\n255\n", w, h)
		buf.Write(dst.Pix)
		return buf.Bytes(), "pgm", nil
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "png", nil
}

// asGray is src as 8-bit gray when it has no colour (a gray image, or a
// palette of grays: a bilevel scan), else nil.
func asGray(src image.Image) *image.Gray {
	switch s := src.(type) {
	case *image.Gray:
		return s
	case *image.Gray16:
	case *image.Paletted:
		for _, c := range s.Palette {
			r, g, b, _ := c.RGBA()
			if r != g || g != b {
				return nil
			}
		}
	default:
		return nil
	}
	b := src.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if p, ok := src.(*image.Paletted); ok { // a look-up a pixel: a fax page is millions
		var lut [256]uint8
		for i, c := range p.Palette {
			lut[i] = color.GrayModel.Convert(c).(color.Gray).Y
		}
		for y := range b.Dy() {
			row := p.Pix[y*p.Stride : y*p.Stride+b.Dx()]
			for x, v := range row {
				g.Pix[y*g.Stride+x] = lut[v]
			}
		}
		return g
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Pix[(y-b.Min.Y)*g.Stride+x-b.Min.X] = color.GrayModel.Convert(src.At(x, y)).(color.Gray).Y
		}
	}
	return g
}
