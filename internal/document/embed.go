package document

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/bits"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/render"
)

// pixelsOf is an image's samples for a PDF image XObject at its own depth
// where PDF has it: a gray image stored at 1 bit a pixel (stored, the
// file's bits per pixel; 0 unknown) whose every pixel is black or white at
// 1 bit (a bilevel scan decodes as 8-bit gray: it stays 1-bit, not 8),
// other gray at 8 or 16 bits, a palette image as an Indexed colour space of its
// palette (1, 2, 4 or 8 bits an index, the fewest that hold it), CMYK as
// DeviceCMYK, 16-bit colour at 16 bits, other colour as 8-bit DeviceRGB
// (any alpha was composited on white when the image was opened: onWhite).
func pixelsOf(img image.Image, stored int) *render.Pixels {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	px := &render.Pixels{Width: w, Height: h, BPC: 8, ColorSpace: "DeviceRGB"}
	switch m := img.(type) {
	case *image.Gray:
		px.ColorSpace = "DeviceGray"
		bilevel := stored <= 1
		for y := range h {
			if !bilevel {
				break
			}
			for _, v := range m.Pix[y*m.Stride : y*m.Stride+w] {
				if v != 0 && v != 255 {
					bilevel = false
					break
				}
			}
		}
		if bilevel {
			px.BPC = 1
			px.Data = pack(w, h, 1, func(x, y int) uint8 { return m.Pix[y*m.Stride+x] & 1 })
			return px
		}
		px.Data = rows(m.Pix, m.Stride, w, h)
	case *image.Gray16:
		px.ColorSpace, px.BPC = "DeviceGray", 16
		px.Data = rows(m.Pix, m.Stride, 2*w, h)
	case *image.Paletted:
		n := len(m.Palette)
		px.BPC = 8
		for _, d := range []int{1, 2, 4} {
			if n <= 1<<d {
				px.BPC = d
				break
			}
		}
		px.Palette = make([]byte, 0, 3*n)
		for _, c := range m.Palette {
			r, g, bl, _ := c.RGBA()
			px.Palette = append(px.Palette, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
		px.Data = pack(w, h, px.BPC, func(x, y int) uint8 { return m.Pix[y*m.Stride+x] })
	case *image.CMYK:
		px.ColorSpace = "DeviceCMYK"
		px.Data = rows(m.Pix, m.Stride, 4*w, h)
	case *image.RGBA64, *image.NRGBA64:
		px.BPC = 16
		px.Data = make([]byte, 0, 6*w*h)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.RGBA64Model.Convert(img.At(x, y)).(color.RGBA64)
				px.Data = append(px.Data, byte(c.R>>8), byte(c.R), byte(c.G>>8), byte(c.G), byte(c.B>>8), byte(c.B))
			}
		}
	default:
		px.Data = make([]byte, 0, 3*w*h)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				px.Data = append(px.Data, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
			}
		}
	}
	return px
}

// pixelBits is the bits per pixel px stores (an index's bits for a
// palette image).
func pixelBits(px *render.Pixels) int {
	if px.Palette != nil {
		return px.BPC
	}
	return px.BPC * map[string]int{"DeviceGray": 1, "DeviceRGB": 3, "DeviceCMYK": 4}[px.ColorSpace]
}

// rows copies h rows of n bytes from pix (stride apart).
func rows(pix []byte, stride, n, h int) []byte {
	out := make([]byte, 0, n*h)
	for y := range h {
		out = append(out, pix[y*stride:y*stride+n]...)
	}
	return out
}

// pack packs w × h samples of bpc bits (1, 2, 4 or 8) a pixel, most
// significant bit first, each row from a new byte (PDF 32000-1 §8.9.2).
func pack(w, h, bpc int, at func(x, y int) uint8) []byte {
	stride := (w*bpc + 7) / 8
	out := make([]byte, stride*h)
	for y := range h {
		row := out[y*stride:]
		for x := range w {
			bit := x * bpc
			row[bit/8] |= at(x, y) << (8 - bpc - bit%8)
		}
	}
	return out
}

// pngPixels is a PNG's compressed image data as it is, for a PDF image
// with /DecodeParms /Predictor 15 (PNG's row filters), as img2pdf embeds a
// PNG: its IDAT chunks joined (PNG specification §10: one zlib stream),
// its colour type 0 (gray), 2 (RGB) or 3 (palette, PLTE an Indexed
// table), at its bit depth. ok is false for what PDF's predictor cannot
// read: an interlaced PNG, or one with an alpha channel (colour types 4
// and 6).
func pngPixels(data []byte) (px *render.Pixels, ok bool) {
	if len(data) < 33 || string(data[1:4]) != "PNG" || string(data[12:16]) != "IHDR" {
		return nil, false
	}
	w, h := int(binary.BigEndian.Uint32(data[16:])), int(binary.BigEndian.Uint32(data[20:]))
	depth, ctype, interlace := int(data[24]), data[25], data[28]
	cs := map[byte]string{0: "DeviceGray", 2: "DeviceRGB", 3: "DeviceRGB"}[ctype]
	if cs == "" || interlace != 0 {
		return nil, false
	}
	px = &render.Pixels{Width: w, Height: h, BPC: depth, ColorSpace: cs, Predictor: true}
	var idat bytes.Buffer
	for off := 8; off+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		body := off + 8
		if n < 0 || body+n > len(data) {
			return nil, false
		}
		switch string(data[off+4 : off+8]) {
		case "PLTE":
			px.Palette = bytes.Clone(data[body : body+n])
		case "IDAT":
			idat.Write(data[body : body+n])
		case "IEND":
			off = len(data)
			continue
		}
		off = body + n + 4
	}
	if idat.Len() == 0 || (ctype == 3) != (px.Palette != nil) || len(px.Palette)%3 != 0 {
		return nil, false
	}
	px.Data = idat.Bytes()
	return px, true
}

// tiffPageImages sets info[i] to page i's image as it goes into the PDF,
// each page in its own coding where PDF has it (a mixed TIFF's fax page
// stays CCITT beside an LZW page): a CCITT page as Group 4 (its single
// strip as it is, or the page re-coded by libtiff's tiffcp -c g4 in one
// strip); a JPEG page as its JPEG data (jpegPage); any other page decoded
// and put in as Flate at its own depth (pixelsOf). recoded reports
// whether a page's pixels went in otherwise than as stored: a JPEG page
// decoded (its data was not a JPEG that PDF reads), or a page at another
// bit depth than the TIFF's.
func (t *TIFF) tiffPageImages(ctx context.Context, info []render.ImagePage) (recoded bool, err error) {
	for i, g := range t.g4 {
		switch {
		case g.ok && g.strips == 1:
			info[i].CCITT = t.ccitt(t, i, g)
			continue
		case g.fax:
			one, err := t.pageRecoded(ctx, i, "g4", "-r", "1000000")
			if err != nil {
				return false, err
			}
			if len(one.g4) != 1 || !one.g4[0].ok || one.g4[0].strips != 1 || one.sizes[0] != t.sizes[i] {
				return false, fmt.Errorf("tiffcp did not write page %d as one G4 strip", i+1)
			}
			info[i].CCITT = t.ccitt(one, 0, one.g4[0])
			continue
		case g.comp == 7:
			if j, ok := t.jpegPage(i); ok {
				info[i].JPEG = j
				continue
			}
		}
		img, err := engine.DecodeTIFFPage(t.data, i+1)
		if err != nil || g.comp == 7 {
			// A coding only libtiff reads (JPEG in TIFF, which PDF could
			// not take as it is): re-coded uncompressed, then decoded.
			one, rerr := t.pageRecoded(ctx, i, "none")
			if rerr != nil {
				return false, errors.Join(err, rerr)
			}
			if img, err = engine.DecodeTIFFPage(one.data, 1); err != nil {
				return false, err
			}
		}
		recoded = recoded || g.comp == 6 || g.comp == 7 // JPEG (old- or new-style) decoded
		if img.Bounds().Dx() != t.sizes[i][0] || img.Bounds().Dy() != t.sizes[i][1] {
			return false, fmt.Errorf("TIFF page %d decoded at %v, not %v", i+1, img.Bounds().Size(), t.sizes[i])
		}
		px := pixelsOf(img, t.bits[i])
		recoded = recoded || pixelBits(px) != t.bits[i]
		info[i].Pixels = px
	}
	return recoded, nil
}

// ccitt is page i of src (a single G4 strip, g) as CCITTFaxDecode data,
// its bits reversed where FillOrder is 2.
func (t *TIFF) ccitt(src *TIFF, i int, g g4Page) *render.CCITT {
	data := src.data[g.off : g.off+g.n]
	if g.reversed {
		data = bytes.Clone(data)
		for k, b := range data {
			data[k] = bits.Reverse8(b)
		}
	}
	return &render.CCITT{Data: data, Columns: src.sizes[i][0], Rows: src.sizes[i][1], BlackIs1: g.blackIs1}
}

// jpegPage is page i's JPEG data whole, as PDF's DCTDecode reads it, when
// the page is one strip of 8-bit JPEG, or strips that join into one
// (joinJPEGStrips), (TIFF Technical Note 2, Compression
// 7) that Go's decoder reads at the page's size (baseline or progressive;
// not arithmetic-coded, not 12-bit): the strip's abbreviated stream with
// the page's JPEGTables put in after its SOI (what tiff2pdf writes), gray
// (PhotometricInterpretation 1), YCbCr (6) or RGB (2: /ColorTransform 0).
func (t *TIFF) jpegPage(i int) (*render.JPEG, bool) {
	g := t.g4[i]
	var strip []byte
	switch {
	case g.strips == 1 && g.n >= 4 && g.off >= 0 && g.off+g.n <= int64(len(t.data)):
		strip = t.data[g.off : g.off+g.n]
	case g.strips > 1 && g.stripOffs != nil:
		strips := make([][]byte, g.strips)
		for k, off := range g.stripOffs {
			if off < 0 || g.stripLens[k] < 4 || off+g.stripLens[k] > int64(len(t.data)) {
				return nil, false
			}
			strips[k] = t.data[off : off+g.stripLens[k]]
		}
		if strip = joinJPEGStrips(strips, t.sizes[i][0], t.sizes[i][1], g.rowsPerStrip); strip == nil {
			return nil, false
		}
	default:
		return nil, false
	}
	if strip[0] != 0xFF || strip[1] != 0xD8 {
		return nil, false
	}
	data := strip
	if g.tablesN > 0 {
		tables := t.data[g.tables : g.tables+g.tablesN]
		if len(tables) < 4 || tables[0] != 0xFF || tables[1] != 0xD8 || tables[len(tables)-2] != 0xFF || tables[len(tables)-1] != 0xD9 {
			return nil, false
		}
		data = append(bytes.Clone(tables[:len(tables)-2]), strip[2:]...)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != t.sizes[i][0] || img.Bounds().Dy() != t.sizes[i][1] {
		return nil, false
	}
	j := &render.JPEG{Data: data, Width: t.sizes[i][0], Height: t.sizes[i][1]}
	switch _, gray := img.(*image.Gray); {
	case gray && g.spp == 1 && g.photo == 1:
		j.Components = 1
	case !gray && g.spp == 3 && (g.photo == 2 || g.photo == 6):
		j.Components, j.RGB = 3, g.photo == 2
	default:
		return nil, false
	}
	return j, true
}

// pageRecoded is page i alone re-coded by recodePage (compression comp,
// further tiffcp arguments args) in the TIFF's workspace, opened again.
func (t *TIFF) pageRecoded(ctx context.Context, i int, comp string, args ...string) (*TIFF, error) {
	if t.dir == "" {
		return nil, errors.New("no workspace for tiffcp")
	}
	data, err := t.recodePage(ctx, i, t.dir, comp, args...)
	if err != nil {
		return nil, err
	}
	return openTIFF(data, t.lim, "")
}

// joinJPEGStrips joins a JPEG-in-TIFF page's strips (TIFF Technical Note 2:
// each strip an abbreviated baseline JPEG of rowsPerStrip rows, the last
// one shorter) into one JPEG stream without decoding it, as libtiff's
// tiff2pdf does: the first strip's headers with the page's height, a
// restart interval (DRI) of one strip's MCUs, and the strips' entropy-coded
// data one after another, each but the last followed by a restart marker
// (RST0…RST7 in turn). A restart resets the DC predictions and starts on a
// byte, as each strip's data did, so the pixels are the strips' own
// (ITU-T T.81 §B.2.1, §E.1.4). nil where the strips are not so joinable:
// other headers than the first's (tables, components, scan) but for the
// height, rows per strip not a whole number of MCU rows, a strip already
// using restarts or holding another marker in its data, a progressive or
// arithmetic frame (only SOF0 and SOF1 are joined), or an interval past
// 65535 MCUs.
func joinJPEGStrips(strips [][]byte, width, height, rowsPerStrip int) []byte {
	if len(strips) < 2 || rowsPerStrip <= 0 || width <= 0 || height <= 0 || height > 0xFFFF {
		return nil
	}
	var head []byte // the first strip's headers up to its SOS, its SOF height zeroed
	var sofAt, sosAt, maxH, maxV int
	var data [][]byte
	for k, s := range strips {
		if len(s) < 4 || s[0] != 0xFF || s[1] != 0xD8 || s[len(s)-2] != 0xFF || s[len(s)-1] != 0xD9 {
			return nil
		}
		sof, sos, end := -1, -1, -1
		for i := 2; i+4 <= len(s); {
			if s[i] != 0xFF {
				return nil
			}
			m := s[i+1]
			n := int(s[i+2])<<8 | int(s[i+3])
			if n < 2 || i+2+n > len(s) {
				return nil
			}
			switch {
			case m == 0xC0 || m == 0xC1:
				sof = i
			case m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC, m == 0xDD:
				return nil // progressive, lossless, arithmetic; or restarts already
			case m == 0xDA:
				sos, end = i, i+2+n
			}
			if sos >= 0 {
				break
			}
			i += 2 + n
		}
		if sof < 0 || sos < 0 || sof+10 > len(s) || end > len(s)-2 {
			return nil
		}
		rows := int(s[sof+5])<<8 | int(s[sof+6])
		if w := int(s[sof+7])<<8 | int(s[sof+8]); w != width {
			return nil
		}
		want := rowsPerStrip
		if k == len(strips)-1 {
			want = height - rowsPerStrip*(len(strips)-1)
		}
		if rows != want || want <= 0 {
			return nil
		}
		h := bytes.Clone(s[:end])
		h[sof+5], h[sof+6] = 0, 0
		if k == 0 {
			head, sofAt, sosAt = h, sof, sos
			nc := int(s[sof+9])
			if sof+10+3*nc > len(s) || nc == 0 {
				return nil
			}
			for c := range nc {
				f := s[sof+11+3*c]
				maxH, maxV = max(maxH, int(f>>4)), max(maxV, int(f&15))
			}
		} else if !bytes.Equal(h, head) {
			return nil
		}
		ecs := s[end : len(s)-2]
		for i := 0; i+1 < len(ecs); i++ {
			if ecs[i] == 0xFF && ecs[i+1] != 0x00 && ecs[i+1] != 0xFF {
				return nil // a marker inside the data (RSTn or another)
			}
		}
		data = append(data, ecs)
	}
	if maxH == 0 || maxV == 0 || rowsPerStrip%(8*maxV) != 0 {
		return nil
	}
	interval := (width + 8*maxH - 1) / (8 * maxH) * (rowsPerStrip / (8 * maxV))
	if interval > 0xFFFF {
		return nil
	}
	var out bytes.Buffer
	out.Write(head[:sosAt])
	out.Bytes()[sofAt+5], out.Bytes()[sofAt+6] = byte(height>>8), byte(height)
	out.Write([]byte{0xFF, 0xDD, 0, 4, byte(interval >> 8), byte(interval)})
	out.Write(head[sosAt:])
	for k, ecs := range data {
		out.Write(ecs)
		if k < len(data)-1 {
			out.Write([]byte{0xFF, 0xD0 + byte(k%8)})
		}
	}
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}
