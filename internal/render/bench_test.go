package render

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/result"
)

// BenchmarkSearchablePDF is the write step of a scanned document: nine
// 300-dpi JPEG pages (2550×3300) each given a text layer of 400 words
// (40 lines of 10), the whole PDF read and written by pdfcpu.
func BenchmarkSearchablePDF(b *testing.B) {
	jpg := pdftest.GrayJPEG(2550, 3300)
	var pages []pdftest.Page
	var results []*result.Page
	for range 9 {
		pages = append(pages, pdftest.Page{MediaBox: pdftest.Letter, JPEG: jpg, JW: 2550, JH: 3300})
		p := &result.Page{Width: 2550, Height: 3300, Source: result.SourceOCR}
		for l := range 40 {
			line := result.Line{Box: result.Box{X0: 200, Y0: 200 + 70*l, X1: 2300, Y1: 250 + 70*l}}
			for w := range 10 {
				line.Words = append(line.Words, result.Word{Text: fmt.Sprintf("word%d", w), Box: result.Box{X0: 200 + 210*w, Y0: line.Box.Y0, X1: 380 + 210*w, Y1: line.Box.Y1}})
			}
			p.Blocks = append(p.Blocks, result.Block{Paragraphs: []result.Paragraph{{Lines: []result.Line{line}}}})
		}
		results = append(results, p)
	}
	in := pdftest.Build(pages)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		var out bytes.Buffer
		if _, err := SearchablePDF(&out, in, results, Options{DeflateJPEG: true}); err != nil {
			b.Fatal(err)
		}
	}
}
