package engine

import (
	"encoding/binary"

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
