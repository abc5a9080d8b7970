package engine

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"

	"github.com/hhrutter/tiff"

	"github.com/lector-ocr/lector/internal/errcode"
)

// TIFFPageOffset returns where page (1-based) of a classic TIFF has its
// image file directory, walking the chain from the header, for decoders
// that read a page at its directory (github.com/hhrutter/tiff's DecodeAt;
// Tesseract reads a page by its index itself, and internal/document walks
// the same chain for the pages' sizes). Errors are invalid_document.
func TIFFPageOffset(data []byte, page int) (int64, error) {
	bad := func(format string, args ...any) (int64, error) {
		return 0, errcode.New(errcode.InvalidDocument, "the TIFF is corrupt: "+format, args...)
	}
	if len(data) < 8 || !(string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*") {
		return bad("not a classic TIFF header")
	}
	if page < 1 {
		return 0, errcode.New(errcode.InvalidDocument, "TIFF page %d: pages count from 1", page)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(data[4:8]))
	for n := 1; ; n++ {
		if off == 0 {
			return 0, errcode.New(errcode.InvalidDocument, "the TIFF has %d pages, not %d", n-1, page)
		}
		if off+2 > int64(len(data)) {
			return bad("a page offset past the end")
		}
		end := off + 2 + int64(bo.Uint16(data[off:]))*12
		if end+4 > int64(len(data)) {
			return bad("a page directory past the end")
		}
		if n == page {
			return off, nil
		}
		off = int64(bo.Uint32(data[end:])) // at most page steps: a loop ends there too
	}
}

// DecodeTIFFPage decodes page (1-based) of a classic TIFF with
// github.com/hhrutter/tiff (pdfcpu's maintained extension of
// golang.org/x/image/tiff: it decodes a page at its directory and reads
// CCITT G3/G4, old-style JPEG and CMYK). A CCITT-coded page (Compression 2,
// 3 or 4) with PhotometricInterpretation 1 (BlackIsZero, as pdftoppm and
// tiffcp write a bilevel page) is returned as it shows: the decoder takes
// the coder's white runs for white whatever the photometric says (the
// coder's white is the 0 bit, black there; TIFF 6.0 §3, §10), and would
// give it negative. Errors of the TIFF's structure are invalid_document;
// the decoder's own are returned as they are.
func DecodeTIFFPage(data []byte, page int) (image.Image, error) {
	off, err := TIFFPageOffset(data, page)
	if err != nil {
		return nil, err
	}
	img, err := tiff.DecodeAt(bytes.NewReader(data), off)
	if err != nil {
		return nil, err
	}
	if !ccittBlackIsZero(data, off) {
		return img, nil
	}
	switch m := img.(type) {
	case *image.Gray:
		for i, v := range m.Pix {
			m.Pix[i] = 255 - v
		}
	case *image.Paletted:
		p := make(color.Palette, len(m.Palette))
		for i, c := range m.Palette {
			g := color.GrayModel.Convert(c).(color.Gray)
			p[i] = color.Gray{Y: 255 - g.Y}
		}
		m.Palette = p
	}
	return img, nil
}

// ccittBlackIsZero reports whether the directory at off (a classic TIFF's,
// checked by TIFFPageOffset) is of a CCITT-coded page with
// PhotometricInterpretation 1.
func ccittBlackIsZero(data []byte, off int64) bool {
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	comp, photo := 1, -1
	for e := range int64(bo.Uint16(data[off:])) {
		p := off + 2 + e*12
		tag, typ := bo.Uint16(data[p:]), bo.Uint16(data[p+2:])
		v := -1
		switch typ {
		case 3: // SHORT
			v = int(bo.Uint16(data[p+8:]))
		case 4: // LONG
			v = int(bo.Uint32(data[p+8:]))
		}
		switch tag {
		case 259:
			comp = v
		case 262:
			photo = v
		}
	}
	return (comp == 2 || comp == 3 || comp == 4) && photo == 1
}
