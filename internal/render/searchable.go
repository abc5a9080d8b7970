package render

import (
	"bytes"
	"compress/zlib"
	_ "embed" // the glyph-less font
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/lector-ocr/lector/internal/result"
)

// The text layer (what a searchable PDF adds to each page).
//
// Each page's words go into a Form XObject of their own, drawn after the
// page's own content (which is wrapped in q … Q so that a content stream
// that leaves the graphics state changed cannot move the layer). The text
// is invisible (text render mode 3, PDF 32000-1 §9.3.6), one text object
// per word, in a glyph-less font: Tesseract's GlyphLessFont, a TrueType font
// whose every glyph is empty and 500/1000 em wide (Type0, Identity-H, CID =
// UTF-16 code unit, a ToUnicode CMap mapping each CID to itself) — the font
// that Tesseract's PDF renderer and OCRmyPDF use. With one width for every
// character, a word is fitted exactly to its box by horizontal scaling
// (Tz = 100 × box width / (characters × ½ × font size)); the font size is
// the line's height and the baseline the line's bottom, so that a viewer's
// selection and pdftotext's -bbox cover the printed line. A tilted line
// (one with a Polygon: PP-OCR reads tilted pages as they are, Skew not
// applied) is written along its own baseline instead, as Tesseract's PDF
// renderer and OCRmyPDF write rotated baselines: each word's text matrix
// (Tm) turned to the line's direction, from the polygon's bottom left along
// its bottom edge, the font size the line's height across that direction,
// Tz fitting the word to its length along it (writeTilted). Drawn level at
// the bottom of the line's upright box, the words of a page tilted 8° ran
// into each other and the lines above (pdftotext: "Thewhilequoperating"). The words are
// written in the engine's frame and placed by matrices (layerMatrices).
// Between two words of a line a space is drawn as its own glyph, fitted
// to the gap, so extracted text has its spaces while each word's glyphs
// cover its own box only (a word stretched with its space to the next
// word ran up to 95 pt past the printed word across a table's gaps).
// Chosen over per-line objects
// (one Tz per line drifts off words of differing widths) and over a
// standard font (Helvetica: WinAnsi only, per-glyph widths, not embedded).
//
// glyphless.ttf is Tesseract's tessdata/pdf.ttf (Apache License 2.0).
//
//go:embed glyphless.ttf
var glyphlessTTF []byte

const (
	// LayerKey marks the streams and the Form XObject Lector adds, so that
	// a later run can remove them (redo) instead of stacking a second layer.
	LayerKey  = "LectorTextLayer"
	layerName = "LectorText"
	fontName  = "GlyphLessFont"
)

// pageGeometry is the page as a viewer shows it: its visible box (the
// CropBox clipped to the MediaBox) turned by its /Rotate.
type pageGeometry struct {
	box    *types.Rectangle // the visible box in user space (CropBox ∩ MediaBox)
	rotate int              // 0, 90, 180, 270
}

// shown is the size of the page as displayed, in points.
func (g pageGeometry) shown() (w, h float64) {
	w, h = g.box.Width(), g.box.Height()
	if g.rotate%180 != 0 {
		w, h = h, w
	}
	return w, h
}

// matrix maps the displayed page (origin at its bottom left, y up, points)
// to user space: undoes the rotation and adds the visible box's corner.
func (g pageGeometry) matrix() [6]float64 {
	w, h := g.box.Width(), g.box.Height()
	x, y := g.box.LL.X, g.box.LL.Y
	switch g.rotate {
	case 90: // shown x is user y; shown y runs from user x = w down
		return [6]float64{0, 1, -1, 0, x + w, y}
	case 180:
		return [6]float64{-1, 0, 0, -1, x + w, y + h}
	case 270:
		return [6]float64{0, -1, 1, 0, x, y + h}
	}
	return [6]float64{1, 0, 0, 1, x, y}
}

// TextLayer is the content of a page's text layer: p's words as invisible
// text in the font resource /F1, in the frame the engine read the page in
// (its pixels, y up); layerMatrices place that frame on the page.
func TextLayer(p *result.Page) []byte {
	if p == nil || p.Width <= 0 || p.Height <= 0 {
		return nil
	}
	sx, sy, h := 1.0, 1.0, float64(p.Height)
	var b bytes.Buffer
	b.WriteString("BT\n3 Tr\n")
	for _, blk := range p.Blocks {
		for _, para := range blk.Paragraphs {
			for _, l := range para.Lines {
				writeLine(&b, l, sx, sy, h)
			}
		}
		if blk.Table != nil { // the structure pipeline keeps a table's words in its cells
			for _, c := range blk.Table.Cells {
				if strings.TrimSpace(c.Text) != "" && c.Box.Height() > 0 {
					writeLine(&b, result.Line{Box: c.Box, Text: c.Text}, sx, sy, h)
				}
			}
		}
	}
	b.WriteString("ET\n")
	return b.Bytes()
}

func writeLine(b *bytes.Buffer, l result.Line, sx, sy, h float64) {
	words := l.Words
	if len(words) == 0 && l.Text != "" {
		words = []result.Word{{Text: l.Text, Box: l.Box}}
	}
	if len(l.Polygon) == 4 && len(words) > 0 && writeTilted(b, l.Polygon, words, sx, sy, h) {
		return
	}
	size := float64(l.Box.Height()) * sy
	if size <= 0 || len(words) == 0 {
		return
	}
	base := h - float64(l.Box.Y1)*sy
	b.WriteString("/F1 ")
	num(b, size)
	b.WriteString(" Tf\n")
	// show writes text from x0 to x1 (one width per glyph: Tz is a division).
	show := func(text string, x0, x1 float64) {
		units := utf16.Encode([]rune(text))
		tz := 100.0
		if x1 > x0 {
			tz = 100 * (x1 - x0) / (float64(len(units)) * size / 2)
		}
		num(b, tz)
		b.WriteString(" Tz 1 0 0 1 ")
		num(b, x0)
		b.WriteByte(' ')
		num(b, base)
		b.WriteString(" Tm <")
		for _, u := range units {
			fmt.Fprintf(b, "%04X", u)
		}
		b.WriteString("> Tj\n")
	}
	for i, wd := range words {
		text := strings.TrimSpace(wd.Text)
		if text == "" {
			continue
		}
		x0, x1 := float64(wd.Box.X0)*sx, float64(wd.Box.X1)*sx
		show(text, x0, x1)
		if i+1 < len(words) {
			// The space is a glyph of its own over the gap (at least a
			// hundredth of a point), so that the word keeps its box.
			next := math.Max(float64(words[i+1].Box.X0)*sx, x1+0.01)
			show(" ", x1, next)
		}
	}
}

// writeTilted writes the words of a line whose polygon (4 points in the
// engine's pixels, y down, clockwise from the top left of the text) is
// poly along its baseline, the polygon's bottom edge (see the text layer
// above). Each word is placed by the centre of its box (upright, in the
// same pixels) projected on the baseline, its length along the line the
// one a rectangle of the line's height turned to the line's angle has for
// that box: W = L·|cos θ| + H·|sin θ| across x (or the same over y where
// the line is steeper than 45°). It reports false, writing nothing, for a
// degenerate polygon.
func writeTilted(b *bytes.Buffer, poly []result.Point, words []result.Word, sx, sy, h float64) bool {
	type v2 struct{ x, y float64 }
	at := func(p result.Point) v2 { return v2{float64(p.X) * sx, h - float64(p.Y)*sy} } // y up
	tl, tr, br, bl := at(poly[0]), at(poly[1]), at(poly[2]), at(poly[3])
	dx, dy := br.x-bl.x, br.y-bl.y
	if d := math.Hypot(tr.x-tl.x, tr.y-tl.y); d > math.Hypot(dx, dy) { // the longer edge, for the direction
		dx, dy = tr.x-tl.x, tr.y-tl.y
	}
	n := math.Hypot(dx, dy)
	if n <= 0 {
		return false
	}
	ux, uy := dx/n, dy/n // along the line
	nx, ny := -uy, ux    // up from the baseline
	size := ((tl.x+tr.x-bl.x-br.x)*nx + (tl.y+tr.y-bl.y-br.y)*ny) / 2
	if size <= 0 {
		return false
	}
	cos, sin := math.Abs(ux), math.Abs(uy)
	b.WriteString("/F1 ")
	num(b, size)
	b.WriteString(" Tf\n")
	show := func(text string, t0, t1 float64) {
		units := utf16.Encode([]rune(text))
		tz := 100.0
		if t1 > t0 {
			tz = 100 * (t1 - t0) / (float64(len(units)) * size / 2)
		}
		num(b, tz)
		b.WriteString(" Tz ")
		for _, v := range []float64{ux, uy, nx, ny, bl.x + ux*t0, bl.y + uy*t0} {
			num4(b, v)
			b.WriteByte(' ')
		}
		b.WriteString("Tm <")
		for _, u := range units {
			fmt.Fprintf(b, "%04X", u)
		}
		b.WriteString("> Tj\n")
	}
	// span is the word's extent along the baseline, from bl.
	span := func(wd result.Word) (float64, float64) {
		cx, cy := float64(wd.Box.X0+wd.Box.X1)/2*sx, h-float64(wd.Box.Y0+wd.Box.Y1)/2*sy
		t := (cx-bl.x)*ux + (cy-bl.y)*uy
		var l float64
		if cos >= sin {
			l = (float64(wd.Box.Width())*sx - size*sin) / cos
		} else {
			l = (float64(wd.Box.Height())*sy - size*cos) / sin
		}
		l = max(l, 0.01)
		return t - l/2, t + l/2
	}
	// The words' spans, with a gap of at least minSpace of the size
	// between neighbours (each trimmed by half of what is missing):
	// readers that extract text (pdftotext) drop the space glyphs and
	// break words at gaps, and the upright boxes of a tilted line's words,
	// whole pixels, overlap a little across a narrow space ("ofthem").
	var ws []string
	var ts [][2]float64
	for _, wd := range words {
		if text := strings.TrimSpace(wd.Text); text != "" {
			t0, t1 := span(wd)
			ws, ts = append(ws, text), append(ts, [2]float64{t0, t1})
		}
	}
	for i := 1; i < len(ts); i++ {
		if g := minSpace * size; ts[i][0]-ts[i-1][1] < g {
			m := (ts[i-1][1] + ts[i][0]) / 2
			ts[i-1][1] = max(m-g/2, ts[i-1][0]+0.01)
			ts[i][0] = min(m+g/2, ts[i][1]-0.01)
		}
	}
	for i, text := range ws {
		show(text, ts[i][0], ts[i][1])
		if i+1 < len(ws) {
			show(" ", ts[i][1], math.Max(ts[i+1][0], ts[i][1]+0.01))
		}
	}
	return true
}

// minSpace is the narrowest gap between two words of a tilted line, as a
// fraction of the font size (writeTilted); pdftotext breaks words at
// gaps over a tenth of it (poppler's minWordBreakSpace).
const minSpace = 0.2

// num4 writes v with at most four decimals (a text matrix's direction
// cosines), no trailing zeros.
func num4(b *bytes.Buffer, v float64) {
	var a [32]byte
	t := strconv.AppendFloat(a[:0], v, 'f', 4, 64)
	if bytes.IndexByte(t, '.') >= 0 {
		t = bytes.TrimRight(t, "0")
		t = bytes.TrimSuffix(t, []byte("."))
	}
	if len(t) == 0 || string(t) == "-" || string(t) == "-0" {
		t = []byte("0")
	}
	b.Write(t)
}

// num writes v with at most two decimals and no trailing zeros (the
// words' boxes are whole pixels: most numbers are integers).
func num(b *bytes.Buffer, v float64) {
	var a [32]byte
	t := strconv.AppendFloat(a[:0], v, 'f', 2, 64)
	t = bytes.TrimRight(t, "0")
	t = bytes.TrimSuffix(t, []byte("."))
	if len(t) == 0 || string(t) == "-" {
		t = []byte("0")
	}
	b.Write(t)
}

// layerMatrices map the frame the engine read page p in (its pixels, y up:
// the page turned upright by p.Rotation clockwise degrees, then deskewed by
// p.Skew degrees unless p.SkewNotApplied) onto the page as shown, w×h points, in the order they are
// concatenated (cm): scale the input's pixels to points, undo the quarter
// turn, undo the deskew (a rotation about the page's centre). The layer's
// words thus lie on the printed words, skew and all.
func layerMatrices(p *result.Page, w, h float64) [][6]float64 {
	we, he := float64(p.Width), float64(p.Height)
	rot := ((p.Rotation % 360) + 360) % 360
	w0, h0 := we, he // the input's pixels, before the engine turned it
	if rot%180 == 90 {
		w0, h0 = he, we
	}
	out := [][6]float64{{w / w0, 0, 0, h / h0, 0, 0}}
	switch rot {
	case 90: // the input was turned clockwise: (x, y) = (w0 − v, u)
		out = append(out, [6]float64{0, 1, -1, 0, w0, 0})
	case 180:
		out = append(out, [6]float64{-1, 0, 0, -1, w0, h0})
	case 270:
		out = append(out, [6]float64{0, -1, 1, 0, 0, h0})
	}
	if p.Skew != 0 && !p.SkewNotApplied {
		// Leptonica's deskew turned the page by −Skew degrees about its centre.
		a := deskewSign * p.Skew * math.Pi / 180
		c, s := math.Cos(a), math.Sin(a)
		cx, cy := we/2, he/2
		out = append(out, [6]float64{c, s, -s, c, cx - c*cx + s*cy, cy - s*cx - c*cy})
	}
	return out
}

// deskewSign is the direction of the rotation that undoes a deskew of
// Page.Skew degrees, in PDF's y-up space (measured by the skewed-scan test).
const deskewSign = 1.0

// pdfcpu's default configuration is otherwise read from (and first
// written to) a config.yml in the user's configuration directory, into a
// package variable without a lock — a data race between concurrent
// searchable PDFs, and an os.Exit where that directory cannot be written.
// "disable" makes every call build its own default configuration.
func init() { model.ConfigPath = "disable" }

// pdfConfig is pdfcpu's configuration for reading what poppler reads.
func pdfConfig() *model.Configuration {
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	return conf
}

// SearchablePDF writes input (a PDF) to w with each page of pages that has
// words given a text layer over the page as it is. pages[i] is page i+1; a
// nil page, or one whose Source is SourceText (read from its own text),
// gets no layer. With opt.Redo, a text layer Lector added before, and any Form
// XObject drawn only in a glyph-less OCR font (OCRmyPDF's layer), is
// removed first from each page that gets a new one, and so is invisible
// text (render mode 3) drawn in the page's own content streams, as
// Tesseract's renderer draws its layer; visible text stays.
// The pages' boxes are pixels of the page as shown (CropBox, turned by
// /Rotate).
//
// The output is the input's bytes unchanged followed by an incremental
// update (PDF 32000-1 §7.5.6) holding only the new objects (layers, font)
// and the objects changed (the pages given a layer, the document
// information dictionary's ModDate): every object of the input — its
// fonts, images, XMP metadata, CreationDate, Producer, version — stays as
// it was written — except the JPEG images with opt.DeflateJPEG, whose
// Flate-wrapped copies go into the update too (Written.Superseded: the
// caller rewrites the output so that the old copies go). When no page gets
// a layer and nothing is removed, the input is written as it is. pdfcpu reads the structure without its
// validation, which rewrites some valid objects (a font given as a direct
// dictionary in a page's resources became a dangling reference). An
// encrypted input is written whole by pdfcpu (objects of an update would
// have to be encrypted; its JPEGs are wrapped in Flate all the same, and
// pdfcpu encrypts the streams it writes). An error means pdfcpu could not read or write
// the PDF's structure.
func SearchablePDF(w io.Writer, input []byte, pages []*result.Page, opt Options) (Written, error) {
	return searchablePDF(w, input, pages, opt, time.Now())
}

// Options of SearchablePDF.
type Options struct {
	// Redo removes an earlier text layer from each page that gets a new one.
	Redo bool
	// DeflateJPEG wraps every JPEG image of the document in a Flate filter
	// (deflateJPEGs) when it saves at least 2 %, as OCRmyPDF's default
	// optimisation does: the DCT data is kept byte for byte under the Flate.
	DeflateJPEG bool
}

// Written says what SearchablePDF wrote.
type Written struct {
	// Deflated is the number of JPEG images wrapped in Flate.
	Deflated int
	// Superseded: the output is an update that replaced images of the
	// input, whose bytes are still in it, unreferenced; a rewrite that
	// keeps only the objects in use (qpdf IN OUT) makes it smaller than
	// the input.
	Superseded bool
	// Removed: with Options.Redo, an earlier text layer was taken off a
	// page. Its words are still in the input's bytes under the update (an
	// earlier revision a reader can recover): the caller rewrites the
	// output whole so that they go.
	Removed bool
}

func searchablePDF(w io.Writer, input []byte, pages []*result.Page, opt Options, now time.Time) (Written, error) {
	var done Written
	ctx, err := readContext(input)
	if err != nil {
		return done, fmt.Errorf("render: reading the PDF's structure: %w", err)
	}
	if ctx.PageCount != len(pages) {
		return done, fmt.Errorf("render: the PDF has %d pages, the result %d", ctx.PageCount, len(pages))
	}
	size := *ctx.XRefTable.Size
	changed, removed, err := overlay(ctx, pages, opt.Redo)
	if err != nil {
		return done, err
	}
	done.Removed = removed
	if len(changed) == 0 {
		_, err := w.Write(input)
		return done, err
	}
	if opt.DeflateJPEG {
		deflated, err := deflateJPEGs(ctx.XRefTable)
		if err != nil {
			return done, err
		}
		changed = append(changed, deflated...)
		done.Deflated = len(deflated)
	}
	if ctx.Encrypt != nil {
		return done, writeContext(ctx, w)
	}
	done.Superseded = done.Deflated > 0
	for i := size; i < *ctx.XRefTable.Size; i++ {
		changed = append(changed, i)
	}
	if ctx.Info != nil {
		if d, err := ctx.DereferenceDict(*ctx.Info); err == nil && d != nil {
			d.Update("ModDate", types.StringLiteral(types.DateString(now)))
			changed = append(changed, ctx.Info.ObjectNumber.Value())
		}
	}
	if n, ok := xmpDates(ctx.XRefTable, now); ok {
		changed = append(changed, n)
	}
	return done, writeIncrement(ctx, w, input, changed)
}

// xmpModifyDates are the XMP properties that say when the document and
// its metadata were last changed (XMP Specification Part 2, xmp:ModifyDate
// and xmp:MetadataDate), as an attribute or an element.
var xmpModifyDates = regexp.MustCompile(`(xmp:(?:ModifyDate|MetadataDate)\s*=\s*["'])[^"']*(["'])|(<xmp:(?:ModifyDate|MetadataDate)>)[^<]*(</xmp:(?:ModifyDate|MetadataDate)>)`)

// xmpDates sets the document's XMP packet (the catalog's /Metadata) to
// say it was changed at now, where it has xmp:ModifyDate or
// xmp:MetadataDate: the document information dictionary's ModDate is set
// to now, and PDF/A requires the two to agree (ISO 19005-1 §6.7.3). The
// packet is written unfiltered, as PDF/A-1 wants metadata streams. It
// returns the stream's object number and whether it changed.
func xmpDates(xt *model.XRefTable, now time.Time) (int, bool) {
	root, err := xt.Catalog()
	if err != nil || root == nil {
		return 0, false
	}
	o, found := root.Find("Metadata")
	ref, isRef := o.(types.IndirectRef)
	if !found || !isRef {
		return 0, false
	}
	sd, _, err := xt.DereferenceStreamDict(ref)
	if err != nil || sd == nil {
		return 0, false
	}
	cp := *sd
	cp.Dict = sd.Dict.Clone().(types.Dict)
	if err := cp.Decode(); err != nil {
		return 0, false
	}
	stamp := now.Format("2006-01-02T15:04:05-07:00")
	content := xmpModifyDates.ReplaceAll(cp.Content, []byte("${1}${3}"+stamp+"${2}${4}"))
	if bytes.Equal(content, cp.Content) {
		return 0, false
	}
	out := types.StreamDict{Dict: cp.Dict, Content: content, Raw: content}
	out.Delete("Filter")
	out.Delete("DecodeParms")
	out.FilterPipeline = nil
	l := int64(len(content))
	out.StreamLength = &l
	out.Update("Length", types.Integer(l))
	entry, ok := xt.FindTableEntryForIndRef(&ref)
	if !ok {
		return 0, false
	}
	entry.Object = out
	return ref.ObjectNumber.Value(), true
}

// deflateJPEGs wraps the data of every image XObject coded as JPEG alone
// (Filter DCTDecode, no DecodeParms) in a Flate filter — /Filter
// [/FlateDecode /DCTDecode], PDF 32000-1 §7.4.1 — where that saves at
// least 2 % of its bytes, and returns the numbers of the objects changed.
// The JPEG is kept byte for byte under the Flate: same DCT coefficients,
// encoding and resolution (pdfimages -list shows it as jpeg still). This
// is what OCRmyPDF's default optimisation (-O1, deflate_jpegs) does;
// JPEGs with standard Huffman tables — most scanners' and Go's encoder —
// shrink by a sixth to a quarter on a white page (bench/searchable-pdf.sh).
func deflateJPEGs(xt *model.XRefTable) ([]int, error) {
	var nums []int
	for n, e := range xt.Table {
		if e == nil || e.Free || e.Compressed {
			continue
		}
		sd, ok := e.Object.(types.StreamDict)
		if !ok || len(sd.Raw) == 0 || sd.Subtype() == nil || *sd.Subtype() != "Image" {
			continue
		}
		if f := sd.NameEntry("Filter"); f == nil || *f != "DCTDecode" {
			continue
		}
		if _, has := sd.Find("DecodeParms"); has {
			continue
		}
		var b bytes.Buffer
		zw, err := zlib.NewWriterLevel(&b, zlib.DefaultCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(sd.Raw); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if b.Len() > len(sd.Raw)*98/100 {
			continue
		}
		z := b.Bytes()
		sd.Raw = z
		l := int64(len(z))
		sd.StreamLength = &l
		sd.FilterPipeline = []types.PDFFilter{{Name: "FlateDecode"}, {Name: "DCTDecode"}}
		sd.Update("Filter", types.Array{types.Name("FlateDecode"), types.Name("DCTDecode")})
		sd.Update("Length", types.Integer(l))
		e.Object = sd
		nums = append(nums, n)
	}
	return nums, nil
}

// readContext reads a PDF's structure with pdfcpu, without validating it.
func readContext(input []byte) (_ *model.Context, err error) {
	defer func() { // pdfcpu panics on some structures it cannot read
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	ctx, err := api.ReadContext(bytes.NewReader(input), pdfConfig())
	if err != nil {
		return nil, err
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return nil, err
	}
	return ctx, nil
}

// writeIncrement writes input then an incremental update holding the
// objects numbered in objs, with a cross-reference section of the input's
// kind (table or stream) whose /Prev is the input's last.
func writeIncrement(ctx *model.Context, w io.Writer, input []byte, objs []int) (err error) {
	defer func() { // pdfcpu panics on some structures it cannot write
		if p := recover(); p != nil {
			err = fmt.Errorf("render: writing the PDF: %v", p)
		}
	}()
	if _, err := w.Write(input); err != nil {
		return err
	}
	var tail []byte
	if len(input) > 0 && input[len(input)-1] != '\n' && input[len(input)-1] != '\r' {
		tail = []byte{'\n'}
		if _, err := w.Write(tail); err != nil {
			return err
		}
	}
	ctx.Write.Increment = true
	ctx.Write.Offset = int64(len(input) + len(tail))
	ctx.WriteXRefStream = ctx.Read.UsingXRefStreams
	ctx.WriteObjectStream = false
	slices.Sort(objs)
	for _, n := range slices.Compact(objs) {
		ctx.Write.IncrementWithObjNr(n)
	}
	if err := api.WriteIncrement(ctx, w); err != nil {
		return fmt.Errorf("render: writing the PDF: %w", err)
	}
	return nil
}

func writeContext(ctx *model.Context, w io.Writer) (err error) {
	defer func() { // pdfcpu panics on some structures it cannot write
		if p := recover(); p != nil {
			err = fmt.Errorf("render: writing the PDF: %v", p)
		}
	}()
	if err := api.WriteContext(ctx, w); err != nil {
		return fmt.Errorf("render: writing the PDF: %w", err)
	}
	return nil
}

// overlay adds the text layers and returns the numbers of the input's
// objects it changed (the pages' dictionaries, emptied layers); objects it
// adds are numbered from the input's size on.
func overlay(ctx *model.Context, pages []*result.Page, redo bool) (changed []int, removed bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("render: adding the text layer: %v", p)
		}
	}()
	var font *types.IndirectRef
	for i, p := range pages {
		d, ref, inh, err := ctx.PageDict(i+1, false)
		if err != nil {
			return nil, false, fmt.Errorf("render: page %d: %w", i+1, err)
		}
		res := inh.Resources
		touched := false
		if redo && p != nil && p.Source != result.SourceText {
			var emptied []int
			if res, emptied, touched, err = removeLayers(ctx.XRefTable, d, res); err != nil {
				return nil, false, fmt.Errorf("render: page %d: removing an earlier text layer: %w", i+1, err)
			}
			changed = append(changed, emptied...)
			removed = removed || touched
		}
		if p != nil && p.Source != result.SourceText && hasWords(p) {
			if font == nil {
				if font, err = glyphlessFont(ctx.XRefTable); err != nil {
					return nil, false, err
				}
			}
			if err := addLayer(ctx.XRefTable, d, inh, res, p, font); err != nil {
				return nil, false, fmt.Errorf("render: page %d: %w", i+1, err)
			}
			touched = true
		}
		if touched {
			if ref == nil {
				return nil, false, fmt.Errorf("render: page %d has no object of its own", i+1)
			}
			changed = append(changed, ref.ObjectNumber.Value())
		}
	}
	return changed, removed, nil
}

func hasWords(p *result.Page) bool {
	for _, b := range p.Blocks {
		if b.Table != nil && len(b.Table.Cells) > 0 {
			return true
		}
		for _, para := range b.Paragraphs {
			for _, l := range para.Lines {
				if l.String() != "" {
					return true
				}
			}
		}
	}
	return false
}

// visibleBox is the CropBox clipped to the MediaBox (what a viewer shows,
// PDF 32000-1 §14.11.2), or the MediaBox.
func visibleBox(inh *model.InheritedPageAttrs) (*types.Rectangle, error) {
	mb := inh.MediaBox
	if mb == nil {
		return nil, errors.New("the page has no MediaBox")
	}
	mb = types.NewRectangle(math.Min(mb.LL.X, mb.UR.X), math.Min(mb.LL.Y, mb.UR.Y), math.Max(mb.LL.X, mb.UR.X), math.Max(mb.LL.Y, mb.UR.Y))
	cb := inh.CropBox
	if cb == nil {
		return mb, nil
	}
	r := types.NewRectangle(
		math.Max(mb.LL.X, math.Min(cb.LL.X, cb.UR.X)), math.Max(mb.LL.Y, math.Min(cb.LL.Y, cb.UR.Y)),
		math.Min(mb.UR.X, math.Max(cb.LL.X, cb.UR.X)), math.Min(mb.UR.Y, math.Max(cb.LL.Y, cb.UR.Y)))
	if r.Width() <= 0 || r.Height() <= 0 {
		return mb, nil
	}
	return r, nil
}

// addLayer adds p's layer to page d, whose resources are pageRes.
func addLayer(xt *model.XRefTable, d types.Dict, inh *model.InheritedPageAttrs, pageRes types.Dict, p *result.Page, font *types.IndirectRef) error {
	box, err := visibleBox(inh)
	if err != nil {
		return err
	}
	rot := ((inh.Rotate % 360) + 360) % 360
	if rot%90 != 0 {
		rot = 0
	}
	g := pageGeometry{box: box, rotate: rot}
	w, h := g.shown()

	form := types.StreamDict{Dict: types.NewDict(), Content: TextLayer(p),
		FilterPipeline: []types.PDFFilter{{Name: "FlateDecode"}}}
	form.InsertName("Filter", "FlateDecode")
	form.InsertName("Type", "XObject")
	form.InsertName("Subtype", "Form")
	form.Insert("BBox", types.NewNumberArray(0, 0, float64(p.Width), float64(p.Height)))
	form.Insert("Resources", types.Dict{"Font": types.Dict{"F1": *font}})
	form.Insert(LayerKey, types.Boolean(true))
	if err := form.Encode(); err != nil {
		return err
	}
	formRef, err := xt.IndRefForNewObject(form)
	if err != nil {
		return err
	}

	// The page's own resources, copied so that pages sharing a resource
	// dictionary each name their own layer.
	res := types.Dict{}
	if pageRes != nil {
		res = pageRes.Clone().(types.Dict)
	}
	xo := types.Dict{}
	if o, ok := res.Find("XObject"); ok {
		if x, err := xt.DereferenceDict(o); err == nil && x != nil {
			xo = x.Clone().(types.Dict)
		}
	}
	name := layerName
	for n := 1; ; n++ {
		if _, taken := xo.Find(name); !taken {
			break
		}
		name = fmt.Sprintf("%s%d", layerName, n)
	}
	xo.Insert(name, *formRef)
	res.Update("XObject", xo)
	d.Update("Resources", res)

	var closing strings.Builder
	closing.WriteString("Q\nq")
	for _, m := range append([][6]float64{g.matrix()}, layerMatrices(p, w, h)...) {
		fmt.Fprintf(&closing, " %.6g %.6g %.6g %.6g %.4f %.4f cm", m[0], m[1], m[2], m[3], m[4], m[5])
	}
	fmt.Fprintf(&closing, " /%s Do Q\n", name)
	opening, err := markedStream(xt, "q\n")
	if err != nil {
		return err
	}
	closer, err := markedStream(xt, closing.String())
	if err != nil {
		return err
	}
	contents := types.Array{*opening}
	if o, ok := d.Find("Contents"); ok {
		existing, err := contentRefs(xt, o)
		if err != nil {
			return err
		}
		contents = append(contents, existing...)
	} else {
		contents = contents[:0]
	}
	contents = append(contents, *closer)
	d.Update("Contents", contents)
	return nil
}

// contentRefs lists a page's content streams as array entries.
func contentRefs(xt *model.XRefTable, o types.Object) (types.Array, error) {
	if ref, ok := o.(types.IndirectRef); ok {
		v, err := xt.Dereference(ref)
		if err != nil {
			return nil, err
		}
		if a, ok := v.(types.Array); ok {
			return append(types.Array{}, a...), nil
		}
		return types.Array{ref}, nil
	}
	if a, ok := o.(types.Array); ok {
		return append(types.Array{}, a...), nil
	}
	return nil, fmt.Errorf("the page's Contents is a %T", o)
}

func markedStream(xt *model.XRefTable, content string) (*types.IndirectRef, error) {
	sd := types.StreamDict{Dict: types.NewDict(), Content: []byte(content)}
	sd.Insert(LayerKey, types.Boolean(true))
	if err := sd.Encode(); err != nil {
		return nil, err
	}
	return xt.IndRefForNewObject(sd)
}

func marked(xt *model.XRefTable, o types.Object) bool {
	sd, _, err := xt.DereferenceStreamDict(o)
	if err != nil || sd == nil {
		return false
	}
	v, ok := sd.Find(LayerKey)
	return ok && v != nil
}

// removeLayers takes an earlier text layer off page d, whose resources
// are res: Lector's own (streams and Form XObjects carrying LayerKey), any
// Form XObject whose only fonts are glyph-less OCR fonts (another OCR
// tool's layer, as OCRmyPDF draws it: its content is emptied), and the
// invisible text (render mode 3) drawn in the page's own content streams
// (Tesseract's PDF renderer's layer: those streams are replaced by copies
// without it). Visible content is not touched.
// It returns the page's resources after (a copy in d's /Resources when an
// entry was taken out; shared resources are not changed), the numbers of
// the forms it emptied, and whether d changed.
func removeLayers(xt *model.XRefTable, d types.Dict, res types.Dict) (types.Dict, []int, bool, error) {
	touched := false
	if o, ok := d.Find("Contents"); ok {
		refs, err := contentRefs(xt, o)
		if err != nil {
			return nil, nil, false, err
		}
		kept := types.Array{}
		for _, r := range refs {
			if !marked(xt, r) {
				kept = append(kept, r)
			}
		}
		if len(kept) != len(refs) {
			touched = true
		}
		var st textState
		for k, r := range kept {
			ref, err := withoutInvisibleStream(xt, r, &st)
			if err != nil {
				return nil, nil, false, err
			}
			if ref != nil {
				kept[k] = *ref
				touched = true
			}
		}
		if touched {
			d.Update("Contents", kept)
		}
	}
	if res == nil {
		return res, nil, touched, nil
	}
	o, ok := res.Find("XObject")
	if !ok {
		return res, nil, touched, nil
	}
	xo, err := xt.DereferenceDict(o)
	if err != nil || xo == nil {
		return res, nil, touched, err
	}
	var emptied []int
	kept := xo.Clone().(types.Dict)
	for name, ref := range xo {
		if marked(xt, ref) {
			kept.Delete(name)
			continue
		}
		sd, _, err := xt.DereferenceStreamDict(ref)
		if err != nil || sd == nil || sd.Subtype() == nil || *sd.Subtype() != "Form" || !onlyGlyphless(xt, sd.Dict) {
			continue
		}
		ir, ok := ref.(types.IndirectRef)
		if !ok {
			continue
		}
		empty := types.StreamDict{Dict: sd.Dict.Clone().(types.Dict), Content: nil}
		empty.Delete("Filter")
		empty.Delete("DecodeParms")
		if err := empty.Encode(); err != nil {
			return nil, nil, false, err
		}
		if entry, found := xt.FindTableEntryForIndRef(&ir); found {
			entry.Object = empty
			emptied = append(emptied, ir.ObjectNumber.Value())
		}
	}
	if len(kept) != len(xo) {
		res = res.Clone().(types.Dict)
		res.Update("XObject", kept)
		d.Update("Resources", res)
		touched = true
	}
	return res, emptied, touched, nil
}

// withoutInvisibleStream returns a new content stream holding the
// content stream r without its invisible text (withoutInvisibleText), or
// nil when it has none or cannot be read (it is then kept as it is). The
// stream is copied, not changed, as another page may draw it too.
func withoutInvisibleStream(xt *model.XRefTable, r types.Object, st *textState) (*types.IndirectRef, error) {
	sd, _, err := xt.DereferenceStreamDict(r)
	if err != nil || sd == nil {
		return nil, nil
	}
	cp := *sd
	cp.Dict = sd.Dict.Clone().(types.Dict)
	if err := cp.Decode(); err != nil {
		return nil, nil
	}
	content, removed, err := withoutInvisibleText(cp.Content, st)
	if err != nil || !removed {
		return nil, nil
	}
	out := types.StreamDict{Dict: types.NewDict(), Content: content,
		FilterPipeline: []types.PDFFilter{{Name: "FlateDecode"}}}
	out.InsertName("Filter", "FlateDecode")
	if err := out.Encode(); err != nil {
		return nil, err
	}
	return xt.IndRefForNewObject(out)
}

// onlyGlyphless reports whether a form's fonts are all glyph-less OCR fonts.
func onlyGlyphless(xt *model.XRefTable, form types.Dict) bool {
	o, ok := form.Find("Resources")
	if !ok {
		return false
	}
	res, err := xt.DereferenceDict(o)
	if err != nil || res == nil {
		return false
	}
	fo, ok := res.Find("Font")
	if !ok {
		return false
	}
	fonts, err := xt.DereferenceDict(fo)
	if err != nil || len(fonts) == 0 {
		return false
	}
	for _, f := range fonts {
		fd, err := xt.DereferenceDict(f)
		if err != nil || fd == nil {
			return false
		}
		bf := fd.NameEntry("BaseFont")
		if bf == nil || !strings.Contains(*bf, "GlyphLess") {
			return false
		}
	}
	return true
}

// glyphlessFont adds the glyph-less Type0 font (Tesseract's layout of it:
// CIDFontType2, Identity-H, every CID to glyph 1, 500 units wide).
func glyphlessFont(xt *model.XRefTable) (*types.IndirectRef, error) {
	newStream := func(data []byte, extra types.Dict) (*types.IndirectRef, error) {
		sd, err := xt.NewStreamDictForBuf(data)
		if err != nil {
			return nil, err
		}
		for k, v := range extra {
			sd.Insert(k, v)
		}
		if err := sd.Encode(); err != nil {
			return nil, err
		}
		return xt.IndRefForNewObject(*sd)
	}
	file, err := newStream(glyphlessTTF, types.Dict{"Length1": types.Integer(len(glyphlessTTF))})
	if err != nil {
		return nil, err
	}
	gids := bytes.Repeat([]byte{0, 1}, 1<<16)
	cidToGID, err := newStream(gids, nil)
	if err != nil {
		return nil, err
	}
	toUnicode, err := newStream([]byte(toUnicodeCMap), nil)
	if err != nil {
		return nil, err
	}
	desc, err := xt.IndRefForNewObject(types.Dict{
		"Type": types.Name("FontDescriptor"), "FontName": types.Name(fontName),
		"Flags": types.Integer(5), "FontBBox": types.NewIntegerArray(0, 0, 500, 1000), "ItalicAngle": types.Integer(0),
		"Ascent": types.Integer(1000), "Descent": types.Integer(-1), "CapHeight": types.Integer(1000), "StemV": types.Integer(80),
		"FontFile2": *file,
	})
	if err != nil {
		return nil, err
	}
	cid, err := xt.IndRefForNewObject(types.Dict{
		"Type": types.Name("Font"), "Subtype": types.Name("CIDFontType2"), "BaseFont": types.Name(fontName),
		"CIDSystemInfo":  types.Dict{"Registry": types.StringLiteral("Adobe"), "Ordering": types.StringLiteral("Identity"), "Supplement": types.Integer(0)},
		"FontDescriptor": *desc, "CIDToGIDMap": *cidToGID, "DW": types.Integer(500),
	})
	if err != nil {
		return nil, err
	}
	return xt.IndRefForNewObject(types.Dict{
		"Type": types.Name("Font"), "Subtype": types.Name("Type0"), "BaseFont": types.Name(fontName),
		"Encoding": types.Name("Identity-H"), "DescendantFonts": types.Array{*cid}, "ToUnicode": *toUnicode,
	})
}

// toUnicodeCMap maps every two-byte code to the same UTF-16 code unit.
const toUnicodeCMap = `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identify-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
`

// ImagePage is one page of an image input, for ImagePDF.
type ImagePage struct {
	DPI int // the image's horizontal resolution; 0 unknown (300 is used)
	// DPIY is its vertical resolution (a fax's 98 beside 204); 0: unknown,
	// taken as DPI. The page is sized from each, as tiff2pdf and img2pdf do.
	DPIY         int
	QuarterTurns int // clockwise quarter turns that make it upright (EXIF), shown through /Rotate
	// The page's image as it goes in, when every page has one of these
	// (else the PDF library's import of the file is used): CCITT, coded as
	// CCITT Group 4, put in as it is; JPEG, baseline or progressive JPEG
	// data put in as it is (DCTDecode); Pixels, samples put in as Flate.
	CCITT  *CCITT
	JPEG   *JPEG
	Pixels *Pixels
}

// JPEG is one image's JPEG (ITU-T T.81) data, whole (SOI to EOI), written
// as an image XObject with /Filter /DCTDecode.
type JPEG struct {
	Data          []byte
	Width, Height int
	Components    int // 1 gray, 3 colour, 4 CMYK
	// RGB: a 3-component image whose samples are R, G, B, not YCbCr (a
	// TIFF's PhotometricInterpretation 2): DecodeParms /ColorTransform 0.
	RGB bool
	// Adobe: a 4-component image written by Adobe's convention, its
	// samples inverted (Decode [1 0 1 0 1 0 1 0], as pdfcpu writes it).
	Adobe bool
}

// Pixels is one image's samples, rows from the top, each row starting on
// a byte, samples most significant bit first (PDF 32000-1 §8.9.2), put in
// as Flate. When Predictor is set the data is already zlib-compressed
// with PNG's row filters (a PNG's IDAT data as it is: /DecodeParms
// /Predictor 15, §7.4.4.4, as img2pdf writes PNGs).
type Pixels struct {
	Data          []byte
	Width, Height int
	BPC           int    // bits per component: 1, 2, 4, 8 or 16
	ColorSpace    string // DeviceGray, DeviceRGB or DeviceCMYK; the base of an Indexed one with Palette
	Palette       []byte // an Indexed colour space's table: ColorSpace components per entry
	Predictor     bool
}

// CCITT is one bilevel image coded as CCITT Group 4 (ITU-T T.6), written
// as an image XObject with /Filter /CCITTFaxDecode and DecodeParms
// K −1, Columns, Rows, BlackIs1 (PDF 32000-1 §7.4.6; what tiff2pdf
// writes for a TIFF's G4 strip).
type CCITT struct {
	Data          []byte // the coded data, most significant bit first
	Columns, Rows int    // the image's width and height in pixels
	BlackIs1      bool   // the coder's black runs are 1 bits (a TIFF's PhotometricInterpretation 1)
}

// imageResources is each page's image XObject: each page's CCITT, JPEG
// or Pixels when every page has one, else pdfcpu's import of the file
// (JPEG as DCT, other formats decoded and written as Flate). No image is
// marked /Interpolate (pdfcpu marks images under 1000 pixels a side): a
// scan is shown as its pixels are, as OCRmyPDF and img2pdf write it.
func imageResources(xt *model.XRefTable, data []byte, info []ImagePage) ([]model.ImageResource, error) {
	all := len(info) > 0
	for _, in := range info {
		all = all && (in.CCITT != nil || in.JPEG != nil || in.Pixels != nil)
	}
	if !all {
		imgs, err := model.CreateImageResources(xt, bytes.NewReader(data), false, false)
		if err != nil {
			return nil, fmt.Errorf("render: embedding the image: %w", err)
		}
		for _, im := range imgs {
			if e, ok := xt.FindTableEntryForIndRef(im.Res.IndRef); ok {
				if sd, ok := e.Object.(types.StreamDict); ok {
					sd.Delete("Interpolate")
				}
			}
		}
		return imgs, nil
	}
	imgs := make([]model.ImageResource, len(info))
	for i, in := range info {
		var sd types.StreamDict
		var w, h int
		switch {
		case in.CCITT != nil:
			c := in.CCITT
			w, h = c.Columns, c.Rows
			sd = imageStream(c.Data, w, h, 1, types.Name("DeviceGray"), "CCITTFaxDecode",
				types.Dict{"K": types.Integer(-1), "Columns": types.Integer(w),
					"Rows": types.Integer(h), "BlackIs1": types.Boolean(c.BlackIs1)})
		case in.JPEG != nil:
			j := in.JPEG
			w, h = j.Width, j.Height
			cs := map[int]string{1: "DeviceGray", 3: "DeviceRGB", 4: "DeviceCMYK"}[j.Components]
			if cs == "" {
				return nil, fmt.Errorf("render: a JPEG of %d components", j.Components)
			}
			var parms types.Dict
			if j.RGB && j.Components == 3 {
				parms = types.Dict{"ColorTransform": types.Integer(0)}
			}
			sd = imageStream(j.Data, w, h, 8, types.Name(cs), "DCTDecode", parms)
			if j.Adobe && j.Components == 4 {
				sd.Insert("Decode", types.NewIntegerArray(1, 0, 1, 0, 1, 0, 1, 0))
			}
		default:
			px := in.Pixels
			w, h = px.Width, px.Height
			var cs types.Object = types.Name(px.ColorSpace)
			if px.Palette != nil {
				n := len(px.Palette) / map[string]int{"DeviceGray": 1, "DeviceRGB": 3, "DeviceCMYK": 4}[px.ColorSpace]
				cs = types.Array{types.Name("Indexed"), types.Name(px.ColorSpace), types.Integer(n - 1), types.NewHexLiteral(px.Palette)}
			}
			z := px.Data
			var parms types.Dict
			if px.Predictor {
				comps := map[string]int{"DeviceGray": 1, "DeviceRGB": 3, "DeviceCMYK": 4}[px.ColorSpace]
				if px.Palette != nil {
					comps = 1
				}
				parms = types.Dict{"Predictor": types.Integer(15), "Colors": types.Integer(comps),
					"BitsPerComponent": types.Integer(px.BPC), "Columns": types.Integer(w)}
			} else {
				var b bytes.Buffer
				zw, err := zlib.NewWriterLevel(&b, zlib.BestCompression)
				if err != nil {
					return nil, err
				}
				if _, err := zw.Write(px.Data); err != nil {
					return nil, err
				}
				if err := zw.Close(); err != nil {
					return nil, err
				}
				z = b.Bytes()
			}
			sd = imageStream(z, w, h, px.BPC, cs, "FlateDecode", parms)
		}
		ref, err := xt.IndRefForNewObject(sd)
		if err != nil {
			return nil, err
		}
		imgs[i] = model.ImageResource{Res: model.Resource{IndRef: ref}, Width: w, Height: h}
	}
	return imgs, nil
}

// imageStream is an image XObject whose stream is data, already coded by
// filter (with DecodeParms parms when not nil).
func imageStream(data []byte, w, h, bpc int, cs types.Object, filter string, parms types.Dict) types.StreamDict {
	pf := types.PDFFilter{Name: filter}
	if parms != nil {
		pf.DecodeParms = parms
	}
	sd := types.StreamDict{Dict: types.NewDict(), Raw: data, FilterPipeline: []types.PDFFilter{pf}}
	l := int64(len(data))
	sd.StreamLength = &l
	sd.InsertName("Type", "XObject")
	sd.InsertName("Subtype", "Image")
	sd.InsertInt("Width", w)
	sd.InsertInt("Height", h)
	sd.Insert("ColorSpace", cs)
	sd.InsertInt("BitsPerComponent", bpc)
	sd.InsertName("Filter", filter)
	if parms != nil {
		sd.Insert("DecodeParms", parms)
	}
	sd.Insert("Length", types.Integer(l))
	return sd
}

// MinPagePoints is PDF's smallest page side (PDF 32000-1 Annex C.2: 3 units).
const MinPagePoints = 3.0

// maxPagePoints is PDF's largest page side (Annex C.2: 14,400 units).
const maxPagePoints = 14400.0

// ImagePDF writes a PDF of an image input — one page per image, each in
// its own encoding where PDF has it (JPEG as DCT, as it is; CCITT as
// CCITTFaxDecode; other formats losslessly as Flate: info's Pixels, or
// pdfcpu's image import) at its own resolution — with
// pages' words as a text layer. data is the encoded file (every page of a
// multi-page TIFF); info[i] describes page i. A page under 3 points on a
// side is enlarged to 3.
func ImagePDF(w io.Writer, data []byte, info []ImagePage, pages []*result.Page) error {
	ctx, err := pdfcpu.CreateContextWithXRefTable(pdfConfig(), types.PaperSize["A4"])
	if err != nil {
		return err
	}
	xt := ctx.XRefTable
	imgs, err := imageResources(xt, data, info)
	if err != nil {
		return err
	}
	if len(imgs) != len(pages) || len(info) != len(pages) {
		return fmt.Errorf("render: %d images, %d pages", len(imgs), len(pages))
	}
	pagesRef, err := ctx.Pages()
	if err != nil {
		return err
	}
	pagesDict, err := ctx.DereferenceDict(*pagesRef)
	if err != nil {
		return err
	}
	for i, im := range imgs {
		dpi, ydpi := float64(info[i].DPI), float64(info[i].DPIY)
		switch {
		case dpi <= 0 && ydpi <= 0:
			dpi, ydpi = 300, 300
		case dpi <= 0:
			dpi = ydpi
		case ydpi <= 0:
			ydpi = dpi
		}
		pw, ph := float64(im.Width)*72/dpi, float64(im.Height)*72/ydpi
		if s := MinPagePoints / math.Min(pw, ph); s > 1 {
			pw, ph = pw*s, ph*s
		}
		if s := maxPagePoints / math.Max(pw, ph); s < 1 {
			pw, ph = pw*s, ph*s
		}
		content := fmt.Sprintf("q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q\n", pw, ph)
		sd, err := xt.NewStreamDictForBuf([]byte(content))
		if err != nil {
			return err
		}
		if err := sd.Encode(); err != nil {
			return err
		}
		cref, err := xt.IndRefForNewObject(*sd)
		if err != nil {
			return err
		}
		pd := types.Dict{
			"Type": types.Name("Page"), "Parent": *pagesRef,
			"MediaBox":  types.NewNumberArray(0, 0, pw, ph),
			"Resources": types.Dict{"XObject": types.Dict{"Im0": *im.Res.IndRef}},
			"Contents":  *cref,
		}
		if q := ((info[i].QuarterTurns % 4) + 4) % 4; q != 0 {
			pd.Insert("Rotate", types.Integer(90*q))
		}
		pref, err := xt.IndRefForNewObject(pd)
		if err != nil {
			return err
		}
		if err := model.AppendPageTree(pref, 1, pagesDict); err != nil {
			return err
		}
		ctx.PageCount++
	}
	if _, _, err := overlay(ctx, pages, false); err != nil {
		return err
	}
	return writeContext(ctx, w)
}
