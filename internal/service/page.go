package service

import (
	"bytes"
	"context"
	"image"
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
// page width and height; a PDF page is rendered as the task read it): the
// input itself for a PNG, JPEG, GIF, BMP or WebP (a browser applies a
// JPEG's EXIF orientation as the task did), a PNG for a PDF or TIFF page.
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
	switch kind := document.Sniff(in); kind {
	case "png", "jpeg", "gif", "bmp", "webp":
		return bytes.Clone(in), kind, nil
	case "tiff":
		img, err := engine.DecodeTIFFPage(in, page)
		if errcode.Of(err) == errcode.InvalidDocument {
			return nil, "", err
		}
		if err != nil {
			return nil, "", errcode.Wrap(errcode.InvalidDocument, err, "decoding page %d", page)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), "png", nil
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
	if im.Format == "pgm" { // how PDF pages are rendered for engines; browsers want PNG
		img, _, err := image.Decode(bytes.NewReader(im.Data))
		if err != nil {
			return nil, "", errcode.Wrap(errcode.InvalidDocument, err, "decoding page %d", page)
		}
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), "png", nil
	}
	return im.Data, im.Format, nil
}
