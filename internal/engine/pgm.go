package engine

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// PDF pages are rendered as binary PGM (netpbm's P5: a text header, then
// one byte a pixel), which costs nothing to write or read; Tesseract
// (Leptonica) reads it natively, and this registers it with Go's image
// package so that engines decoding in Go (ppocr, structure) read it too.
func init() {
	image.RegisterFormat("pgm", "P5", decodePGM, decodePGMConfig)
}

// pgmHeader reads "P5 width height maxval" and the one whitespace byte
// after it (netpbm's pgm(5)); comments start with '#'.
func pgmHeader(r *bufio.Reader) (w, h, maxval int, err error) {
	var magic [2]byte
	if _, err = io.ReadFull(r, magic[:]); err != nil || magic != [2]byte{'P', '5'} {
		return 0, 0, 0, errors.New("pgm: not a binary PGM")
	}
	vals := [3]int{}
	for i := range vals {
		c, err := r.ReadByte()
		for err == nil && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#') {
			if c == '#' {
				_, err = r.ReadString('\n')
			}
			if err == nil {
				c, err = r.ReadByte()
			}
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("pgm: short header: %w", err)
		}
		n := 0
		for err == nil && c >= '0' && c <= '9' {
			n = n*10 + int(c-'0')
			if n > 1<<24 {
				return 0, 0, 0, errors.New("pgm: implausible header value")
			}
			c, err = r.ReadByte()
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("pgm: short header: %w", err)
		}
		vals[i] = n
	}
	w, h, maxval = vals[0], vals[1], vals[2]
	if w <= 0 || h <= 0 || maxval <= 0 || maxval > 255 {
		return 0, 0, 0, fmt.Errorf("pgm: unsupported %dx%d maxval %d", w, h, maxval)
	}
	return w, h, maxval, nil
}

func decodePGMConfig(r io.Reader) (image.Config, error) {
	w, h, _, err := pgmHeader(bufio.NewReader(r))
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: color.GrayModel, Width: w, Height: h}, nil
}

func decodePGM(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	w, h, maxval, err := pgmHeader(br)
	if err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	if _, err := io.ReadFull(br, img.Pix); err != nil {
		return nil, fmt.Errorf("pgm: short pixel data: %w", err)
	}
	if maxval != 255 {
		for i, v := range img.Pix {
			img.Pix[i] = uint8(min(int(v), maxval) * 255 / maxval)
		}
	}
	return img, nil
}
