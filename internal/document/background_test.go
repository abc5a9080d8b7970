package document

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	_ "image/jpeg"
	"math"
	"strings"
	"testing"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/result"
)

// recognised is an OCR'd page of w×h pixels with one line of words, each
// at its box.
func recognised(w, h int, words ...result.Word) *result.Page {
	l := result.Line{Words: words}
	for _, wd := range words {
		l.Box = l.Box.Union(wd.Box)
	}
	return &result.Page{Width: w, Height: h, Source: result.SourceOCR, Blocks: []result.Block{{Type: result.BlockText, Box: l.Box,
		Paragraphs: []result.Paragraph{{Box: l.Box, Lines: []result.Line{l}}}}}}
}

// ownBox is the box of page i's own word text in the engine's pixels,
// moved dy points down.
func ownBox(t *testing.T, p *PDF, i int, text string, dy float64) result.Box {
	t.Helper()
	s := float64(p.dpi[i]) / 72
	for _, b := range p.text[i].blocks {
		for _, l := range b {
			for _, w := range l.words {
				if w.s == text {
					return result.Box{X0: int(w.xMin * s), Y0: int((w.yMin + dy) * s), X1: int(w.xMax * s), Y1: int((w.yMax + dy) * s)}
				}
			}
		}
	}
	t.Fatalf("page %d has no word %q", i+1, text)
	return result.Box{}
}

// A born-digital page drawn over a full-page background image (a smooth
// gradient) has no ink outside its words: it is read from its text,
// exactly, in skip and redo, and gets no layer even in force.
func TestPageOverABackgroundImageIsReadFromItsText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var lines []pdftest.Text
	for i := range 25 {
		lines = append(lines, pdftest.At(72, float64(700-14*i), 11, "invoice Il1O0 due 10.01.2027, account 0O1lI."))
	}
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.GradientJPEG(850, 1100), JW: 850, JH: 1100, Text: lines}})
	p := openFixture(t, in)
	for _, mode := range []lector.PDFText{lector.PDFTextSkip, lector.PDFTextRedo} {
		page, err := p.TextPage(ctx, 0, mode)
		if err != nil || page == nil {
			t.Fatalf("%s: a page over a background image was not read from its text: %v (%s)", mode, err, p.text[0])
		}
		if got := strings.Count(page.Text(), "invoice Il1O0 due 10.01.2027, account 0O1lI."); got != 25 {
			t.Fatalf("%s: the exact line is in the text %d times, want 25:\n%s", mode, got, page.Text())
		}
	}
	if p.text[0].imageCover < ScanImageCover || p.text[0].glyphs != 0 {
		t.Fatalf("the background covers %.2f of the page and has %d glyph-like marks outside the words, want ≥ %.2f and 0", p.text[0].imageCover, p.text[0].glyphs, ScanImageCover)
	}
	w, h := p.PageSize(0)
	out, how, err := p.SearchablePDF(ctx, []*result.Page{recognised(w, h, result.Word{Text: "invoice", Box: ownBox(t, p, 0, "invoice", 0)})}, lector.PDFTextForce)
	if err != nil || how != PDFOriginal {
		t.Fatalf("searchable PDF: %v (%s)", err, how)
	}
	if fonts := poppler(t, "pdffonts", save(t, "out.pdf", out)); strings.Contains(fonts, "GlyphLess") {
		t.Fatalf("force put a layer over the page's own text:\n%s", fonts)
	}
}

// A scan (text-like ink all over the image) with a typed stamp is OCR'd;
// the result carries the stamp's exact words where the OCR read them, and
// those it did not read too (WithOwnWords); the text layer leaves out the recognised words lying on
// the stamp in skip, redo and force, even when the engine's boxes sit a
// few points off the printed ones.
func TestScanWithAStampIsOCRdAndKeepsTheStampsExactWords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(425, 550), JW: 425, JH: 550,
		Text: []pdftest.Text{pdftest.At(400, 40, 12, "APPROVED ref Il1O0"), pdftest.At(72, 40, 12, "Form 7b")}}})
	p := openFixture(t, in)
	for _, mode := range []lector.PDFText{lector.PDFTextSkip, lector.PDFTextRedo} {
		if page, err := p.TextPage(ctx, 0, mode); err != nil || page != nil {
			t.Fatalf("%s: a scan with a stamp was read from its text: %v (%s)", mode, err, p.text[0])
		}
	}
	if p.text[0].glyphs < InkGlyphs {
		t.Fatalf("the scan has %d glyph-like marks outside the stamp, want ≥ %d", p.text[0].glyphs, InkGlyphs)
	}
	w, h := p.PageSize(0)
	// The engine reads the scan, and the stamp with look-alikes misread,
	// its boxes 3 points above the printed words (as OCRmyPDF's were).
	scanned := result.Word{Text: "scanned", Box: result.Box{X0: w / 10, Y0: h / 10, X1: w / 2, Y1: h/10 + h/40}, Confidence: 90}
	ocr := func() *result.Page {
		pg := recognised(w, h, result.Word{Text: "APPROVED", Box: ownBox(t, p, 0, "APPROVED", -3), Confidence: 90},
			result.Word{Text: "ref", Box: ownBox(t, p, 0, "ref", -3), Confidence: 90},
			result.Word{Text: "II1Q0", Box: ownBox(t, p, 0, "Il1O0", -3), Confidence: 90})
		para := &pg.Blocks[0].Paragraphs[0]
		para.Lines = append([]result.Line{{Box: scanned.Box, Words: []result.Word{scanned}}}, para.Lines...)
		return pg
	}
	for _, mode := range []lector.PDFText{lector.PDFTextSkip, lector.PDFTextRedo, lector.PDFTextForce} {
		page := ocr()
		p.WithOwnWords(ctx, []*result.Page{page}, mode)
		want := "scanned\nAPPROVED ref Il1O0\n\nForm 7b" // the words the engine missed: a block of their own
		if mode == lector.PDFTextForce {
			want = "scanned\nAPPROVED ref II1Q0" // force reads everything by OCR
		}
		if got := page.Text(); got != want {
			t.Fatalf("%s: result %q, want %q", mode, got, want)
		}
		out, how, err := p.SearchablePDF(ctx, []*result.Page{page}, mode)
		if err != nil || how != PDFOriginal {
			t.Fatalf("%s: searchable PDF: %v (%s)", mode, err, how)
		}
		txt := poppler(t, "pdftotext", save(t, "out.pdf", out), "-")
		if strings.Count(txt, "APPROVED") != 1 || strings.Count(txt, "scanned") != 1 || strings.Contains(txt, "II1Q0") {
			t.Fatalf("%s: the output's text %q, want the stamp once (its own words) and the scan's word once", mode, txt)
		}
	}
}

// A scan with a stamp that another tool has OCR'd (a glyph-less invisible
// layer over the scan, 3 points off the printed words) has text: skip
// reads it from its text and adds no second layer; redo OCRs it again,
// replaces the old layer, and still puts no layer over the visible stamp.
func TestScanCoveredByAnEarlierLayerHasText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, JPEG: pdftest.ScanJPEG(425, 550), JW: 425, JH: 550,
		Text: []pdftest.Text{pdftest.At(400, 40, 12, "APPROVED")}}})
	p := openFixture(t, in)
	if page, err := p.TextPage(ctx, 0, lector.PDFTextSkip); err != nil || page != nil {
		t.Fatalf("the scan was read from its text: %v", err)
	}
	// The earlier tool's layer: one word over each row of the scan's
	// marks (ScanJPEG: rows every 25 of 550 pixels from 55, 8 high, across
	// 42..382 of 425), 3 points above them.
	w, h := p.PageSize(0)
	sx, sy := float64(w)/425, float64(h)/550
	first := recognised(w, h)
	for y := 55; y+8 < 495; y += 25 {
		b := result.Box{X0: int(42 * sx), Y0: int(float64(y)*sy) - 12, X1: int(383 * sx), Y1: int(float64(y+8)*sy) - 12}
		first.Blocks[0].Paragraphs[0].Lines = append(first.Blocks[0].Paragraphs[0].Lines, result.Line{Box: b, Words: []result.Word{{Text: "earlier", Box: b}}})
	}
	layered, _, err := p.SearchablePDF(ctx, []*result.Page{first}, lector.PDFTextForce)
	if err != nil {
		t.Fatal(err)
	}
	q := openFixture(t, layered)
	page, err := q.TextPage(ctx, 0, lector.PDFTextSkip)
	if err != nil || page == nil {
		t.Fatalf("skip: a scan under an earlier OCR layer was not read from its text: %v (%s)", err, q.text[0])
	}
	if !strings.Contains(page.Text(), "earlier") || !strings.Contains(page.Text(), "APPROVED") {
		t.Fatalf("skip: text %q", page.Text())
	}
	if q.text[0].glyphs != 0 { // the layer's words, 3 points off, cover the scan's ink
		t.Fatalf("%d glyph-like marks outside the earlier layer's words, want 0 (%s)", q.text[0].glyphs, q.text[0])
	}
	if out, _, err := q.SearchablePDF(ctx, []*result.Page{page}, lector.PDFTextSkip); err != nil || string(out) != string(layered) {
		t.Fatalf("skip changed a PDF every page of which is read from its text: %v", err)
	}
	if page, err := q.TextPage(ctx, 0, lector.PDFTextRedo); err != nil || page != nil {
		t.Fatalf("redo read a page with an earlier OCR layer from its text: %v", err)
	}
	again := recognised(w, h, result.Word{Text: "again", Box: result.Box{X0: w / 10, Y0: h / 10, X1: w / 2, Y1: h/10 + h/40}},
		result.Word{Text: "APPROVED", Box: ownBox(t, q, 0, "APPROVED", -3)})
	q.WithOwnWords(ctx, []*result.Page{again}, lector.PDFTextRedo)
	out, _, err := q.SearchablePDF(ctx, []*result.Page{again}, lector.PDFTextRedo)
	if err != nil {
		t.Fatal(err)
	}
	txt := poppler(t, "pdftotext", save(t, "redo.pdf", out), "-")
	if strings.Contains(txt, "earlier") || strings.Count(txt, "APPROVED") != 1 || strings.Count(txt, "again") != 1 {
		t.Fatalf("redo: the output's text %q, want the old layer gone, the stamp once and the new word", txt)
	}
}

// A poster (200 × 200 inches) is measured at the DPI that keeps its render
// near InkMaxPixels: a scan with a stamp is still a scan, a page over a
// gradient still read from its text.
func TestPosterPagesAreMeasuredAtAFittingResolution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	poster := [4]float64{0, 0, 14400, 14400}
	in := pdftest.Build([]pdftest.Page{
		{MediaBox: poster, JPEG: pdftest.ScanJPEG(425, 425), JW: 425, JH: 425, Text: []pdftest.Text{pdftest.At(9000, 400, 300, "APPROVED")}},
		{MediaBox: poster, JPEG: pdftest.GradientJPEG(425, 425), JW: 425, JH: 425, Text: []pdftest.Text{pdftest.At(2000, 9000, 300, "Poster title Il1O0")}},
	})
	p := openFixture(t, in)
	for i, want := range []bool{false, true} {
		page, err := p.TextPage(ctx, i, lector.PDFTextSkip)
		if err != nil || (page != nil) != want {
			t.Fatalf("page %d (%s): read from its text %v, want %v (%v)", i+1, p.text[i], page != nil, want, err)
		}
	}
}

func TestOnOwnWordAllowsAnOffsetOfAFewPoints(t *testing.T) {
	own := []ownWord{{text: "APPROVED", box: result.Box{X0: 100, Y0: 100, X1: 300, Y1: 150}}}
	for _, c := range []struct {
		b    result.Box
		want bool
	}{
		{result.Box{X0: 100, Y0: 100, X1: 300, Y1: 150}, true},
		{result.Box{X0: 100, Y0: 80, X1: 300, Y1: 130}, true},   // 20 px (a third of the height) above
		{result.Box{X0: 100, Y0: 160, X1: 300, Y1: 210}, false}, // the line below
		{result.Box{X0: 320, Y0: 100, X1: 400, Y1: 150}, false}, // the next word
	} {
		if got := len(onOwnWord(c.b, own)) > 0; got != c.want {
			t.Errorf("%+v on %+v: %v, want %v", c.b, own[0].box, got, c.want)
		}
	}
}

// BenchmarkInkOutsideWords: the ink measure on a Letter page at InkDPI
// (612×792 pixels) of ScanJPEG's marks, with one word.
func BenchmarkInkOutsideWords(b *testing.B) {
	img, _, err := image.Decode(bytes.NewReader(pdftest.ScanJPEG(612, 792)))
	if err != nil {
		b.Fatal(err)
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, image.Point{}, draw.Src)
	t := &pageText{blocks: [][]textLine{{{words: []textWord{{s: "APPROVED", xMin: 400, yMin: 740, xMax: 480, yMax: 752}}}}}}
	b.ResetTimer()
	for range b.N {
		if inkOutsideWords(g, t, [2]float64{612, 792}) < InkGlyphs {
			b.Fatal("no marks")
		}
	}
}

// A page drawn upright whose /Rotate (90 or 180) shows it turned, as a
// viewer shows it and as it is rendered for the engine, which turns it
// back (Rotation 270 or 180). Over a background image it is read from its
// text, exactly, and gets no layer in force; a scan with a typed stamp is
// OCR'd, its result carries the stamp's exact words where the engine read
// them (in the engine's upright frame), and the output has the stamp once.
func TestRotatedPagesKeepTheirOwnWords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, rot := range []int{90, 180} {
		var lines []pdftest.Text
		for i := range 25 {
			lines = append(lines, pdftest.At(72, float64(700-14*i), 11, "invoice Il1O0 due 10.01.2027, account 0O1lI."))
		}
		bg := openFixture(t, pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, Rotate: rot, TextTurn: 360,
			JPEG: pdftest.GradientJPEG(850, 1100), JW: 850, JH: 1100, Text: lines}}))
		page, err := bg.TextPage(ctx, 0, lector.PDFTextSkip)
		if err != nil || page == nil {
			t.Fatalf("/Rotate %d: a page over a background image was not read from its text: %v (%s)", rot, err, bg.text[0])
		}
		if got := strings.Count(page.Text(), "invoice Il1O0 due 10.01.2027, account 0O1lI."); got != 25 {
			t.Fatalf("/Rotate %d: the exact line is in the text %d times, want 25:\n%s", rot, got, page.Text())
		}
		w, h := bg.PageSize(0)
		turned := recognised(w, h, result.Word{Text: "invoice", Box: result.Box{X0: 10, Y0: 10, X1: 50, Y1: 20}})
		out, how, err := bg.SearchablePDF(ctx, []*result.Page{turned}, lector.PDFTextForce)
		if err != nil || how != PDFOriginal {
			t.Fatalf("/Rotate %d: searchable PDF: %v (%s)", rot, err, how)
		}
		if fonts := poppler(t, "pdffonts", save(t, "out.pdf", out)); strings.Contains(fonts, "GlyphLess") {
			t.Fatalf("/Rotate %d: force put a layer over the page's own text:\n%s", rot, fonts)
		}

		stamp := func(rotate int) *PDF {
			return openFixture(t, pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, Rotate: rotate, TextTurn: 360,
				JPEG: pdftest.ScanJPEG(425, 550), JW: 425, JH: 550,
				Text: []pdftest.Text{pdftest.At(400, 40, 12, "APPROVED ref Il1O0"), pdftest.At(72, 40, 12, "Form 7b")}}}))
		}
		// The engine's upright frame is the page unturned: the words' boxes
		// there are those of the same page without /Rotate.
		upright, p := stamp(0), stamp(rot)
		for _, d := range []*PDF{upright, p} {
			if page, err := d.TextPage(ctx, 0, lector.PDFTextSkip); err != nil || page != nil {
				t.Fatalf("/Rotate %d: a scan with a stamp was read from its text: %v (%s)", rot, err, d.text[0])
			}
		}
		w, h = upright.PageSize(0)
		if pw, ph := p.PageSize(0); rot == 90 && (pw != h || ph != w) {
			t.Fatalf("/Rotate 90: the page as shown is %d×%d, want %d×%d", pw, ph, h, w)
		}
		scanned := result.Word{Text: "scanned", Box: result.Box{X0: w / 10, Y0: h / 10, X1: w / 2, Y1: h/10 + h/40}, Confidence: 90}
		for _, mode := range []lector.PDFText{lector.PDFTextSkip, lector.PDFTextRedo} {
			pg := recognised(w, h, result.Word{Text: "APPROVED", Box: ownBox(t, upright, 0, "APPROVED", -3), Confidence: 90},
				result.Word{Text: "ref", Box: ownBox(t, upright, 0, "ref", -3), Confidence: 90},
				result.Word{Text: "II1Q0", Box: ownBox(t, upright, 0, "Il1O0", -3), Confidence: 90})
			para := &pg.Blocks[0].Paragraphs[0]
			para.Lines = append([]result.Line{{Box: scanned.Box, Words: []result.Word{scanned}}}, para.Lines...)
			pg.Rotation = (360 - rot) % 360
			p.WithOwnWords(ctx, []*result.Page{pg}, mode)
			if got, want := pg.Text(), "scanned\nAPPROVED ref Il1O0\n\nForm 7b"; got != want {
				t.Fatalf("/Rotate %d, %s: result %q, want %q", rot, mode, got, want)
			}
			out, how, err := p.SearchablePDF(ctx, []*result.Page{pg}, mode)
			if err != nil || how != PDFOriginal {
				t.Fatalf("/Rotate %d, %s: searchable PDF: %v (%s)", rot, mode, err, how)
			}
			txt := poppler(t, "pdftotext", save(t, "out.pdf", out), "-")
			if strings.Count(txt, "APPROVED") != 1 || strings.Count(txt, "Il1O0") != 1 || strings.Count(txt, "scanned") != 1 {
				t.Fatalf("/Rotate %d, %s: the output's text %q, want the stamp once (its own words) and the scan's word once", rot, mode, txt)
			}
		}
	}
}

// TestOwnWordsFollowTheDeskew: a page's own words are placed in the
// engine's frame turned by its deskew (Skew degrees about the page's
// centre; not when SkewNotApplied), so that a tilted scan's stamp lies on
// the words the engine read: at 20° a word 400 px from the centre moves
// some 140 px.
func TestOwnWordsFollowTheDeskew(t *testing.T) {
	p := &PDF{points: [][2]float64{{612, 792}}}
	// One word at (100, 100)-(200, 120) pt, y down: at 150 dpi (1275×1650
	// px) its centre is (312.5, 229.2) px, (−325, −595.8) from the centre.
	text := &pageText{words: 1, blocks: [][]textLine{{{words: []textWord{{s: "APPROVED", xMin: 100, yMin: 100, xMax: 200, yMax: 120}}}}}}
	for _, c := range []struct {
		skew       float64
		notApplied bool
		x, y       float64 // the word's centre in the engine's frame
	}{
		{0, false, 312.5, 229.2},
		{20, true, 312.5, 229.2},
		// (u, v) turned by 20° (y down): (u cos − v sin, u sin + v cos).
		{20, false, 637.5 - 325*math.Cos(20*math.Pi/180) + 595.8*math.Sin(20*math.Pi/180), 825 - 325*math.Sin(20*math.Pi/180) - 595.8*math.Cos(20*math.Pi/180)},
	} {
		pg := &result.Page{Width: 1275, Height: 1650, Skew: c.skew, SkewNotApplied: c.notApplied}
		own := p.ownWords(0, text, pg)
		if len(own) != 1 {
			t.Fatalf("skew %g: %d own words", c.skew, len(own))
		}
		b := own[0].box
		if x, y := float64(b.X0+b.X1)/2, float64(b.Y0+b.Y1)/2; math.Abs(x-c.x) > 2 || math.Abs(y-c.y) > 2 {
			t.Errorf("skew %g (not applied %v): the word's box %+v, centre (%.1f, %.1f), want (%.1f, %.1f)", c.skew, c.notApplied, b, x, y, c.x, c.y)
		}
	}
}
