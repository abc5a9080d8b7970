package ppocr

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/lector-ocr/lector/internal/errcode"
)

// Recognizer is PP-OCR's text recogniser alone, without the detector or
// the direction classifier: it reads crops whose boxes another engine
// found (the structure pipeline re-reads Tesseract's words in small
// print with it). One ONNX Runtime session on the CPU; Read is safe from
// several goroutines at once.
type Recognizer struct {
	h *handle
}

// Documented memory of a Recognizer (ONNX Runtime 1.29.0, v4's rec.onnx,
// one thread), measured in one process (TestRecognizerMemory's figures,
// docs/BENCHMARKS.md): the session's load and what a batch of word crops
// adds at its peak, with the CPU arena shrunk after each run (runShrink).
const (
	RecognizerLoadBytes    = 64 << 20
	RecognizerPerPageBytes = 32 << 20
)

// RecognizerInstalled reports whether config's recogniser (a version,
// "v4", or an absolute directory) and ONNX Runtime are installed.
func (e Engine) RecognizerInstalled(config string) bool {
	dir, err := e.modelDir(config)
	if err != nil || e.Dir == "" && !filepath.IsAbs(config) {
		return false
	}
	for _, f := range []string{filepath.Join(e.libDir(), libName), filepath.Join(dir, recFile), filepath.Join(dir, keysFile)} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// OpenRecognizer opens config's recogniser on the CPU with threads
// intra-op threads (at least one). Errors: unknown_model when it is not
// installed (RecognizerInstalled), model_load_failed when it does not
// load.
func (e Engine) OpenRecognizer(config string, threads int) (*Recognizer, error) {
	if !e.RecognizerInstalled(config) {
		return nil, errcode.New(errcode.UnknownModel, "ppocr:%s: the recogniser or ONNX Runtime is not installed in %s", config, e.Dir)
	}
	dir, _ := e.modelDir(config)
	if err := initORT(filepath.Join(e.libDir(), libName)); err != nil {
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr")
	}
	dict, err := readDict(filepath.Join(dir, keysFile))
	if err != nil {
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr: reading the dictionary")
	}
	cfg := sessionConfig{Threads: max(threads, 1), GPU: -1, LibDir: e.libDir()}
	opts, err := newSessionOptions(cfg)
	if err != nil {
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr")
	}
	defer opts.Destroy() // no memory pattern (newSessionOptions): reading
	// the same 220 crops four times in one process, the resident size grew
	// 70 → 360 → 440 → 470 → 570 MiB with the pattern, 70 → 340 → 355 →
	// 385 → 410 MiB without.
	s, err := newSession(filepath.Join(dir, recFile), opts, shrinkFor(cfg))
	if err != nil {
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr: loading %s", recFile)
	}
	m := &model{name: "ppocr:" + config, rec: s, dict: dict, recHeight: 48, minInput: recognizerMinInput}
	if sh := s.inShape; len(sh) == 4 && sh[2] > 0 {
		m.recHeight = int(sh[2])
	}
	return &Recognizer{h: &handle{m: m}}, nil
}

// recognizerMinInput is a Recognizer's narrowest input in pixels: its
// crops are phrases, often one short word or number, and PaddleOCR's 320
// (recWidth) was mostly padding for them. Measured on the PubTabNet
// examples' small print (docs/BENCHMARKS.md): 320 px 0.8104 TEDS, 37.0 s
// CPU; 192 px 0.8106, 31.2 s; 96 px 0.8035, 24.8 s.
const recognizerMinInput = 192

// Reading is what the recogniser read in one crop: its text (spaces
// where the characters stand apart, wordBreaks) and confidence, 0–1 (the
// mean of its characters' probabilities, PaddleOCR's CTCLabelDecode).
type Reading struct {
	Text string
	Conf float64
	// Chars are Text's characters, each with the span of the crop's
	// width it was read from (fractions 0–1 of the crop's width, from
	// the CTC time steps that emitted it), in reading order.
	Chars []Char
}

// Char is one character of a Reading.
type Char struct {
	R          rune
	Start, End float64 // fractions of the crop's width
}

// Read reads each of g's rectangles as one line of text, in batches of
// similar aspect as the PP-OCR pipeline reads its lines (recognizeAt: the
// crop resized to the recogniser's height, 48 px, keeping its aspect).
// Rectangles are clipped to g; an empty one reads as nothing. A cancelled
// ctx stops between batches or terminates the run.
func (r *Recognizer) Read(ctx context.Context, g *image.Gray, rects []image.Rectangle) ([]Reading, error) {
	out := make([]Reading, len(rects))
	var crops []*bgr
	var at []int
	for i, rc := range rects {
		rc = rc.Intersect(g.Bounds())
		if rc.Empty() {
			continue
		}
		crops = append(crops, grayCrop(g, rc))
		at = append(at, i)
	}
	if len(crops) == 0 {
		return out, nil
	}
	lines := make([]line, len(crops))
	if err := r.h.recognizeAt(ctx, crops, lines, 0); err != nil {
		return nil, fmt.Errorf("ppocr: recognising: %w", err)
	}
	for k, i := range at {
		l := lines[k]
		rd := Reading{Text: strings.TrimSpace(l.Text), Conf: l.Conf, Chars: make([]Char, len(l.Chars))}
		for j, c := range l.Chars {
			rd.Chars[j] = Char{R: c.R, Start: l.Spans[j][0], End: l.Spans[j][1]}
		}
		out[i] = rd
	}
	return out, nil
}

// Close closes the session.
func (r *Recognizer) Close() error {
	r.h.m.rec.close()
	return nil
}

// grayCrop copies rc of g into a BGR image (the three channels equal).
func grayCrop(g *image.Gray, rc image.Rectangle) *bgr {
	out := newBGR(rc.Dx(), rc.Dy())
	i := 0
	for y := rc.Min.Y; y < rc.Max.Y; y++ {
		row := g.Pix[g.PixOffset(rc.Min.X, y):g.PixOffset(rc.Max.X, y)]
		for _, v := range row {
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
			i += 3
		}
	}
	return out
}
