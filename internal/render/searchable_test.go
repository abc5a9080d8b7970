package render

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/result"
)

// pageFrom makes a result page whose words are ws (boxes in points of the
// page as shown: one pixel per point).
func pageFrom(w, h float64, ws []bboxWord) *result.Page {
	p := &result.Page{Width: int(math.Round(w)), Height: int(math.Round(h)), Source: result.SourceOCR}
	for _, x := range ws {
		b := result.Box{X0: int(math.Round(x.XMin)), Y0: int(math.Round(x.YMin)), X1: int(math.Round(x.XMax)), Y1: int(math.Round(x.YMax))}
		p.Blocks = append(p.Blocks, result.Block{Type: result.BlockText, Box: b, Paragraphs: []result.Paragraph{{Box: b,
			Lines: []result.Line{{Box: b, Words: []result.Word{{Text: x.S, Box: b, Confidence: 90}}}}}}})
	}
	return p
}

func TestSearchablePDFPlacesWordsOnRotatedCroppedPages(t *testing.T) {
	t.Parallel()
	crop := [4]float64{50, 60, 560, 760}
	text := []pdftest.Text{pdftest.At(100, 500, 20, "Lector"), pdftest.At(200, 300, 14, "geometry"), pdftest.At(60, 100, 10, "corner"), pdftest.At(5, 5, 10, "BLEED")}
	for _, rot := range []int{0, 90, 180, 270} {
		printed := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, CropBox: &crop, Rotate: rot, Text: text}})
		want := bboxWords(t, writeTemp(t, "printed.pdf", printed), "-cropbox")
		for _, w := range want {
			if w.S == "BLEED" {
				t.Fatalf("rotate %d: pdftotext -cropbox read the bleed outside the CropBox", rot)
			}
		}
		if len(want) != 3 {
			t.Fatalf("rotate %d: printed words %+v", rot, want)
		}
		// The same page without its text, given the words as a result.
		blank := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, CropBox: &crop, Rotate: rot}})
		w, h := crop[2]-crop[0], crop[3]-crop[1]
		if rot%180 == 90 {
			w, h = h, w
		}
		var out bytes.Buffer
		if _, err := SearchablePDF(&out, blank, []*result.Page{pageFrom(w, h, want)}, Options{}); err != nil {
			t.Fatalf("rotate %d: %v", rot, err)
		}
		path := writeTemp(t, "out.pdf", out.Bytes())
		got := bboxWords(t, path, "-cropbox")
		if len(got) != len(want) {
			t.Fatalf("rotate %d: layer words %+v, want %+v", rot, got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			d := math.Max(math.Max(math.Abs(g.XMin-w.XMin), math.Abs(g.XMax-w.XMax)), math.Max(math.Abs(g.YMin-w.YMin), math.Abs(g.YMax-w.YMax)))
			if g.S != w.S || d > 2 {
				t.Errorf("rotate %d: word %q at (%.1f,%.1f)-(%.1f,%.1f), printed %q at (%.1f,%.1f)-(%.1f,%.1f)", rot, g.S, g.XMin, g.YMin, g.XMax, g.YMax, w.S, w.XMin, w.YMin, w.XMax, w.YMax)
			}
		}
		info := strings.Join(strings.Fields(tool(t, "pdfinfo", "-box", path)), " ")
		for _, s := range []string{"CropBox: 50.00 60.00 560.00 760.00", "MediaBox: 0.00 0.00 612.00 792.00"} {
			if !strings.Contains(info, s) {
				t.Errorf("rotate %d: boxes not kept (want %q):\n%s", rot, s, info)
			}
		}
		if rot != 0 && !strings.Contains(info, "Page rot: "+itoa(rot)) {
			t.Errorf("rotate %d: /Rotate not kept:\n%s", rot, info)
		}
	}
}

// A table block (the structure pipeline's) keeps its words in its cells:
// they are in the text layer too.
func TestTextLayerHasTableCells(t *testing.T) {
	t.Parallel()
	p := &result.Page{Width: 1000, Height: 1000, Blocks: []result.Block{{Type: result.BlockTable, Table: &result.Table{Cells: []result.Cell{
		{Text: "Total", Box: result.Box{X0: 100, Y0: 100, X1: 200, Y1: 130}}, {Text: "42", Box: result.Box{X0: 300, Y0: 100, X1: 340, Y1: 130}}}}}}}
	layer := string(TextLayer(p))
	for _, s := range []string{"<0054006F00740061006C>", "<00340032>"} { // UTF-16 of Total, 42
		if !strings.Contains(layer, s) {
			t.Errorf("layer lacks %s:\n%s", s, layer)
		}
	}
}

// A page whose font is a direct dictionary in its resources keeps its
// visible text and font when another page gets a layer (pdfcpu's
// validation turned such a font into a dangling reference).
func TestDirectFontDictionaryIsKept(t *testing.T) {
	t.Parallel()
	in := pdftest.Build([]pdftest.Page{
		{MediaBox: pdftest.Letter, DirectFont: true, Text: []pdftest.Text{pdftest.At(72, 700, 14, "Direct font text")}},
		{MediaBox: pdftest.Letter},
	})
	inPath := writeTemp(t, "in.pdf", in)
	var out bytes.Buffer
	pages := []*result.Page{{Width: 612, Height: 792, Source: result.SourceText}, pageFrom(612, 792, []bboxWord{{S: "scanned", XMin: 72, YMin: 100, XMax: 160, YMax: 114}})}
	if _, err := SearchablePDF(&out, in, pages, Options{}); err != nil {
		t.Fatal(err)
	}
	outPath := writeTemp(t, "out.pdf", out.Bytes())
	if a, b := tool(t, "pdftotext", "-f", "1", "-l", "1", inPath, "-"), tool(t, "pdftotext", "-f", "1", "-l", "1", outPath, "-"); a != b || !strings.Contains(b, "Direct font text") {
		t.Fatalf("page 1's text %q, was %q", b, a)
	}
	if fonts := tool(t, "pdffonts", outPath); !strings.Contains(fonts, "Helvetica") {
		t.Fatalf("the page's own font is gone:\n%s", fonts)
	}
	if got := tool(t, "pdftotext", "-f", "2", "-l", "2", outPath, "-"); !strings.Contains(got, "scanned") {
		t.Fatalf("page 2's layer %q", got)
	}
}

// The document's metadata is kept as it was written — CreationDate,
// Producer, the header's version — and only ModDate says when the layer
// was added.
func TestSearchablePDFKeepsMetadataAndSetsModDate(t *testing.T) {
	t.Parallel()
	in := pdftest.BuildWithInfo([]pdftest.Page{{MediaBox: pdftest.Letter}},
		"<< /Title (Minutes) /Producer (ScannerCo 2.1) /CreationDate (D:20150304050607Z) /ModDate (D:20150304050607Z) >>")
	in = bytes.Replace(in, []byte("%PDF-1.7"), []byte("%PDF-1.4"), 1)
	var out bytes.Buffer
	now := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	page := pageFrom(612, 792, []bboxWord{{S: "minutes", XMin: 72, YMin: 100, XMax: 160, YMax: 114}})
	if _, err := searchablePDF(&out, in, []*result.Page{page}, Options{}, now); err != nil {
		t.Fatal(err)
	}
	info := tool(t, "pdfinfo", "-isodates", writeTemp(t, "out.pdf", out.Bytes()))
	for _, want := range []string{"Title:           Minutes", "Producer:        ScannerCo 2.1", "CreationDate:    2015-03-04T05:06:07Z",
		"ModDate:         2026-11-30T01:02:03Z", "PDF version:     1.4"} {
		if !strings.Contains(info, want) {
			t.Errorf("want %q in:\n%s", want, info)
		}
	}
}

// Each word of the layer covers its own box — across a table's wide gaps
// too — and extracted text still has its spaces and its lines.
func TestLayerWordsFitTheirBoxesAndKeepSpaces(t *testing.T) {
	t.Parallel()
	type w struct {
		s      string
		x0, x1 int
	}
	lines := [][]w{
		{{"Hawaii", 72, 110}, {"1,234", 300, 330}, {"56", 520, 534}}, // a table's row
		{{"plain", 72, 100}, {"running", 104, 148}, {"text", 152, 175}},
	}
	p := &result.Page{Width: 612, Height: 792, Source: result.SourceOCR}
	for i, l := range lines {
		y := 100 + 30*i
		line := result.Line{Box: result.Box{X0: l[0].x0, Y0: y, X1: l[len(l)-1].x1, Y1: y + 12}}
		for _, x := range l {
			line.Words = append(line.Words, result.Word{Text: x.s, Box: result.Box{X0: x.x0, Y0: y, X1: x.x1, Y1: y + 12}, Confidence: 90})
		}
		p.Blocks = append(p.Blocks, result.Block{Type: result.BlockText, Box: line.Box, Paragraphs: []result.Paragraph{{Box: line.Box, Lines: []result.Line{line}}}})
	}
	var out bytes.Buffer
	if _, err := SearchablePDF(&out, pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter}}), []*result.Page{p}, Options{}); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "out.pdf", out.Bytes())
	got := bboxWords(t, path)
	var want []w
	for _, l := range lines {
		want = append(want, l...)
	}
	if len(got) != len(want) {
		t.Fatalf("words %+v, want %+v", got, want)
	}
	at := map[string]bboxWord{}
	for _, g := range got {
		at[g.S] = g
	}
	for _, x := range want {
		g, ok := at[x.s]
		if !ok || math.Abs(g.XMin-float64(x.x0)) > 1 || math.Abs(g.XMax-float64(x.x1)) > 1 {
			t.Errorf("word %q from %.1f to %.1f pt (found %v), box from %d to %d", x.s, g.XMin, g.XMax, ok, x.x0, x.x1)
		}
	}
	if raw := tool(t, "pdftotext", path, "-"); !strings.Contains(raw, "plain running text\n") || !strings.Contains(raw, "Hawaii") || strings.Contains(raw, "Hawaii1") {
		t.Errorf("lines or spaces lost:\n%q", raw)
	}
}

// A PDF/A's XMP packet is kept in agreement with the ModDate the layer
// sets: its xmp:ModifyDate and xmp:MetadataDate say the same instant
// (PDF/A requires it; only the Info dictionary's had changed), its other
// properties (pdfaid) as they were.
func TestSearchablePDFKeepsXMPDatesWithModDate(t *testing.T) {
	t.Parallel()
	xmp := `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="2" pdfaid:conformance="B" xmp:MetadataDate="2015-03-04T05:06:07Z">` +
		`<xmp:ModifyDate>2015-03-04T05:06:07Z</xmp:ModifyDate><xmp:CreateDate>2015-03-04T05:06:07Z</xmp:CreateDate></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
	in := pdftest.BuildWithMetadata([]pdftest.Page{{MediaBox: pdftest.Letter}},
		"<< /Producer (ScannerCo 2.1) /CreationDate (D:20150304050607Z) /ModDate (D:20150304050607Z) >>", xmp)
	var out bytes.Buffer
	now := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	page := pageFrom(612, 792, []bboxWord{{S: "minutes", XMin: 72, YMin: 100, XMax: 160, YMax: 114}})
	if _, err := searchablePDF(&out, in, []*result.Page{page}, Options{}, now); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "out.pdf", out.Bytes())
	if info := tool(t, "pdfinfo", "-isodates", path); !strings.Contains(info, "ModDate:         2026-11-30T01:02:03Z") {
		t.Errorf("Info:\n%s", info)
	}
	meta := tool(t, "pdfinfo", "-meta", path)
	for _, want := range []string{`xmp:MetadataDate="2026-11-30T01:02:03+00:00"`, `<xmp:ModifyDate>2026-11-30T01:02:03+00:00</xmp:ModifyDate>`,
		`<xmp:CreateDate>2015-03-04T05:06:07Z</xmp:CreateDate>`, `pdfaid:part="2"`} {
		if !strings.Contains(meta, want) {
			t.Errorf("want %s in the XMP:\n%s", want, meta)
		}
	}
}

// TestSkewNotAppliedKeepsWordsInPlace: a page whose skew was measured but
// not straightened (ppocr: boxes in the image's frame) has its words laid
// where its boxes say; the same skew applied (Tesseract's deskewed frame)
// turns them about the page's centre.
func TestSkewNotAppliedKeepsWordsInPlace(t *testing.T) {
	t.Parallel()
	printed := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, Text: []pdftest.Text{pdftest.At(60, 700, 14, "corner"), pdftest.At(450, 80, 14, "far")}}})
	want := bboxWords(t, writeTemp(t, "printed.pdf", printed), "-cropbox")
	blank := pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter}})
	moved := func(notApplied bool) float64 {
		p := pageFrom(pdftest.Letter[2], pdftest.Letter[3], want)
		p.Skew, p.SkewNotApplied = 5, notApplied
		var out bytes.Buffer
		if _, err := SearchablePDF(&out, blank, []*result.Page{p}, Options{}); err != nil {
			t.Fatal(err)
		}
		got := bboxWords(t, writeTemp(t, "out.pdf", out.Bytes()), "-cropbox")
		if len(got) != len(want) {
			t.Fatalf("layer words %+v, want %+v", got, want)
		}
		d := 0.0
		for i := range want {
			d = math.Max(d, math.Max(math.Abs(got[i].XMin-want[i].XMin), math.Abs(got[i].YMin-want[i].YMin)))
		}
		return d
	}
	if d := moved(true); d > 2 {
		t.Errorf("skew not applied: words moved %.1f pt from their boxes", d)
	}
	if d := moved(false); d < 10 {
		t.Errorf("skew applied: words moved only %.1f pt, want them turned about the centre", d)
	}
}
