package structure

import (
	"context"
	"image"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lector-ocr/lector/internal/engine/ppocr"
	"github.com/lector-ocr/lector/internal/result"
)

// Small print re-read with PP-OCR's recogniser. Tesseract's model misreads
// print a few pixels tall however the page is enlarged (PubTabNet's 4–6 px
// print: `0.716` read `A716`, `az16`), while PP-OCRv4's recogniser reads
// the same words right from their crops. Where a page's print is that
// small, Tesseract's layout, lines, words and boxes are kept and the
// text of the phrases it doubted is read again by the recogniser alone (no
// detection) from the page as Tesseract read it (enlarged). Pages with
// larger print take Tesseract's reading as it is: nothing more is run or
// loaded. Without the recogniser's files the small print keeps
// Tesseract's text.
const (
	// recModel is the ppocr recogniser used.
	recModel = "v4"
	// smallPrintHeight is the print height, in the page's own pixels,
	// under which words are re-read: the median height of Tesseract's
	// lines (ascenders to descenders) divided by the enlargement.
	// Measured on both table sets (docs/BENCHMARKS.md): the PubTabNet
	// examples' print is 5.2–10.3 px (one image 14.4), the ICDAR 2013
	// tables' 13.2 px and more.
	smallPrintHeight = 12
	// rereadMinConf: a re-reading replaces Tesseract's text only when
	// the recogniser is at least this confident (0–1; PaddleOCR drops
	// lines under 0.5, drop_score).
	rereadMinConf = 0.5
	// rereadBelow: only phrases with a word Tesseract read with less
	// confidence (0–100) are re-read. Measured on the PubTabNet examples:
	// every phrase 0.8106 TEDS, 31.2 s CPU; under 90, 0.8085, 24.2 s.
	rereadBelow = 90
	// rereadGap: words of a line apart by less than this × the line's
	// height are one phrase (one crop).
	rereadGap = 1.0
	// rereadPad: a phrase's crop reaches this × its height beyond its
	// words' boxes on each side (at least 2 px): the recogniser was
	// trained on line crops with a margin. Measured on the PubTabNet
	// examples: 1/6 0.796, 0.4 0.810, 0.6 0.811 TEDS.
	rereadPad = 0.4
)

// recognizer is a structure model's PP-OCR recogniser, opened on the
// first page that needs it and shared by the model's handles.
type recognizer struct {
	pp      ppocr.Engine
	threads int
	mu      sync.Mutex
	r       *ppocr.Recognizer
	err     error
	// rereads counts the pages given to the recogniser.
	rereads atomic.Int64
}

// get opens the recogniser once; a failure to open is remembered and the
// pages are then left as Tesseract read them.
func (l *recognizer) get() (*ppocr.Recognizer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r == nil && l.err == nil {
		l.r, l.err = l.pp.OpenRecognizer(recModel, l.threads)
	}
	return l.r, l.err
}

func (l *recognizer) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r != nil {
		_ = l.r.Close()
		l.r = nil
	}
}

// newRecognizer is the recogniser of a structure model (opened with the
// model, Engine.Load) with slots handles (each run gets the cores / slots intra-op threads,
// as ppocr's do), or nil where it is not installed.
func newRecognizer(pp ppocr.Engine, slots int) *recognizer {
	if !pp.RecognizerInstalled(recModel) {
		return nil
	}
	return &recognizer{pp: pp, threads: max(1, runtime.NumCPU()/max(slots, 1))}
}

// printPixels is the page's print height in its own pixels: the median
// height of Tesseract's lines holding words, divided by the enlargement
// scale (0 when it has none).
func printPixels(p *result.Page, scale float64) float64 {
	var hs []int
	for _, b := range p.Blocks {
		for _, pp := range b.Paragraphs {
			for _, l := range pp.Lines {
				if len(l.Words) > 0 && l.Box.Height() > 0 {
					hs = append(hs, l.Box.Height())
				}
			}
		}
	}
	if len(hs) == 0 {
		return 0
	}
	slices.Sort(hs)
	return float64(hs[len(hs)/2]) / scale
}

// reread re-reads the words of p (g is the page as Tesseract read it, in
// the words' frame) with r, phrase by phrase: a
// phrase is a run of a line's words apart by less than rereadGap × the
// line's height (a table cell, a line of running text), read from its
// crop as one line, and its characters go to the words they lie in (by
// where the recogniser read them, Reading.Chars). A word takes the
// characters that fell in it when the phrase's reading is confident
// (rereadMinConf); a word none fell in keeps Tesseract's text. Boxes and
// confidences stay Tesseract's. It returns the phrases re-read.
func reread(ctx context.Context, r *ppocr.Recognizer, p *result.Page, g *image.Gray) (int, error) {
	type phrase struct {
		words []*result.Word
		box   result.Box
	}
	var phrases []phrase
	var rects []image.Rectangle
	for i := range p.Blocks {
		for j := range p.Blocks[i].Paragraphs {
			for n := range p.Blocks[i].Paragraphs[j].Lines {
				l := &p.Blocks[i].Paragraphs[j].Lines[n]
				ws := make([]*result.Word, 0, len(l.Words))
				for w := range l.Words {
					ws = append(ws, &l.Words[w])
				}
				slices.SortStableFunc(ws, func(a, b *result.Word) int { return a.Box.X0 - b.Box.X0 })
				gap := rereadGap * float64(l.Box.Height())
				for w := 0; w < len(ws); {
					e := w + 1
					for e < len(ws) && float64(ws[e].Box.X0-ws[e-1].Box.X1) < gap {
						e++
					}
					ph := phrase{words: ws[w:e]}
					doubtful := false
					for _, wd := range ph.words {
						ph.box = ph.box.Union(wd.Box)
						doubtful = doubtful || wd.Confidence < rereadBelow
					}
					w = e
					if !doubtful {
						continue
					}
					b := ph.box
					pad := max(2, int(float64(b.Height())*rereadPad))
					phrases = append(phrases, ph)
					rects = append(rects, image.Rect(b.X0-pad, b.Y0-pad, b.X1+pad, b.Y1+pad))
				}
			}
		}
	}
	if len(phrases) == 0 {
		return 0, nil
	}
	rs, err := r.Read(ctx, g, rects)
	if err != nil {
		return 0, err
	}
	for i, ph := range phrases {
		if rs[i].Conf < rereadMinConf {
			continue
		}
		rc := rects[i].Intersect(g.Bounds())
		text := make([][]rune, len(ph.words))
		for _, c := range rs[i].Chars {
			if c.R == ' ' {
				continue
			}
			x := float64(rc.Min.X) + (c.Start+c.End)/2*float64(rc.Dx())
			best, bd := 0, math.Inf(1)
			for w, wd := range ph.words {
				d := 0.0
				if x < float64(wd.Box.X0) {
					d = float64(wd.Box.X0) - x
				} else if x > float64(wd.Box.X1) {
					d = x - float64(wd.Box.X1)
				}
				if d < bd {
					best, bd = w, d
				}
			}
			text[best] = append(text[best], c.R)
		}
		for w, wd := range ph.words {
			if len(text[w]) > 0 {
				wd.Text = string(text[w])
			}
		}
	}
	return len(phrases), nil
}
