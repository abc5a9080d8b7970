package document

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/lector-ocr/lector/internal/errcode"
)

// jpegFrame reads a JPEG's frame header (ITU-T T.81 §B.2.2: the first SOFn
// marker segment) for its size and whether it is arithmetic-coded (SOF9–
// SOF11, SOF13–SOF15, §B.1.1.3), which Go's decoder does not read.
func jpegFrame(data []byte) (w, h int, arith, ok bool) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0, 0, false, false
	}
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xFF {
			return 0, 0, false, false
		}
		m := data[p+1]
		if m == 0xFF { // fill byte
			p++
			continue
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC { // SOFn (not DHT, JPG, DAC)
			if p+9 > len(data) || n < 7 {
				return 0, 0, false, false
			}
			h, w = int(binary.BigEndian.Uint16(data[p+5:])), int(binary.BigEndian.Uint16(data[p+7:]))
			return w, h, m >= 0xC9, true
		}
		if m == 0xDA || n < 2 { // SOS before any frame
			return 0, 0, false, false
		}
		p += 2 + n
	}
	return 0, 0, false, false
}

// arithJPEG transcodes an arithmetic-coded JPEG, which Go's decoder does
// not read (nor every PDF reader: PDF's DCTDecode is baseline and
// progressive JPEG), to Huffman coding with libjpeg's jpegtran
// (libjpeg-turbo-progs; built with arithmetic decoding, as Debian's is),
// under lim's time and memory limits: -optimize (optimal Huffman tables),
// -progressive (smaller: 25,712 bytes against 29,051 sequential for the
// trial's 1200 × 800 photo, arithmetic-coded 20,297), -copy all (JFIF
// resolution, EXIF orientation). The DCT coefficients are kept exactly:
// the same pixels, no loss. A file jpegtran cannot read
// is invalid_document; without jpegtran the input is
// unsupported_media_type, naming arithmetic coding.
func arithJPEG(ctx context.Context, data []byte, lim Limits, dir string) ([]byte, error) {
	if _, err := exec.LookPath("jpegtran"); err != nil {
		return nil, errcode.New(errcode.UnsupportedMediaType, "the JPEG is arithmetic-coded, which Lector reads through libjpeg's jpegtran, not installed (libjpeg-turbo-progs)")
	}
	tmp, err := os.MkdirTemp(dir, "jpegtran-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, "in.jpg")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, err
	}
	out, err := run(ctx, lim, "jpegtran", "-copy", "all", "-optimize", "-progressive", in)
	if err != nil {
		if errcode.Of(err) == errcode.Timeout || ctx.Err() != nil {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "the arithmetic-coded JPEG is unreadable")
	}
	return out, nil
}
