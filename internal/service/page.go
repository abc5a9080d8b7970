package service

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"os"

	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/spool"
)

// pageRenders bounds the page images made at once for viewers (a PDF page
// is a pdftoppm process): two, so viewers never take the node's CPUs from
// its tasks.
var pageRenders = make(chan struct{}, 2)

// PageImage returns page (1-based) of subject's task id as an image a
// browser shows, upright and in the frame of the task's result (the JSON's
// page width and height and its boxes; a PDF page is rendered as the task
// read it): the input itself for a PNG, JPEG, GIF, BMP or WebP the engine
// did not turn (a browser applies a JPEG's EXIF orientation as the task
// did), a PNG for a PDF or TIFF page and for an image the engine turned
// (the JSON page's rotation, EXIF orientation applied first). A Tesseract
// page's deskew (a few degrees) is not applied to the image.
// media is "png", "jpeg", …. Errors: not_found (no such task or page), gone
// (results deleted), invalid_document (the page no longer renders).
func (s *Service) PageImage(ctx context.Context, subject, id string, page int) (data []byte, media string, err error) {
	t, err := s.cfg.Store.Get(ctx, id, subject)
	if err != nil {
		return nil, "", err
	}
	if !t.ResultsDeleted.IsZero() {
		return nil, "", errcode.New(errcode.Gone, "the input of task %s was deleted with its results", id)
	}
	if page < 1 || page > max(t.PagesTotal, 1) {
		return nil, "", errcode.New(errcode.NotFound, "task %s has no page %d", id, page)
	}
	select {
	case pageRenders <- struct{}{}:
		defer func() { <-pageRenders }()
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	f, err := os.CreateTemp(s.uploadDir(), "page-"+id+"-")
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(f.Name())
	if _, err := s.cfg.Store.CopyBlob(ctx, f, id, "input"); err != nil {
		f.Close()
		return nil, "", err
	}
	f.Close()
	sp, err := spool.Open(f.Name())
	if err != nil {
		return nil, "", err
	}
	defer sp.Close()
	in, err := sp.Map()
	if err != nil {
		return nil, "", err
	}
	quads := s.pageQuarterTurns(ctx, id, page)
	switch kind := document.Sniff(in); kind {
	case "png", "jpeg", "gif", "bmp", "webp":
		if quads == 0 {
			return bytes.Clone(in), kind, nil
		}
		// Turned by the engine: decoded as the task read it (EXIF
		// orientation, square pixels) and turned below, like a PDF page.
	case "tiff":
		img, err := engine.DecodeTIFFPage(in, page)
		if errcode.Of(err) == errcode.InvalidDocument {
			return nil, "", err
		}
		if err != nil {
			return nil, "", errcode.Wrap(errcode.InvalidDocument, err, "decoding page %d", page)
		}
		return encodePNG(turn(img, false, quads))
	}
	doc, err := document.Open(ctx, in, s.cfg.Limits, s.uploadDir())
	if err != nil {
		return nil, "", err
	}
	defer doc.Close()
	if page > doc.NumPages() {
		return nil, "", errcode.New(errcode.NotFound, "task %s has no page %d", id, page)
	}
	dir, err := os.MkdirTemp(s.uploadDir(), "page-"+id+"-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	im, err := doc.Page(ctx, page-1, dir)
	if err != nil {
		return nil, "", err
	}
	o := im.Orientation
	if im.Format != "pgm" && quads == 0 && o.QuarterTurns%4 == 0 && !o.Mirror {
		return im.Data, im.Format, nil
	}
	// pgm is how PDF pages are rendered for engines; browsers want PNG.
	img, _, err := image.Decode(bytes.NewReader(im.Data))
	if err != nil {
		return nil, "", errcode.Wrap(errcode.InvalidDocument, err, "decoding page %d", page)
	}
	if o.Mirror || o.QuarterTurns%4 != 0 {
		img = turn(img, o.Mirror, o.QuarterTurns)
	}
	return encodePNG(turn(img, false, quads))
}

func encodePNG(img image.Image) ([]byte, string, error) {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "png", nil
}

// pageQuarterTurns returns the clockwise quarter turns (0–3) the engine
// applied to page (1-based) of task id to read it upright (the JSON
// result's page rotation), 0 when the task stored no JSON result (a
// synchronous task, or one whose JSON cannot be read: the input's frame is
// then the best there is).
func (s *Service) pageQuarterTurns(ctx context.Context, id string, page int) int {
	var buf bytes.Buffer
	if _, err := s.cfg.Store.CopyBlob(ctx, &buf, id, "json"); err != nil {
		return 0
	}
	var res struct {
		Pages []struct {
			Number   int `json:"number"`
			Rotation int `json:"rotation"`
		} `json:"pages"`
	}
	if json.Unmarshal(buf.Bytes(), &res) != nil {
		return 0
	}
	for _, p := range res.Pages {
		if p.Number == page {
			return ((p.Rotation/90)%4 + 4) % 4
		}
	}
	return 0
}

// turn returns src mirrored left-right (when mirror) and then turned
// clockwise by quads quarter turns (EXIF's order, engine.Orientation), at
// its origin; src itself when there is nothing to do. Gray images stay
// gray, others become RGBA.
func turn(src image.Image, mirror bool, quads int) image.Image {
	quads = (quads%4 + 4) % 4
	if quads == 0 && !mirror {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if quads%2 == 1 {
		dw, dh = h, w
	}
	var sp, dp []byte
	var bpp, sstride, dstride int
	var out image.Image
	if _, ok := src.(*image.Gray); ok {
		g := image.NewGray(image.Rect(0, 0, w, h))
		draw.Draw(g, g.Rect, src, b.Min, draw.Src)
		d := image.NewGray(image.Rect(0, 0, dw, dh))
		sp, dp, bpp, sstride, dstride, out = g.Pix, d.Pix, 1, g.Stride, d.Stride, d
	} else {
		c := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(c, c.Rect, src, b.Min, draw.Src)
		d := image.NewRGBA(image.Rect(0, 0, dw, dh))
		sp, dp, bpp, sstride, dstride, out = c.Pix, d.Pix, 4, c.Stride, d.Stride, d
	}
	for v := range h {
		for u := range w {
			m := u
			if mirror {
				m = w - 1 - u
			}
			x, y := m, v
			switch quads {
			case 1: // (x, y) = (h − 1 − v, u): the viewer's rotate(90)
				x, y = h-1-v, m
			case 2:
				x, y = w-1-m, h-1-v
			case 3:
				x, y = v, w-1-m
			}
			copy(dp[y*dstride+x*bpp:][:bpp], sp[v*sstride+u*bpp:][:bpp])
		}
	}
	return out
}
