package structure

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	"slices"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/layout"
	"github.com/lector-ocr/lector/internal/result"
)

// processText analyses the layout of a page read from its own text
// (engine.Image.Text: a born-digital PDF page's words, exact, with their
// positions): the same analysis as over recognised words — tables, their
// cells' text taken from those words, paragraphs, figures, reading order —
// with the rendered page's gray for ruling lines and figure crops, and
// Tesseract's table and image regions from its layout analysis alone
// (tesseract.OptRegions: no recognition), which the analysis of a
// recognised page has from its recognition. Nothing is recognised, so a
// cell says what the PDF says ("Il1O0" stays so). A page whose image
// cannot be decoded (none is sent for a page too large to render) is
// analysed from its words alone: no ruled tables, no figures.
func (h *handle) processText(ctx context.Context, im engine.Image) (*result.Page, error) {
	page := *im.Text
	page.Blocks = slices.Clone(page.Blocks)
	g := decodeGray(im)
	if g != nil && !h.ppocr { // ppocr finds no regions of its own
		regions, err := h.ocr.Process(ctx, im, engine.Options{Params: map[string]string{tesseract.OptRegions: "1"}})
		if err != nil {
			return nil, err
		}
		for _, b := range regions.Blocks {
			if b.Type == result.BlockTable || b.Type == result.BlockFigure {
				page.Blocks = append(page.Blocks, result.Block{Type: b.Type, Box: b.Box})
			}
		}
	}
	page.Blocks = layout.Analyze(g, &page, layout.Options{ExactWords: true})
	page.Engine = h.name
	page.Source = result.SourceText
	page.Gray = nil
	return &page, nil
}

// decodeGray decodes the page's image (a PDF page: PGM, already gray) as
// 8-bit gray, or returns nil. The words of a PDF page are in the frame of
// its rendering, which needs no orientation.
func decodeGray(im engine.Image) *image.Gray {
	if len(im.Data) == 0 || im.TIFFPage > 1 || im.Orientation != (engine.Orientation{}) {
		return nil
	}
	src, _, err := image.Decode(bytes.NewReader(im.Data))
	if err != nil {
		return nil
	}
	if g, ok := src.(*image.Gray); ok && g.Rect.Min == (image.Point{}) {
		return g
	}
	g := image.NewGray(image.Rect(0, 0, src.Bounds().Dx(), src.Bounds().Dy()))
	draw.Draw(g, g.Rect, src, src.Bounds().Min, draw.Src)
	return g
}
