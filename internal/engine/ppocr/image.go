package ppocr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders registered for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"math"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"github.com/lector-ocr/lector/internal/engine"
)

// bgr is an 8-bit image in OpenCV's channel order (blue, green, red), as
// PaddleOCR's models were trained on it (cv2.imread).
type bgr struct {
	W, H int
	Pix  []byte // 3 bytes a pixel, rows top to bottom
}

func newBGR(w, h int) *bgr { return &bgr{W: w, H: h, Pix: make([]byte, 3*w*h)} }

// decode reads an encoded image into BGR; transparency is flattened on
// white.
func decode(data []byte) (*bgr, error) { return decodePage(data, 1) }

// decodePage is decode of a TIFF's page (1-based; other formats have one).
// TIFFs are read by engine.DecodeTIFFPage (github.com/hhrutter/tiff,
// pdfcpu's maintained extension of golang.org/x/image/tiff: CCITT G3/G4,
// old-style JPEG and CMYK, which x/image/tiff does not read; a BlackIsZero
// fax page the right way round).
func decodePage(data []byte, page int) (*bgr, error) {
	if isTIFF(data) {
		src, err := engine.DecodeTIFFPage(data, page)
		if err != nil {
			return nil, err
		}
		return toBGR(src), nil
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return toBGR(src), nil
}

func isTIFF(data []byte) bool {
	return len(data) >= 4 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*")
}

func toBGR(src image.Image) *bgr {
	b := src.Bounds()
	out := newBGR(b.Dx(), b.Dy())
	i := 0
	switch s := src.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[(y-b.Min.Y)*s.Stride:]
			for x := 0; x < out.W; x++ {
				v := row[x]
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
				i += 3
			}
		}
	case *image.RGBA: // premultiplied: over white adds 255-a
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[(y-b.Min.Y)*s.Stride:]
			for x := 0; x < out.W; x++ {
				p := row[4*x : 4*x+4]
				w := 255 - p[3]
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = p[2]+w, p[1]+w, p[0]+w
				i += 3
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[(y-b.Min.Y)*s.Stride:]
			for x := 0; x < out.W; x++ {
				p := row[4*x : 4*x+4]
				a := uint32(p[3])
				f := func(c byte) byte { return byte((uint32(c)*a + 255*(255-a) + 127) / 255) }
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = f(p[2]), f(p[1]), f(p[0])
				i += 3
			}
		}
	case *image.YCbCr: // JPEG: the same conversion as At's, without an interface value per pixel
		if upsampleChroma(s, out) {
			return out
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := s.YOffset(x, y), s.COffset(x, y)
				r, g, bl, _ := color.YCbCr{Y: s.Y[yi], Cb: s.Cb[ci], Cr: s.Cr[ci]}.RGBA()
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = byte(bl>>8), byte(g>>8), byte(r>>8)
				i += 3
			}
		}
	case *image.Paletted: // GIF, palette PNG: each colour converted once
		var lut [256][3]byte
		for k, c := range s.Palette {
			r, g, bl, a := c.RGBA()
			w := 0xffff - a
			lut[k] = [3]byte{byte((bl + w) >> 8), byte((g + w) >> 8), byte((r + w) >> 8)}
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[(y-b.Min.Y)*s.Stride:]
			for x := 0; x < out.W; x++ {
				p := lut[row[x]]
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = p[0], p[1], p[2]
				i += 3
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := src.At(x, y).RGBA() // premultiplied, 16-bit
				w := 0xffff - a
				out.Pix[i] = byte((bl + w) >> 8)
				out.Pix[i+1] = byte((g + w) >> 8)
				out.Pix[i+2] = byte((r + w) >> 8)
				i += 3
			}
		}
	}
	return out
}

// upsampleChroma converts a JPEG's planes to BGR into out the way libjpeg
// does by default (do_fancy_upsampling, which OpenCV's cv2.imread — the
// reader PaddleOCR's models were trained and are run with — leaves on):
// chroma subsampled by two in a direction is interpolated between the two
// nearest samples with weights 3/4 and 1/4 (a triangle filter, libjpeg's
// jdsample.c h2v1/h2v2_fancy_upsample and libjpeg-turbo's h1v2), not
// repeated as image.YCbCr.At does; each interpolated sample is rounded to
// 8 bits before the JFIF conversion, as there. Edges replicate. It
// reports false for other subsampling ratios (4:4:4 needs none; 4:1:1 and
// 4:1:0 stay with the plain conversion).
func upsampleChroma(s *image.YCbCr, out *bgr) bool {
	var fx, fy int
	switch s.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		fx, fy = 2, 2
	case image.YCbCrSubsampleRatio422:
		fx, fy = 2, 1
	case image.YCbCrSubsampleRatio440:
		fx, fy = 1, 2
	default:
		return false
	}
	b := s.Bounds()
	// Chroma plane size and origin (image.YCbCr's own layout).
	c0 := s.COffset(b.Min.X, b.Min.Y)
	cw := (b.Max.X+fx-1)/fx - b.Min.X/fx
	ch := (b.Max.Y+fy-1)/fy - b.Min.Y/fy
	// Positions and weights: output pixel i of a direction subsampled by 2
	// lies a quarter sample before (even i) or after (odd i) its sample's
	// centre, so it takes 3/4 of its own sample and 1/4 of the neighbour
	// on that side (clamped to the plane).
	near := func(i, f, n int) (int, int) {
		j := i / f
		if f == 1 {
			return j, j
		}
		k := j + 1
		if i%2 == 0 {
			k = j - 1
		}
		return j, max(0, min(k, n-1))
	}
	ox, oy := b.Min.X%fx, b.Min.Y%fy
	k0s, k1s := make([]int, b.Dx()), make([]int, b.Dx())
	for x := range k0s {
		k0s[x], k1s[x] = near(x+ox, fx, cw)
	}
	// Each row's chroma, in libjpeg's integer form: 3·near + far down the
	// columns, then across, with its alternating rounding biases.
	cbRow, crRow := make([]byte, b.Dx()), make([]byte, b.Dx())
	i := 0
	for y := 0; y < b.Dy(); y++ {
		j0, j1 := near(y+oy, fy, ch)
		r0, r1 := c0+j0*s.CStride, c0+j1*s.CStride
		for p, plane := range [2][]byte{s.Cb, s.Cr} {
			dst := cbRow
			if p == 1 {
				dst = crRow
			}
			n0, n1 := plane[r0:], plane[r1:]
			switch {
			case fx == 2 && fy == 2:
				for x := range dst {
					k0, k1 := k0s[x], k1s[x]
					col0 := 3*int(n0[k0]) + int(n1[k0])
					col1 := 3*int(n0[k1]) + int(n1[k1])
					dst[x] = byte((3*col0 + col1 + 8 - (x+ox)%2) >> 4)
				}
			case fx == 2:
				for x := range dst {
					dst[x] = byte((3*int(n0[k0s[x]]) + int(n0[k1s[x]]) + 1 + (x+ox)%2) >> 2)
				}
			default:
				bias := 1 + (y+oy)%2
				for x := range dst {
					dst[x] = byte((3*int(n0[x]) + int(n1[x]) + bias) >> 2)
				}
			}
		}
		yrow := s.Y[s.YOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := color.YCbCr{Y: yrow[x], Cb: cbRow[x], Cr: crRow[x]}.RGBA()
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = byte(bl>>8), byte(g>>8), byte(r>>8)
			i += 3
		}
	}
	return true
}

// gray is for tests and debugging.
func (im *bgr) At(x, y int) color.Gray {
	p := im.Pix[3*(y*im.W+x):]
	return color.Gray{Y: byte((int(p[0]) + int(p[1]) + int(p[2])) / 3)}
}

// rotate turns the image clockwise by quads quarter turns.
func (im *bgr) rotate(quads int) *bgr {
	quads = ((quads % 4) + 4) % 4
	if quads == 0 {
		return im
	}
	w, h := im.W, im.H
	var out *bgr
	if quads%2 == 1 {
		out = newBGR(h, w)
	} else {
		out = newBGR(w, h)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch quads {
			case 1:
				dx, dy = h-1-y, x
			case 2:
				dx, dy = w-1-x, h-1-y
			case 3:
				dx, dy = y, w-1-x
			}
			copy(out.Pix[3*(dy*out.W+dx):3*(dy*out.W+dx)+3], im.Pix[3*(y*w+x):3*(y*w+x)+3])
		}
	}
	return out
}

// flipX mirrors the image left to right.
func (im *bgr) flipX() *bgr {
	out := newBGR(im.W, im.H)
	for y := 0; y < im.H; y++ {
		for x := 0; x < im.W; x++ {
			s, d := 3*(y*im.W+x), 3*(y*im.W+im.W-1-x)
			copy(out.Pix[d:d+3], im.Pix[s:s+3])
		}
	}
	return out
}

// resizeInto writes im resized to w×h (bilinear, OpenCV's INTER_LINEAR
// pixel-centre convention) as planar float32 channels into dst (3×h×stride,
// channel-major, starting at column 0 of each row), each value mapped by
// (v/255 − mean[c]) / std[c]. Columns w..stride−1 are left as they are.
func (im *bgr) resizeInto(dst []float32, w, h, stride int, mean, std [3]float32) {
	sx, sy := float64(im.W)/float64(w), float64(im.H)/float64(h)
	x0s, x1s, fxs := make([]int, w), make([]int, w), make([]float32, w)
	for x := 0; x < w; x++ {
		x0s[x], x1s[x], fxs[x] = sourceOf(x, sx, im.W)
	}
	var scale, shift [3]float32
	for c := 0; c < 3; c++ {
		scale[c] = 1 / (255 * std[c])
		shift[c] = -mean[c] / std[c]
	}
	plane := h * stride
	for y := 0; y < h; y++ {
		j, j1, wy := sourceOf(y, sy, im.H)
		r0, r1 := im.Pix[3*j*im.W:], im.Pix[3*j1*im.W:]
		for x := 0; x < w; x++ {
			a, b, wx := 3*x0s[x], 3*x1s[x], fxs[x]
			for c := 0; c < 3; c++ {
				top := float32(r0[a+c]) + (float32(r0[b+c])-float32(r0[a+c]))*wx
				bot := float32(r1[a+c]) + (float32(r1[b+c])-float32(r1[a+c]))*wx
				v := top + (bot-top)*wy
				dst[c*plane+y*stride+x] = v*scale[c] + shift[c]
			}
		}
	}
}

// sourceOf maps destination index i of a resize by scale (source/
// destination) to the two source indices it interpolates between and the
// weight of the second, with pixel centres aligned (cv2's INTER_LINEAR) and
// indices clamped to [0, n).
func sourceOf(i int, scale float64, n int) (i0, i1 int, f float32) {
	v := max((float64(i)+0.5)*scale-0.5, 0)
	i0 = int(v)
	if i0 >= n-1 {
		i0, v = n-1, float64(n-1)
	}
	return i0, min(i0+1, n-1), float32(v - float64(i0))
}

// warp is PaddleOCR's get_rotate_crop_image (tools/infer/utility.py): the
// quadrilateral q of im warped to an upright rectangle as wide as its
// longer horizontal edge and as tall as its longer vertical edge
// (cv2.warpPerspective with INTER_CUBIC and BORDER_REPLICATE: see
// sampleCubic); a crop at least 1.5 times as tall as wide is turned a
// quarter counter-clockwise (vertical text reads left to right). It
// returns nil for a degenerate quadrilateral.
func (im *bgr) warp(q quad) (*bgr, bool) {
	w, h := int(q.width()), int(q.height())
	if w < 1 || h < 1 {
		return nil, false
	}
	// The transform from the crop to the image, so each crop pixel samples
	// the source.
	m, ok := homography([4]pt{{0, 0}, {float64(w), 0}, {float64(w), float64(h)}, {0, float64(h)}}, [4]pt(q))
	if !ok {
		return nil, false
	}
	out := newBGR(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx, sy := applyH(m, float64(x), float64(y))
			im.sampleCubic(sx, sy, out.Pix[3*(y*w+x):3*(y*w+x)+3])
		}
	}
	if float64(h)/float64(w) >= 1.5 {
		return out.rotate(3), true
	}
	return out, false
}

// cubicA is OpenCV's bicubic kernel parameter (imgproc's interpolateCubic).
const cubicA = -0.75

// cubicWeights are OpenCV's interpolateCubic weights for the four source
// pixels at offsets −1, 0, 1, 2 from the one left of a point f (0 ≤ f < 1)
// past it.
func cubicWeights(f float64) [4]float64 {
	const a = cubicA
	var w [4]float64
	w[0] = ((a*(f+1)-5*a)*(f+1)+8*a)*(f+1) - 4*a
	w[1] = ((a+2)*f-(a+3))*f*f + 1
	w[2] = ((a+2)*(1-f)-(a+3))*(1-f)*(1-f) + 1
	w[3] = 1 - w[0] - w[1] - w[2]
	return w
}

// sampleCubic writes im's bicubic interpolation at (x, y) into px the way
// cv2.warpPerspective with INTER_CUBIC and BORDER_REPLICATE computes it:
// the point quantised to 1/32 pixel (INTER_TAB_SIZE), the 4×4 neighbours
// weighted by cubicWeights with indices clamped into the image, the sum
// rounded and saturated to 8 bits.
func (im *bgr) sampleCubic(x, y float64, px []byte) {
	// Far outside, every neighbour is the nearest edge pixel anyway.
	x = math.Max(-4, math.Min(x, float64(im.W+3)))
	y = math.Max(-4, math.Min(y, float64(im.H+3)))
	qx, qy := int(math.Round(x*cubicTab)), int(math.Round(y*cubicTab))
	x0, y0 := qx>>5, qy>>5 // floor, also below zero
	wx, wy := &cubicTable[qx&(cubicTab-1)], &cubicTable[qy&(cubicTab-1)]
	var xs [4]int
	for k := 0; k < 4; k++ {
		xs[k] = 3 * max(0, min(x0-1+k, im.W-1))
	}
	var v [3]float64
	for j := 0; j < 4; j++ {
		row := im.Pix[3*im.W*max(0, min(y0-1+j, im.H-1)):]
		var r [3]float64
		for k := 0; k < 4; k++ {
			p := row[xs[k] : xs[k]+3]
			r[0] += wx[k] * float64(p[0])
			r[1] += wx[k] * float64(p[1])
			r[2] += wx[k] * float64(p[2])
		}
		v[0] += wy[j] * r[0]
		v[1] += wy[j] * r[1]
		v[2] += wy[j] * r[2]
	}
	for c := 0; c < 3; c++ {
		px[c] = byte(math.Max(0, math.Min(255, math.Round(v[c]))))
	}
}

// cubicTab is OpenCV's INTER_TAB_SIZE: positions are quantised to 1/32
// pixel, and cubicTable holds the weights of each.
const cubicTab = 32

var cubicTable = func() (t [cubicTab][4]float64) {
	for i := range t {
		t[i] = cubicWeights(float64(i) / cubicTab)
	}
	return t
}()

// String is for test failures.
func (im *bgr) String() string { return fmt.Sprintf("%dx%d", im.W, im.H) }

// border is the margin added around a page before detection: text that
// touches the image's edge (a tight line or word crop) is not found by the
// detector, which was trained on text with surroundings. Half the shorter
// side, 16 to 64 pixels.
func border(im *bgr) int { return max(16, min(64, min(im.W, im.H)/2)) }

// pad returns im inside a margin of b pixels of its background colour (the
// median of its edge pixels, per channel).
func (im *bgr) pad(b int) *bgr {
	var hist [3][256]int
	n := 0
	count := func(x, y int) {
		p := im.Pix[3*(y*im.W+x):]
		for c := 0; c < 3; c++ {
			hist[c][p[c]]++
		}
		n++
	}
	for x := 0; x < im.W; x++ {
		count(x, 0)
		count(x, im.H-1)
	}
	for y := 0; y < im.H; y++ {
		count(0, y)
		count(im.W-1, y)
	}
	var bg [3]byte
	for c := 0; c < 3; c++ {
		acc := 0
		for v := 0; v < 256; v++ {
			acc += hist[c][v]
			if 2*acc >= n {
				bg[c] = byte(v)
				break
			}
		}
	}
	out := newBGR(im.W+2*b, im.H+2*b)
	for i := 0; i < len(out.Pix); i += 3 {
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = bg[0], bg[1], bg[2]
	}
	for y := 0; y < im.H; y++ {
		d := 3 * ((y+b)*out.W + b)
		copy(out.Pix[d:d+3*im.W], im.Pix[3*y*im.W:3*(y+1)*im.W])
	}
	return out
}
