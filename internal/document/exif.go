package document

import (
	"bytes"
	"encoding/binary"
)

// exifOrientation reads a JPEG's EXIF orientation and returns the clockwise
// quarter turns and mirror that make it upright. Unknown or absent: 0, false.
func exifOrientation(data []byte) (quads int, flip bool) {
	switch readOrientation(data) {
	case 2:
		return 0, true
	case 3:
		return 2, false
	case 4:
		return 2, true
	case 5:
		return 3, true
	case 6:
		return 1, false
	case 7:
		return 1, true
	case 8:
		return 3, false
	}
	return 0, false
}

func readOrientation(d []byte) int {
	p := 2
	for p+4 <= len(d) {
		if d[p] != 0xFF {
			return 0
		}
		marker := d[p+1]
		size := int(binary.BigEndian.Uint16(d[p+2:]))
		if marker == 0xDA || size < 2 || p+2+size > len(d) {
			return 0
		}
		seg := d[p+4 : p+2+size]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return tiffOrientation(seg[6:])
		}
		p += 2 + size
	}
	return 0
}

func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if t[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int(bo.Uint32(t[4:]))
	if off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for e := range n {
		p := off + 2 + e*12
		if p+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[p:]) == 0x0112 {
			return int(bo.Uint16(t[p+8:]))
		}
	}
	return 0
}
