// Package document turns input bytes into pages. The type is sniffed from
// the bytes, never a file name; every limit (bytes, pages, pixels per page)
// is checked from headers before anything is decoded. Images (PNG, JPEG
// with its EXIF orientation, multi-page TIFF, BMP, WebP, GIF) are passed to
// the engine as they are; PDFs are measured with pdfinfo and rendered one
// page at a time with pdftoppm, under a time and memory limit, at a DPI
// lowered where a page would exceed the pixel limit.
package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // registers GIF headers for DecodeConfig
	_ "image/jpeg" // registers JPEG headers for DecodeConfig
	_ "image/png"  // registers PNG headers for DecodeConfig
	"time"

	_ "golang.org/x/image/bmp"  // registers BMP headers
	_ "golang.org/x/image/webp" // registers WebP headers

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// Defaults of Limits: the three size limits are `lector serve`'s (a zero
// size limit is no limit here); the rendering settings are what a zero field
// means.
const (
	DefaultMaxBytes         = 100 << 20
	DefaultMaxPages         = 1000
	DefaultMaxPixelsPerPage = 100_000_000
	DefaultDPI              = 300
	DefaultRenderTimeout    = time.Minute
	DefaultRenderMemory     = 2 << 30
)

// Limits bound what an input may cost. A zero size limit is no limit; zero
// rendering settings take their defaults.
type Limits struct {
	MaxBytes         int64
	MaxPages         int
	MaxPixelsPerPage int64
	// DPI renders PDF pages (default 300).
	DPI int
	// RenderTimeout bounds pdfinfo and each pdftoppm run (default 60s).
	RenderTimeout time.Duration
	// RenderMemory bounds pdftoppm's address space in bytes (default 2 GiB).
	RenderMemory int64
}

func (l Limits) withDefaults() Limits {
	if l.DPI <= 0 {
		l.DPI = DefaultDPI
	}
	if l.RenderTimeout <= 0 {
		l.RenderTimeout = DefaultRenderTimeout
	}
	if l.RenderMemory <= 0 {
		l.RenderMemory = DefaultRenderMemory
	}
	return l
}

// Document is a checked input: its pages' sizes up front and each page on
// demand. Close removes what it wrote.
type Document interface {
	NumPages() int
	PageSize(i int) (width, height int)
	Page(ctx context.Context, i int, workspace string) (engine.Image, error)
	Close() error
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
	case bytes.HasPrefix(data, []byte("BM")) && len(data) >= 26:
		return "bmp"
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return "webp"
	case pdfStart(data) >= 0:
		return "pdf"
	}
	return ""
}

// pdfHeaderWindow is how far into a file a PDF's header may start: readers
// accept bytes before "%PDF-" (a mail or transport header) within the first
// 1024 bytes, as Acrobat does (PDF 32000-1 Annex H.3, note 13) and poppler
// and qpdf do.
const pdfHeaderWindow = 1024

// pdfStart is where data's "%PDF-" header starts, or -1 when it has none
// within pdfHeaderWindow bytes.
func pdfStart(data []byte) int {
	return bytes.Index(data[:min(len(data), pdfHeaderWindow+len("%PDF-"))], []byte("%PDF-"))
}

// Open checks data against lim and returns its document. dir is where a PDF
// is written for the renderer (the task's workspace).
func Open(ctx context.Context, data []byte, lim Limits, dir string) (Document, error) {
	lim = lim.withDefaults()
	if len(data) == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "the input is empty")
	}
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return nil, errcode.New(errcode.TooLarge, "the input is %d bytes, over the limit of %d", len(data), lim.MaxBytes)
	}
	switch kind := Sniff(data); kind {
	case "png", "jpeg", "gif", "bmp", "webp":
		return openImage(ctx, kind, data, lim, dir)
	case "tiff":
		return openTIFF(data, lim, dir)
	case "pdf":
		// The bytes before the header are not the PDF's: its offsets
		// count from the header, and its output starts there.
		return openPDF(ctx, data[pdfStart(data):], lim, dir)
	default:
		return nil, errcode.New(errcode.UnsupportedMediaType, "the input is not an image or PDF that Lector reads (PNG, JPEG, TIFF, BMP, WebP, GIF, PDF)")
	}
}

func checkPixels(w, h int, lim Limits, page int) error {
	if w <= 0 || h <= 0 {
		return errcode.New(errcode.InvalidDocument, "page %d has no pixels", page)
	}
	if px := int64(w) * int64(h); lim.MaxPixelsPerPage > 0 && px > lim.MaxPixelsPerPage {
		return errcode.New(errcode.TooManyPixels, "page %d has %d×%d pixels, over the limit of %d", page, w, h, lim.MaxPixelsPerPage)
	}
	return nil
}

// Image is a one-page document holding an encoded image.
type Image struct {
	Format        string
	Width, Height int
	Data          []byte
	orientation   engine.Orientation
	dpi           int  // from the header (imageDPI); 0 unknown
	bits          int  // bits per pixel as stored (imageBits); 0 unknown
	ydpi          int  // the vertical resolution (imageYDPI); 0 unknown
	flat          bool // Data is the file composited on white (onWhite), not the file
	recoded       bool // Data is the file in another coding (an arithmetic-coded JPEG Huffman-coded: arithJPEG)
}

// openImage opens an encoded image. An arithmetic-coded JPEG, which Go's
// decoder does not read, is transcoded losslessly to Huffman coding by
// libjpeg's jpegtran (arithJPEG) and held so (the searchable PDF says
// recoded).
func openImage(ctx context.Context, kind string, data []byte, lim Limits, dir string) (*Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	var arith []byte // the arithmetic-coded JPEG, Huffman-coded
	if err != nil && kind == "jpeg" {
		if w, h, ar, ok := jpegFrame(data); ok && ar {
			if err := checkPixels(w, h, lim, 1); err != nil {
				return nil, err
			}
			if arith, err = arithJPEG(ctx, data, lim, dir); err != nil {
				return nil, err
			}
			if cfg, _, err = image.DecodeConfig(bytes.NewReader(arith)); err == nil && (cfg.Width != w || cfg.Height != h) {
				err = fmt.Errorf("jpegtran wrote %d×%d pixels of a %d×%d frame", cfg.Width, cfg.Height, w, h)
			}
		}
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "the %s header is unreadable", kind)
	}
	if err := checkPixels(cfg.Width, cfg.Height, lim, 1); err != nil {
		return nil, err
	}
	im := &Image{Format: kind, Width: cfg.Width, Height: cfg.Height, Data: data, dpi: imageDPI(kind, data), ydpi: imageYDPI(kind, data)}
	if arith != nil {
		im.Data, im.recoded = arith, true
	}
	if hasAlpha(cfg.ColorModel) {
		flat, err := onWhite(data)
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidDocument, err, "the %s image is unreadable", kind)
		}
		if flat != nil {
			im.Format, im.Data, im.flat = "png", flat, true
		}
	}
	im.bits = imageBits(im.Data, cfg.ColorModel)
	if kind == "jpeg" {
		if quads, flip := exifOrientation(data); quads != 0 || flip {
			im.orientation = engine.Orientation{QuarterTurns: quads, Mirror: flip}
			if quads%2 == 1 {
				im.Width, im.Height = im.Height, im.Width
			}
		}
	}
	if w, h, _, ok := im.square(); ok {
		if err := checkPixels(w, h, lim, 1); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// square is the image's size, stored (not upright), once resampled to
// square pixels, and ok whether it needs that (squareScale).
func (im *Image) square() (w, h int, stored [2]int, ok bool) {
	stored = [2]int{im.Width, im.Height}
	if im.orientation.QuarterTurns%2 == 1 {
		stored = [2]int{im.Height, im.Width}
	}
	fx, fy, ok := squareScale(im.dpi, im.ydpi)
	if !ok {
		return 0, 0, stored, false
	}
	w, h = squareSize(stored[0], stored[1], fx, fy)
	return w, h, stored, true
}

// NumPages is 1.
func (im *Image) NumPages() int { return 1 }

// PageSize returns the image's size, upright, as the engine gets it: at
// square pixels when its resolutions differ (Page).
func (im *Image) PageSize(int) (int, int) {
	w, h, _, ok := im.square()
	switch {
	case !ok:
		return im.Width, im.Height
	case im.orientation.QuarterTurns%2 == 1:
		return h, w
	}
	return w, h
}

// DecodePage decodes the image as stored, for a measure before it runs
// (task.PageDecoder: the structure pipeline's print height). It refuses,
// with an error, an image the engine gets otherwise — turned by its EXIF
// orientation or resampled to square pixels — whose measure would not be
// the engine's.
func (im *Image) DecodePage(int) (image.Image, error) {
	if _, _, _, ok := im.square(); ok || im.orientation != (engine.Orientation{}) {
		return nil, errors.New("the page is turned or resampled before it is read")
	}
	img, _, err := image.Decode(bytes.NewReader(im.Data))
	return img, err
}

// PageBits returns the image's bits per pixel as the engine gets it: as
// stored (1 for a bilevel scan; 0 unknown), or 8 (gray) or 24 (colour)
// once resampled to square pixels.
func (im *Image) PageBits(int) int {
	if _, _, _, ok := im.square(); ok {
		return resampledBits(im.bits)
	}
	return im.bits
}

// resampledBits is the bits per pixel of a page of bits once resampled
// (squarePixels): 8 for one channel, 24 for colour.
func resampledBits(bits int) int {
	if bits > 0 && bits <= 8 {
		return 8
	}
	return 24
}

// imageBits is an encoded image's bits per pixel: from a PNG's IHDR (bit
// depth × channels of its colour type, PNG spec. §11.2.2), else from the
// colour model its header decodes to (8 a gray channel, 24 YCbCr, 32
// CMYK or RGBA); 0 when neither says.
func imageBits(data []byte, m color.Model) int {
	if len(data) >= 26 && string(data[1:4]) == "PNG" && string(data[12:16]) == "IHDR" {
		channels := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[data[25]]
		return int(data[24]) * channels
	}
	switch m {
	case color.GrayModel:
		return 8
	case color.Gray16Model:
		return 16
	case color.YCbCrModel:
		return 24
	case color.CMYKModel, color.RGBAModel, color.NRGBAModel:
		return 32
	}
	if _, ok := m.(color.Palette); ok {
		return 8
	}
	return 0
}

// Page returns the encoded image; one whose horizontal and vertical
// resolutions differ (a fax's 204 × 98 dpi) is resampled to square pixels
// at the higher one (squarePixels), SourceWidth and SourceHeight its size
// as it is, so that the engine reads its text in its true proportions.
func (im *Image) Page(_ context.Context, i int, _ string) (engine.Image, error) {
	out := engine.Image{Number: i + 1, Width: im.Width, Height: im.Height, Format: im.Format, Data: im.Data, Orientation: im.orientation, DPI: im.dpi}
	w, h, _, ok := im.square()
	if !ok {
		return out, nil
	}
	data, format, err := squarePixels(im.Data, 0, w, h)
	if err != nil { // not decodable in Go: as it is, squashed, as before
		return out, nil
	}
	out.SourceWidth, out.SourceHeight = im.Width, im.Height
	out.Width, out.Height = im.PageSize(i)
	out.Data, out.Format, out.DPI = data, format, max(im.dpi, im.ydpi)
	return out, nil
}

// Close does nothing.
func (im *Image) Close() error { return nil }
