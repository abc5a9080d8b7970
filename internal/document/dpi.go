package document

import (
	"bytes"
	"encoding/binary"
	"math"
)

// imageDPI reads the resolution an image declares in its header, in dots
// per inch, or 0 when it declares none: a PNG's pHYs chunk (pixels per
// metre, PNG specification §11.3.5.3) or a JPEG's JFIF APP0 density (units
// 1 = per inch, 2 = per centimetre; JFIF 1.02) or a BMP's
// BITMAPINFOHEADER biXPelsPerMeter (pixels per metre; bmpDPI). This is the
// horizontal figure (the one OCR engines take); imageYDPI is the vertical
// one. GIF declares no resolution (only a pixel aspect ratio), nor do WebP's
// VP8/VP8L bitstreams; those are unknown (300 dpi is taken). An EXIF
// XResolution (in a JPEG without JFIF density, or a WebP's EXIF chunk) is
// not read: cameras and phones write 72 there whatever they photograph,
// and a 4000-pixel photo of a page would be laid out 55 inches wide.
func imageDPI(kind string, data []byte) int {
	switch kind {
	case "png":
		return pngDPI(data, 0)
	case "jpeg":
		return jfifDPI(data, 14)
	case "bmp":
		return bmpDPI(data, 38)
	}
	return 0
}

// imageYDPI is the vertical resolution an image declares (the same
// headers as imageDPI: pHYs's second figure, JFIF's Ydensity), 0 when
// none. A fax or a draft-mode scan has a vertical resolution of its own
// (204 × 98 dpi): a page sized from the horizontal one alone is squashed.
func imageYDPI(kind string, data []byte) int {
	switch kind {
	case "png":
		return pngDPI(data, 4)
	case "jpeg":
		return jfifDPI(data, 16)
	case "bmp":
		return bmpDPI(data, 42)
	}
	return 0
}

// bmpDPI reads a BMP's resolution at offset at (38: biXPelsPerMeter, 42:
// biYPelsPerMeter, signed 32-bit little-endian, in the BITMAPINFOHEADER
// that follows the 14-byte file header, and in its later versions V4/V5,
// which begin with it; Microsoft's BITMAPINFOHEADER documentation). An
// OS/2 BITMAPCOREHEADER (12 bytes) has none.
func bmpDPI(data []byte, at int) int {
	if len(data) < at+4 || binary.LittleEndian.Uint32(data[14:]) < 40 {
		return 0
	}
	return perInch(float64(int32(binary.LittleEndian.Uint32(data[at:]))) * 0.0254)
}

// pngDPI reads pHYs's figure at offset at (0: x, 4: y).
func pngDPI(data []byte, at int) int {
	const sig = 8
	for off := sig; off+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		typ := string(data[off+4 : off+8])
		body := off + 8
		if n < 0 || body+n > len(data) || typ == "IDAT" {
			return 0
		}
		if typ == "pHYs" && n >= 9 && data[body+8] == 1 { // unit: the metre
			return perInch(float64(binary.BigEndian.Uint32(data[body+at:])) * 0.0254)
		}
		off = body + n + 4 // and the CRC
	}
	return 0
}

// jfifDPI reads the JFIF density at offset at (14: Xdensity, 16: Ydensity).
func jfifDPI(data []byte, at int) int {
	// SOI, then APP0 ("JFIF\0", version, units, Xdensity, Ydensity).
	if len(data) < 18 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF || data[3] != 0xE0 || !bytes.Equal(data[6:11], []byte("JFIF\x00")) {
		return 0
	}
	x := float64(binary.BigEndian.Uint16(data[at : at+2]))
	switch data[13] {
	case 1:
		return perInch(x)
	case 2:
		return perInch(x * 2.54)
	}
	return 0
}

// MaxImageDPI is the highest resolution an image header is believed: above
// it (no scanner or camera makes such pages; a 1 × 1 inch 4800-dpi crop is
// a 15-megapixel page) a tag is a unit mistake, and taking it made a 70-dpi
// page 22.9 inches wide. Such an image's resolution is unknown.
const MaxImageDPI = 2400

// perInch rounds a resolution; an implausible one (under 10 or over
// MaxImageDPI dpi) is unknown.
func perInch(v float64) int {
	if v < 10 || v > MaxImageDPI {
		return 0
	}
	return int(math.Round(v))
}
