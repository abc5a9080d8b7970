package document

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
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

// arithJPEG decodes an arithmetic-coded JPEG, which Go's decoder does not
// read, with libjpeg's djpeg (libjpeg-turbo-progs; built with arithmetic
// decoding, as Debian's is) into dir, under lim's time and memory limits,
// and returns its pixels as a PNG (fast compression: the engine's input;
// the searchable PDF re-compresses them). A file djpeg cannot read is
// invalid_document; without djpeg the input is unsupported_media_type,
// naming arithmetic coding.
func arithJPEG(ctx context.Context, data []byte, lim Limits, dir string) ([]byte, error) {
	if _, err := exec.LookPath("djpeg"); err != nil {
		return nil, errcode.New(errcode.UnsupportedMediaType, "the JPEG is arithmetic-coded, which Lector reads through libjpeg's djpeg, not installed (libjpeg-turbo-progs)")
	}
	tmp, err := os.MkdirTemp(dir, "djpeg-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, "in.jpg")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, err
	}
	pnm, err := run(ctx, lim, "djpeg", "-pnm", in)
	if err != nil {
		if errcode.Of(err) == errcode.Timeout || ctx.Err() != nil {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "the arithmetic-coded JPEG is unreadable")
	}
	img, err := decodePNM(pnm)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "the arithmetic-coded JPEG is unreadable")
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// decodePNM reads binary PGM (P5) or PPM (P6) with a maxval of 255, as
// djpeg -pnm writes them (Netpbm's formats).
func decodePNM(b []byte) (image.Image, error) {
	var magic string
	var w, h, maxval int
	r := bytes.NewReader(b)
	if _, err := fmt.Fscan(r, &magic, &w, &h, &maxval); err != nil {
		return nil, err
	}
	if _, err := r.ReadByte(); err != nil { // the one whitespace before the samples
		return nil, err
	}
	pix := b[len(b)-r.Len():]
	if w <= 0 || h <= 0 || maxval != 255 {
		return nil, fmt.Errorf("pnm: %s %dx%d maxval %d", magic, w, h, maxval)
	}
	switch magic {
	case "P5":
		if len(pix) < w*h {
			return nil, errors.New("pnm: short")
		}
		return &image.Gray{Pix: pix[:w*h], Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
	case "P6":
		if len(pix) < 3*w*h {
			return nil, errors.New("pnm: short")
		}
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range w * h {
			copy(img.Pix[4*i:], pix[3*i:3*i+3])
			img.Pix[4*i+3] = 255
		}
		return img, nil
	}
	return nil, fmt.Errorf("pnm: %q", magic)
}
