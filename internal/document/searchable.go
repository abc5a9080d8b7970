package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/render"
	"github.com/lector-ocr/lector/internal/result"
)

// How a searchable PDF's pages were made (lector.Resources.PDFOutput).
const (
	PDFOriginal = "original" // the input's own pages, with a text layer added
	PDFRepaired = "repaired" // the input after qpdf rewrote its structure
	PDFRebuilt  = "rebuilt"  // pages redrawn by poppler's pdftocairo
	// PDFRecoded: an image's pixels put in the PDF losslessly in another
	// coding (Deflate) than the file's, which the PDF library could not embed.
	PDFRecoded = "recoded"
)

// SearchablePDF returns the input with pages' words as an invisible text
// layer (render.SearchablePDF: the input's bytes followed by an incremental
// update; JPEG images wrapped in Flate, and the update then rewritten by
// qpdf so that the input's copies go: compact), and how its pages were
// made. When pdfcpu cannot read or write
// the PDF's structure, or what it wrote lost something of the input (see
// keeps), or qpdf reports the input's structure damaged (sound: a stream
// /Length that pdfcpu and poppler read differently), the PDF is first rewritten by qpdf (which repairs cross-reference
// tables and streams, keeping every object), and failing that rebuilt page
// by page by poppler's pdftocairo (the page drawn again as poppler renders
// it: text, vectors and images, but not the original objects); the second
// value says which ("repaired", "rebuilt"); a repaired or rebuilt PDF's
// JPEGs are wrapped in Flate and the file compacted as the input's would
// have been. With lector.PDFTextRedo an
// earlier text layer is removed from the pages it OCRs (with
// lector.PDFTextForce too, so that layers never stack); in those modes a
// page with visible text of its own gets no layer (withoutOwnTextPages).
// When no page gets a layer (every page read from its text), the input is
// returned as it is.
func (p *PDF) SearchablePDF(ctx context.Context, pages []*result.Page, mode lector.PDFText) ([]byte, string, error) {
	redo := mode == lector.PDFTextRedo || mode == lector.PDFTextForce
	if mode == lector.PDFTextSkip {
		pages = p.withoutPrintedWords(pages)
	} else {
		pages = p.withoutOwnTextPages(ctx, pages, mode == lector.PDFTextForce)
	}
	if !touched(pages, redo) {
		return bytes.Clone(p.data), PDFOriginal, nil
	}
	var buf bytes.Buffer
	write := render.SearchablePDF
	var first error
	var written render.Written
	if !p.sound(ctx) {
		// pdfcpu and poppler may read a damaged structure differently: a
		// stream whose /Length is too short is cut by pdfcpu where poppler
		// (and qpdf) read on to its endstream — a JPEG lost its bottom.
		// qpdf's repair, which reads as poppler does, comes first.
		first = errors.New("qpdf reports the input's structure damaged")
	} else {
		opt := render.Options{Redo: redo, DeflateJPEG: true}
		written, first = write(&buf, p.data, pages, opt)
		if first == nil && (written.Superseded || written.Removed) {
			if first = p.compact(ctx, &buf); first != nil {
				// No qpdf to drop the superseded images (nor an earlier
				// layer's words, then kept in an earlier revision): the
				// update alone.
				buf.Reset()
				opt.DeflateJPEG = false
				_, first = write(&buf, p.data, pages, opt)
			}
		}
	}
	if first == nil {
		if bytes.Equal(buf.Bytes(), p.data) {
			// The input unchanged: buf's copy, never p.data itself, which
			// may be memory the caller unmaps once the document is closed.
			return buf.Bytes(), PDFOriginal, nil
		}
		if first = p.keeps(ctx, buf.Bytes(), pages, true); first == nil {
			return buf.Bytes(), PDFOriginal, nil
		}
	}
	errs := []error{first}
	for _, step := range []struct {
		how  string
		make func(out string) error
	}{
		{PDFRepaired, func(out string) error {
			_, err := run(ctx, p.lim, "qpdf", p.path, out)
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 3 { // written, with warnings
				return nil
			}
			return err
		}},
		{PDFRebuilt, func(out string) error { _, err := run(ctx, p.lim, "pdftocairo", "-pdf", p.path, out); return err }},
	} {
		out := filepath.Join(p.dir, step.how+".pdf")
		if err := step.make(out); err != nil {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		data, err := os.ReadFile(out)
		os.Remove(out)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The same JPEG optimisation as the input's own pages get: wrapped
		// in Flate, the update then compacted by qpdf; without qpdf to
		// compact it, the layer alone (the repaired file keeps its JPEGs).
		buf.Reset()
		opt := render.Options{Redo: redo, DeflateJPEG: true}
		w, err := render.SearchablePDF(&buf, data, pages, opt)
		if err == nil && (w.Superseded || w.Removed) {
			if err = p.compact(ctx, &buf); err != nil && w.Superseded && !w.Removed {
				buf.Reset()
				opt.DeflateJPEG = false
				_, err = render.SearchablePDF(&buf, data, pages, opt)
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.keeps(ctx, buf.Bytes(), pages, step.how == PDFRepaired); err != nil {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		return buf.Bytes(), step.how, nil
	}
	return nil, "", errcode.Wrap(errcode.Internal, errors.Join(errs...), "the searchable PDF could not be written")
}

// touched reports whether any page may change: gets a text layer, or,
// with redo, is OCR'd (an earlier layer may be removed from it). When
// none does, the input is returned as it is, damaged or not.
func touched(pages []*result.Page, redo bool) bool {
	for _, pg := range pages {
		if pg != nil && pg.Source != result.SourceText && (redo || len(pg.Blocks) > 0) {
			return true
		}
	}
	return false
}

// compact rewrites the update in buf with qpdf, which writes only the
// objects in use: the JPEGs that render.SearchablePDF wrapped in Flate
// replaced the input's, whose bytes the update left in the file. qpdf
// keeps every object in use as it was (the document information
// dictionary, XMP metadata, fonts, the DCT data under the Flate) and
// writes object streams where the input had them.
func (p *PDF) compact(ctx context.Context, buf *bytes.Buffer) error {
	in, out := filepath.Join(p.dir, "update.pdf"), filepath.Join(p.dir, "compact.pdf")
	defer os.Remove(in)
	defer os.Remove(out)
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		return err
	}
	if _, err := run(ctx, p.lim, "qpdf", in, out); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 { // 3: written, with warnings
			return err
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	buf.Reset()
	buf.Write(data)
	return nil
}

// sound reports whether qpdf reads every object of the input without
// error or warning (cross-reference offsets, stream lengths: qpdf --json
// of the objects, stream data left out, to /dev/null): only then is the
// searchable PDF an update appended to it; a damaged input (or no qpdf)
// is written whole, so the damage is not kept under the update. (qpdf
// --check, which also decodes every stream, cost 1.1 CPU seconds on the
// 9-page JPEG scan of bench/searchable-pdf.sh, this 0.01.)
func (p *PDF) sound(ctx context.Context) bool {
	_, err := run(ctx, p.lim, "qpdf", "--json", "--json-key=qpdf", "--json-stream-data=none", p.path, os.DevNull)
	return err == nil
}

// keeps checks that out, the searchable PDF written from the input, lost
// nothing poppler sees: every page that got no layer has the input page's
// text (pdftotext), and, with fonts, every font of the input (pdffonts:
// name, type, embedded) is still there — a rewrite that loses a font
// leaves its page's visible text undrawn. An error says what was lost.
func (p *PDF) keeps(ctx context.Context, out []byte, pages []*result.Page, fonts bool) error {
	path := filepath.Join(p.dir, "check.pdf")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	text := func(f string) ([]string, error) {
		b, err := run(ctx, p.lim, "pdftotext", "-q", "-cropbox", "-enc", "UTF-8", f, "-")
		return strings.Split(string(b), "\f"), err
	}
	before, err := text(p.path)
	if err != nil {
		return err
	}
	after, err := text(path)
	if err != nil {
		return fmt.Errorf("the written PDF's text is unreadable: %w", err)
	}
	if len(after) != len(before) {
		return fmt.Errorf("the written PDF has %d pages, the input %d", len(after)-1, len(before)-1)
	}
	for i, pg := range pages {
		layered := pg != nil && pg.Source != result.SourceText && len(pg.Blocks) > 0
		if !layered && i < len(before) && before[i] != after[i] {
			return fmt.Errorf("page %d lost its own text in the written PDF", i+1)
		}
	}
	if !fonts {
		return nil
	}
	list := func(f string) (map[string]bool, error) {
		b, err := run(ctx, p.lim, "pdffonts", f)
		m := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			if k := fontKey(l); k != "" {
				m[k] = true
			}
		}
		return m, err
	}
	had, err := list(p.path)
	if err != nil {
		return err
	}
	has, err := list(path)
	if err != nil {
		return fmt.Errorf("the written PDF's fonts are unreadable: %w", err)
	}
	for f := range had {
		if !has[f] {
			return fmt.Errorf("the written PDF lost the input's font %s", f)
		}
	}
	return nil
}

// fontKey is a row of pdffonts (name, type, encoding, emb, sub, uni,
// object ID: "N G" or "[none]") without its object ID and sub/uni flags,
// read from the right since a type may hold spaces.
func fontKey(row string) string {
	f := strings.Fields(row)
	id := 2
	if len(f) > 0 && f[len(f)-1] == "[none]" {
		id = 1
	}
	if len(f) < id+5 {
		return ""
	}
	f = f[:len(f)-id]
	return strings.Join(f[:len(f)-3], " ") + " emb=" + f[len(f)-3]
}

// withoutOwnTextPages returns pages with no text layer for the pages that
// have visible text of their own — those skip reads from their text (an
// earlier OCR layer not counting) — whatever mode read them: their text is
// searchable already, and a layer over it would have every word found
// twice, once misread (force and the structure pipeline OCR them for their
// layout, not for the PDF). On the other pages that have visible text of
// their own (a scan with a stamp), the recognised words lying on a visible
// word (onOwnWord) get no layer, for the same reason. When the PDF's text
// cannot be read, pages is returned as it is; the result's pages are not
// changed.
//
// With force (checkText), a page keeps its layer when its own text does
// not read as what it shows: when fewer than half of the recognised words
// are among the page's own words (ownTextAgrees) — a broken ToUnicode
// map, a font without one — its text is not searchable, and the user
// forced OCR to fix that. The page is kept as it is, its unreadable text
// included (OCRmyPDF's --force-ocr rasterises it instead), and the layer
// goes over it. On a scan with visible words, force likewise keeps a
// recognised word that does not read as the visible word it lies on
// (readsAs).
func (p *PDF) withoutOwnTextPages(ctx context.Context, pages []*result.Page, checkText bool) []*result.Page {
	p.textOnce.Do(func() { p.textErr = p.readText(ctx) })
	if p.textErr != nil || p.text == nil {
		return pages
	}
	out := make([]*result.Page, len(pages))
	copy(out, pages)
	for i, t := range p.text {
		if i >= len(out) || t == nil {
			continue
		}
		if !t.ocrLayer && !t.glyphless && t.fromText(lector.PDFTextSkip) {
			if checkText && out[i] != nil && !ownTextAgrees(t, out[i]) {
				continue
			}
			out[i] = nil
			continue
		}
		pg := out[i]
		if pg == nil || pg.Source == result.SourceText || t.ocrLayer {
			continue
		}
		vis := t
		if t.glyphless { // an earlier OCR layer among visible text: the visible words only
			if vis = p.visibleText(ctx, i); vis == nil {
				continue
			}
		}
		own := p.ownWords(i, vis, pg)
		if own == nil {
			continue
		}
		out[i] = filterWords(pg, func(b result.Box) bool {
			for _, k := range onOwnWord(b, own) {
				if !checkText || readsAs(wordAt(pg, b), own[k].text) {
					return false
				}
			}
			return true
		})
	}
	return out
}

// wordAt is the text of pg's word (or text-only line) whose box is b.
func wordAt(pg *result.Page, b result.Box) string {
	for _, blk := range pg.Blocks {
		for _, para := range blk.Paragraphs {
			for _, l := range para.Lines {
				for _, w := range l.Words {
					if w.Box == b {
						return w.Text
					}
				}
				if len(l.Words) == 0 && l.Box == b {
					return l.Text
				}
			}
		}
	}
	return ""
}

// lookAlike folds letters and digits that OCR confuses (I l 1 | i, O o 0,
// S 5, B 8, Z 2) and case, and drops everything else.
func lookAlike(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case 'I', 'l', '1', '|', 'i', 'L':
			return 'l'
		case 'O', 'o', '0', 'Q', 'D':
			return 'o'
		case 'S', 's', '5':
			return 's'
		case 'B', '8':
			return 'b'
		case 'Z', 'z', '2':
			return 'z'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// readsAs reports whether a recognised word reads as a visible one: equal
// once look-alikes are folded (lookAlike), or the one a part of the
// other (a word the engine split or joined differently).
func readsAs(recognised, visible string) bool {
	r, v := lookAlike(recognised), lookAlike(visible)
	if r == "" || v == "" {
		return r == v
	}
	return r == v || strings.Contains(r, v) || strings.Contains(v, r)
}

// visibleText returns page i's own visible words: the page's text once
// every earlier text layer is removed (render.SearchablePDF with redo and
// no words: Lector's, OCRmyPDF's and Tesseract's layers go, visible text
// stays), read by pdftotext -bbox-layout; nil when that cannot be done.
// The document's is made once.
func (p *PDF) visibleText(ctx context.Context, i int) *pageText {
	p.visibleOnce.Do(func() {
		empty := make([]*result.Page, len(p.sizes))
		for k := range empty {
			empty[k] = &result.Page{Number: k + 1}
		}
		var buf bytes.Buffer
		if _, err := render.SearchablePDF(&buf, p.data, empty, render.Options{Redo: true}); err != nil {
			return
		}
		path := filepath.Join(p.dir, "visible.pdf")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			return
		}
		defer os.Remove(path)
		out, err := run(ctx, p.lim, "pdftotext", "-q", "-bbox-layout", "-cropbox", "-enc", "UTF-8", path, "-")
		if err != nil {
			return
		}
		if pages, err := parseBBoxLayout(out); err == nil && len(pages) == len(p.sizes) {
			p.visible = pages
		}
	})
	if i < len(p.visible) {
		return p.visible[i]
	}
	return nil
}

// WithOwnWords gives OCR'd pages the PDF's own words where they read the
// same place: on a page that also has text of its own (a scan with a
// typed stamp or form field), a recognised word lying on own words
// (onOwnWord) is replaced by them, exactly (text and box, confidence 100),
// and a further recognised word on the same own words goes; own words no
// recognised word lies on are added as a last block, a line for each of
// the PDF's lines; the rest of the page stays as recognised. In skip mode every own word counts (an
// earlier OCR layer's too, as skip keeps it); in redo only on pages
// without an earlier OCR layer (their own words are visible); force reads
// everything by OCR. Own words are matched in the engine's frame, on pages
// with /Rotate or that the engine turned (Rotation) too (ownWords). pages
// are changed in place.
func (p *PDF) WithOwnWords(ctx context.Context, pages []*result.Page, mode lector.PDFText) {
	if mode == lector.PDFTextForce {
		return
	}
	p.textOnce.Do(func() { p.textErr = p.readText(ctx) })
	if p.textErr != nil {
		return
	}
	for i, pg := range pages {
		if pg == nil || pg.Source == result.SourceText || i >= len(p.text) || p.text[i] == nil {
			continue
		}
		t := p.text[i]
		if mode == lector.PDFTextRedo && (t.ocrLayer || t.glyphless) {
			continue
		}
		own := p.ownWords(i, t, pg)
		if own == nil {
			continue
		}
		used := make([]bool, len(own))
		for bi := range pg.Blocks {
			for pi := range pg.Blocks[bi].Paragraphs {
				lines := pg.Blocks[bi].Paragraphs[pi].Lines
				for li := range lines {
					l := &lines[li]
					if len(l.Words) == 0 {
						continue
					}
					changed := false
					words := l.Words[:0:0]
					for _, w := range l.Words {
						on := onOwnWord(w.Box, own)
						if len(on) == 0 {
							words = append(words, w)
							continue
						}
						changed = true
						var texts []string
						box := result.Box{}
						for _, k := range on {
							if !used[k] {
								used[k] = true
								texts = append(texts, own[k].text)
								box = box.Union(own[k].box)
							}
						}
						if len(texts) > 0 {
							words = append(words, result.Word{Text: strings.Join(texts, " "), Box: box, Confidence: 100})
						}
					}
					if !changed {
						continue
					}
					l.Words = words
					if l.Text != "" { // the engine's line text: now its words'
						var parts []string
						for _, w := range words {
							parts = append(parts, w.Text)
						}
						l.Text = strings.Join(parts, " ")
					}
				}
			}
		}
		var rest []result.Line
		for k, o := range own {
			if used[k] {
				continue
			}
			if k == 0 || own[k-1].line != o.line || used[k-1] {
				rest = append(rest, result.Line{Confidence: 100})
			}
			l := &rest[len(rest)-1]
			l.Words = append(l.Words, result.Word{Text: o.text, Box: o.box, Confidence: 100})
			l.Box = l.Box.Union(o.box)
		}
		if len(rest) > 0 {
			blk := result.Block{Type: result.BlockText, Confidence: 100, Order: len(pg.Blocks)}
			para := result.Paragraph{Lines: rest}
			for _, l := range rest {
				para.Box = para.Box.Union(l.Box)
			}
			blk.Box = para.Box
			blk.Paragraphs = []result.Paragraph{para}
			pg.Blocks = append(pg.Blocks, blk)
		}
	}
}

// ownTextAgrees reports whether at least half of page pg's recognised
// words (letters and digits, case folded) are among the words of t, the
// page's own text; true when pg has no words.
func ownTextAgrees(t *pageText, pg *result.Page) bool {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return unicode.ToLower(r)
			}
			return -1
		}, s)
	}
	own := map[string]bool{}
	for _, b := range t.blocks {
		for _, l := range b {
			for _, w := range l.words {
				own[norm(w.s)] = true
			}
		}
	}
	found, total := 0, 0
	count := func(text string) {
		for _, w := range strings.Fields(text) {
			if n := norm(w); n != "" {
				total++
				if own[n] {
					found++
				}
			}
		}
	}
	for _, b := range pg.Blocks {
		for _, para := range b.Paragraphs {
			for _, l := range para.Lines {
				count(l.String())
			}
		}
		if b.Table != nil {
			for _, c := range b.Table.Cells {
				count(c.Text)
			}
		}
	}
	return total == 0 || 2*found >= total
}

// ownWord is one of a page's own words in the pixels of a recognised page.
type ownWord struct {
	text string
	box  result.Box
	line int // the index of its line among the page's
}

// ownWords returns page i's own words (t) in the pixels of pg, a page the
// engine recognised: pdftotext gives them in points of the page as shown
// (CropBox, turned by /Rotate: p.points), the frame the page was rendered
// in for the engine; they are scaled to its pixels and turned as the
// engine turned the page (pg.Rotation degrees clockwise, result.Page), so
// that they lie where the engine read the same words on a page with
// /Rotate 90, 180 or 270 too, and then, unless pg.SkewNotApplied, turned
// by the engine's deskew (pg.Skew degrees about the page's centre, as
// Tesseract turned the page; each box the hull of the turned one): a
// fraction of a degree on most scans, which WordMargin would absorb, but up
// to 45° on a tilted photo.
func (p *PDF) ownWords(i int, t *pageText, pg *result.Page) []ownWord {
	if t == nil || t.words == 0 || pg == nil || pg.Width <= 0 || pg.Height <= 0 || i >= len(p.points) {
		return nil
	}
	rot := ((pg.Rotation % 360) + 360) % 360
	if rot%90 != 0 {
		return nil
	}
	w0, h0 := float64(pg.Width), float64(pg.Height) // the page's pixels before the engine turned it
	if rot%180 == 90 {
		w0, h0 = h0, w0
	}
	sx, sy := w0/p.points[i][0], h0/p.points[i][1]
	// turn maps a point of the rendered page (pixels, y down) to the
	// engine's upright frame.
	turn := func(x, y float64) (float64, float64) {
		switch rot {
		case 90:
			return h0 - y, x
		case 180:
			return w0 - x, h0 - y
		case 270:
			return y, w0 - x
		}
		return x, y
	}
	// deskew maps a point of the upright frame (pixels, y down) to the
	// deskewed one: turned by Skew degrees about the centre (the inverse of
	// the searchable layer's undoing of it, render.layerMatrices).
	sin, cos := 0.0, 1.0
	if pg.Skew != 0 && !pg.SkewNotApplied {
		sin, cos = math.Sincos(pg.Skew * math.Pi / 180)
	}
	cx, cy := float64(pg.Width)/2, float64(pg.Height)/2
	deskew := func(x, y float64) (float64, float64) {
		u, v := x-cx, y-cy
		return cx + cos*u - sin*v, cy + sin*u + cos*v
	}
	var own []ownWord
	line := 0
	for _, b := range t.blocks {
		for _, l := range b {
			for _, w := range l.words {
				ax, ay := turn(w.xMin*sx, w.yMin*sy)
				bx, by := turn(w.xMax*sx, w.yMax*sy)
				x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
				for _, c := range [][2]float64{{ax, ay}, {bx, ay}, {bx, by}, {ax, by}} {
					x, y := deskew(c[0], c[1])
					x0, y0, x1, y1 = math.Min(x0, x), math.Min(y0, y), math.Max(x1, x), math.Max(y1, y)
				}
				box := result.Box{X0: int(math.Floor(x0 + 1e-9)), Y0: int(math.Floor(y0 + 1e-9)), X1: int(math.Ceil(x1 - 1e-9)), Y1: int(math.Ceil(y1 - 1e-9))}
				own = append(own, ownWord{w.s, box, line})
			}
			line++
		}
	}
	return own
}

// onOwnWord returns the indexes of the own words that recognised word box
// b lies on: those whose box, grown by WordMargin of its height above and
// below and by half that to the sides, holds b's centre, or that cover at
// least half of b. Other tools place their boxes a few points off the
// printed word (OCRmyPDF's layer sat 3 points above the words it was read
// from), so a bare centre-in-box test missed them.
func onOwnWord(b result.Box, own []ownWord) []int {
	var out []int
	cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
	area := max(1, b.Width()*b.Height())
	for k, o := range own {
		m := int(WordMargin * float64(o.box.Height()))
		in := cx >= o.box.X0-m/2 && cx < o.box.X1+m/2 && cy >= o.box.Y0-m && cy < o.box.Y1+m
		iw := min(b.X1, o.box.X1) - max(b.X0, o.box.X0)
		ih := min(b.Y1, o.box.Y1) - max(b.Y0, o.box.Y0)
		if in || (iw > 0 && ih > 0 && 2*iw*ih >= area) {
			out = append(out, k)
		}
	}
	return out
}

// filterWords returns a copy of pg whose recognised words (and lines given
// as text only) are kept where keep says so; empty lines go.
func filterWords(pg *result.Page, keep func(result.Box) bool) *result.Page {
	cp := *pg
	cp.Blocks = nil
	for _, blk := range pg.Blocks {
		nb := blk
		nb.Paragraphs = nil
		for _, para := range blk.Paragraphs {
			np := para
			np.Lines = nil
			for _, l := range para.Lines {
				nl := l
				nl.Words, nl.Text = nil, ""
				for _, w := range l.Words {
					if keep(w.Box) {
						nl.Words = append(nl.Words, w)
					}
				}
				if len(l.Words) == 0 && l.Text != "" && keep(l.Box) {
					nl.Text = l.Text
				}
				if len(nl.Words) > 0 || nl.Text != "" {
					np.Lines = append(np.Lines, nl)
				}
			}
			nb.Paragraphs = append(nb.Paragraphs, np)
		}
		cp.Blocks = append(cp.Blocks, nb)
	}
	return &cp
}

// withoutPrintedWords returns pages with, on each OCR'd page that also has
// text of its own (a scan with a stamp or a filled-in field), the
// recognised words lying on one of the page's own words (onOwnWord) taken
// out of the text layer — they are searchable already, and would be found
// twice (an earlier OCR layer on such a page counts too, so that layers do
// not stack). Used in skip mode only: redo and force remove earlier
// layers, whose words must then not hide new ones (withoutOwnTextPages
// uses the visible words only). Pages with /Rotate or that the engine
// turned are matched in its frame (ownWords); the result's pages are not
// changed.
func (p *PDF) withoutPrintedWords(pages []*result.Page) []*result.Page {
	if p.text == nil {
		return pages
	}
	out := make([]*result.Page, len(pages))
	copy(out, pages)
	for i, pg := range pages {
		if pg == nil || pg.Source == result.SourceText || i >= len(p.text) || p.text[i] == nil || p.text[i].ocrLayer {
			continue
		}
		own := p.ownWords(i, p.text[i], pg)
		if own == nil {
			continue
		}
		out[i] = filterWords(pg, func(b result.Box) bool { return len(onOwnWord(b, own)) == 0 })
	}
	return out
}

// SearchablePDF returns the image as a one-page PDF in its own encoding at
// its resolution, turned upright by /Rotate, with pages' words as a text
// layer: a JPEG as it is (DCT); a PNG's compressed data as it is where PDF
// reads it (pngPixels: Flate with PNG's predictors, at its bit depth and
// palette); other images (BMP, GIF, WebP, an interlaced PNG, a PNG
// composited on white when opened, compressed better here) decoded and
// put in losslessly as Flate at their own depth (pixelsOf: a bilevel image
// at 1 bit). The second value is PDFRecoded when the image's pixels went
// in otherwise than as stored: a lossy coding PDF lacks (WebP's VP8)
// decoded, another bit depth, or an arithmetic-coded JPEG transcoded to
// Huffman coding (openImage; PDF's DCTDecode is baseline and progressive
// JPEG); else PDFOriginal.
func (im *Image) SearchablePDF(_ context.Context, pages []*result.Page, _ lector.PDFText) ([]byte, string, error) {
	var buf bytes.Buffer
	info := []render.ImagePage{{DPI: im.dpi, DPIY: im.ydpi, QuarterTurns: im.orientation.QuarterTurns}}
	how := PDFOriginal
	if im.recoded {
		how = PDFRecoded
	}
	if im.Format != "jpeg" {
		if px, ok := pngPixels(im.Data); ok && !im.flat {
			info[0].Pixels = px
		} else if img, _, err := image.Decode(bytes.NewReader(im.Data)); err == nil {
			stored := 0 // a PNG's bits per pixel; other formats' as decoded, not as stored
			if im.Format == "png" {
				stored = im.bits
			}
			info[0].Pixels = pixelsOf(img, stored)
			if (im.Format == "webp" && bytes.Contains(im.Data[:min(len(im.Data), 64)], []byte("VP8 "))) ||
				(im.Format == "png" && im.bits != 0 && pixelBits(info[0].Pixels) != im.bits) {
				how = PDFRecoded
			}
		}
	}
	err := render.ImagePDF(&buf, im.Data, info, pages)
	if err != nil && info[0].Pixels == nil {
		// The PDF library could not embed the image in its own encoding:
		// its pixels, decoded here, go in losslessly as PNG (Flate).
		if png, perr := asPNG(im.Data); perr == nil {
			buf.Reset()
			if err = render.ImagePDF(&buf, png, info, pages); err == nil {
				return buf.Bytes(), PDFRecoded, nil
			}
		}
	}
	if err != nil {
		return nil, "", errcode.Wrap(errcode.Internal, err, "the searchable PDF could not be written")
	}
	return buf.Bytes(), how, nil
}

// asPNG decodes an encoded image and encodes its pixels as PNG.
func asPNG(data []byte) ([]byte, error) {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SearchablePDF returns every page of the TIFF as a PDF page sized from
// its resolution tag (300 dpi when it has none), with pages' words as a
// text layer. When every page is coded as CCITT, the pages go in as Group
// 4 (CCITTFaxDecode, g4Images); otherwise each page in its own coding
// where PDF has it (tiffPageImages: a fax page still as Group 4, a JPEG
// page as DCT, others as Flate at their own depth). Should that fail,
// pdfcpu embeds the file's pages as Flate, or libtiff re-codes it as
// Deflate first (PDFRecoded).
func (t *TIFF) SearchablePDF(ctx context.Context, pages []*result.Page, _ lector.PDFText) ([]byte, string, error) {
	var buf bytes.Buffer
	info := make([]render.ImagePage, len(t.sizes))
	reset := func() {
		for i := range info {
			info[i] = render.ImagePage{DPI: t.dpi[i], DPIY: t.ydpi[i]}
		}
	}
	reset()
	g4, err := t.g4Images(ctx)
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	if err == nil && g4 != nil {
		for i := range info {
			info[i].CCITT = g4[i]
		}
		if err = render.ImagePDF(&buf, t.data, info, pages); err != nil {
			return nil, "", errcode.Wrap(errcode.Internal, err, "the searchable PDF could not be written")
		}
		return buf.Bytes(), PDFOriginal, nil
	}
	recoded, perr := t.tiffPageImages(ctx, info)
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	if perr == nil {
		if perr = render.ImagePDF(&buf, t.data, info, pages); perr == nil {
			if recoded {
				return buf.Bytes(), PDFRecoded, nil
			}
			return buf.Bytes(), PDFOriginal, nil
		}
	}
	reset()
	buf.Reset()
	err = render.ImagePDF(&buf, t.data, info, pages)
	if err != nil {
		// The PDF library could not decode the TIFF (a coding it lacks,
		// such as JPEG in TIFF): libtiff re-codes it losslessly as
		// Deflate, which it reads.
		if z, zerr := t.recoded(ctx, "zip", "-r", "1000000"); zerr == nil {
			buf.Reset()
			if err = render.ImagePDF(&buf, z.data, info, pages); err == nil {
				return buf.Bytes(), PDFRecoded, nil
			}
		} else if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
	}
	if err != nil {
		return nil, "", errcode.Wrap(errcode.Internal, errors.Join(perr, err), "the searchable PDF could not be written")
	}
	return buf.Bytes(), PDFRecoded, nil
}

// g4Images returns each page's Group 4 data as one CCITTFaxDecode image,
// or nil when a page is not G4. A page whose data is one strip goes in as
// it is, byte for byte (bits reversed where FillOrder is 2). Strips cannot
// be joined — each is coded on its own, its first line against an
// imaginary white line (ITU-T T.6 §2.2.1), so the joined data decodes
// wrongly from the second strip on — and one image per strip would draw
// a page in tens of pieces (tiffcp writes 25 rows a strip) that a viewer
// may show seams between; so a TIFF with more than one strip on a page
// is first re-coded losslessly by libtiff (tiffcp -c g4, one strip a
// page: bilevel pixels come back exactly) and passed through from there;
// so is a TIFF with a page coded as CCITT Group 3 (1-D or 2-D) or
// Modified Huffman, which PDF's CCITTFaxDecode has parameters for but
// the TIFF's strips would need their EOL and alignment options mapped.
func (t *TIFF) g4Images(ctx context.Context) ([]*render.CCITT, error) {
	src, g4 := t, t.g4
	for _, g := range g4 {
		if !g.ok && !g.fax {
			return nil, nil
		}
		if (!g.ok || g.strips > 1) && src == t {
			one, err := t.oneStrip(ctx)
			if err != nil {
				return nil, err
			}
			src = one
		}
	}
	if src != t {
		if len(src.sizes) != len(t.sizes) {
			return nil, fmt.Errorf("tiffcp wrote %d pages of %d", len(src.sizes), len(t.sizes))
		}
		g4 = src.g4
	}
	out := make([]*render.CCITT, len(g4))
	for i, g := range g4 {
		if !g.ok || g.strips != 1 || src.sizes[i] != t.sizes[i] {
			return nil, nil
		}
		out[i] = t.ccitt(src, i, g)
	}
	return out, nil
}

// oneStrip is the TIFF re-coded by libtiff's tiffcp as Group 4 with one
// strip a page (-r: rows per strip past any page's height).
func (t *TIFF) oneStrip(ctx context.Context) (*TIFF, error) {
	return t.recoded(ctx, "g4", "-r", "1000000")
}

// recoded is the TIFF re-coded by libtiff's tiffcp with compression
// scheme comp (tiffcp -c) and the further arguments args.
func (t *TIFF) recoded(ctx context.Context, comp string, args ...string) (*TIFF, error) {
	if t.dir == "" {
		return nil, errors.New("no workspace for tiffcp")
	}
	in, out := filepath.Join(t.dir, "recode-in.tif"), filepath.Join(t.dir, "recoded.tif")
	defer os.Remove(in)
	defer os.Remove(out)
	if err := os.WriteFile(in, t.data, 0o600); err != nil {
		return nil, err
	}
	if _, err := run(ctx, t.lim, "tiffcp", append(append([]string{"-c", comp}, args...), in, out)...); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return openTIFF(data, t.lim, "")
}
