// Package document turns input bytes into pages. The type is sniffed from
// the bytes, never a file name, and a page's pixel count is checked from the
// header before anything is decoded. This first version reads single-image
// PNG, JPEG and GIF inputs; TIFF, BMP, WebP and PDF come with the Tesseract
// work.
package document

import (
	"bytes"
	"context"
	"image"
	_ "image/gif"  // registers GIF headers for DecodeConfig
	_ "image/jpeg" // registers JPEG headers for DecodeConfig
	_ "image/png"  // registers PNG headers for DecodeConfig

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// Limits bound what an input may cost.
type Limits struct {
	MaxBytes         int64
	MaxPixelsPerPage int64
}

// Sniff names the media type of data from its first bytes: "png", "jpeg",
// "gif", "tiff", "bmp", "webp", "pdf", or "" when unknown.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "gif"
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "tiff"
	case bytes.HasPrefix(data, []byte("BM")):
		return "bmp"
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return "webp"
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "pdf"
	}
	return ""
}

// Image is a one-page document holding an encoded image.
type Image struct {
	Format        string
	Width, Height int
	Data          []byte
}

// Open checks data against limits and returns its document.
func Open(data []byte, lim Limits) (*Image, error) {
	if len(data) == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "the input is empty")
	}
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return nil, errcode.New(errcode.TooLarge, "the input is %d bytes, over the limit of %d", len(data), lim.MaxBytes)
	}
	kind := Sniff(data)
	switch kind {
	case "png", "jpeg", "gif":
	case "":
		return nil, errcode.New(errcode.UnsupportedMediaType, "the input is not an image or PDF Lector reads")
	default:
		return nil, errcode.New(errcode.UnsupportedMediaType, "%s input is not supported yet", kind)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "the %s header is unreadable", kind)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, errcode.New(errcode.InvalidDocument, "the image has no pixels")
	}
	if px := int64(cfg.Width) * int64(cfg.Height); lim.MaxPixelsPerPage > 0 && px > lim.MaxPixelsPerPage {
		return nil, errcode.New(errcode.TooLarge, "the image has %d×%d pixels, over the limit of %d", cfg.Width, cfg.Height, lim.MaxPixelsPerPage)
	}
	return &Image{Format: kind, Width: cfg.Width, Height: cfg.Height, Data: data}, nil
}

// NumPages is 1.
func (im *Image) NumPages() int { return 1 }

// PageSize returns the image's size.
func (im *Image) PageSize(int) (int, int) { return im.Width, im.Height }

// Page returns the encoded image.
func (im *Image) Page(_ context.Context, i int, _ string) (engine.Image, error) {
	return engine.Image{Number: i + 1, Width: im.Width, Height: im.Height, Format: im.Format, Data: im.Data}, nil
}
