package engine

import (
	"encoding/binary"

	"github.com/lector-ocr/lector/internal/errcode"
)

// TIFFPageAsFirst returns a copy of a classic TIFF whose first page is page
// (1-based): the header's first-directory offset points at that page's
// directory and its next-directory link is cut. Every other offset in the
// file is absolute and stays valid, so decoders that read only a TIFF's
// first page (golang.org/x/image/tiff) decode that page; the bytes of the
// other pages ride along unread. Errors are invalid_document.
// (For engines that decode in Go, with Image.TIFFPage; Tesseract reads a
// page by its index itself. internal/document walks the same directory
// chain for the pages' sizes.)
func TIFFPageAsFirst(data []byte, page int) ([]byte, error) {
	bad := func(format string, args ...any) ([]byte, error) {
		return nil, errcode.New(errcode.InvalidDocument, "the TIFF is corrupt: "+format, args...)
	}
	if len(data) < 8 || !(string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*") {
		return bad("not a classic TIFF header")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(data[4:8]))
	for n := 1; ; n++ {
		if off == 0 {
			return nil, errcode.New(errcode.InvalidDocument, "the TIFF has %d pages, not %d", n-1, page)
		}
		if off+2 > int64(len(data)) {
			return bad("a page offset past the end")
		}
		end := off + 2 + int64(bo.Uint16(data[off:]))*12
		if end+4 > int64(len(data)) {
			return bad("a page directory past the end")
		}
		if n == page {
			out := append([]byte(nil), data...)
			bo.PutUint32(out[4:8], uint32(off))
			bo.PutUint32(out[end:end+4], 0)
			return out, nil
		}
		off = int64(bo.Uint32(data[end:])) // at most page steps: a loop ends there too
	}
}
