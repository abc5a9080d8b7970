package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/result"
)

// bornDigital is a born-digital page: a title, a paragraph, a ruled table
// of look-alike codes (I, l, 1, O, 0 in Helvetica), a closing paragraph.
// The cells' text, row by row, is cells.
var (
	bornDigitalCells = [][]string{
		{"Code", "Lot", "Count"},
		{"Il1O0", "lI0O1", "10"},
		{"O0Il1", "1lIO0", "01"},
		{"0O0O", "IlIl", "1I1l"},
	}
	bornDigitalBefore = "The codes below are printed in a font where Il1O0 and O0Il1 look alike. Each cell must keep its exact letters."
	bornDigitalAfter  = "After the table, a closing paragraph names O0Il1 once more. It ends the page in reading order."
)

func bornDigitalPage() pdftest.Page {
	p := pdftest.Page{MediaBox: pdftest.Letter, Text: []pdftest.Text{
		pdftest.At(72, 720, 20, "Quarterly Codes"),
		pdftest.At(72, 680, 11, "The codes below are printed in a font where Il1O0 and O0Il1 look alike."),
		pdftest.At(72, 665, 11, "Each cell must keep its exact letters."),
		pdftest.At(72, 500, 11, "After the table, a closing paragraph names O0Il1 once more."),
		pdftest.At(72, 485, 11, "It ends the page in reading order."),
	}}
	const left, top, colW, rowH = 72.0, 640.0, 120.0, 24.0
	rows, cols := len(bornDigitalCells), len(bornDigitalCells[0])
	for r := 0; r <= rows; r++ {
		y := top - float64(r)*rowH
		p.Rules = append(p.Rules, [4]float64{left, y, left + float64(cols)*colW, y})
	}
	for c := 0; c <= cols; c++ {
		x := left + float64(c)*colW
		p.Rules = append(p.Rules, [4]float64{x, top, x, top - float64(rows)*rowH})
	}
	for r, row := range bornDigitalCells {
		for c, s := range row {
			p.Text = append(p.Text, pdftest.At(left+float64(c)*colW+8, top-float64(r)*rowH-17, 11, s))
		}
	}
	return p
}

// scannedPage is a page that is only an image of printed text: a scan.
func scannedPage(t *testing.T, dir string) pdftest.Page {
	t.Helper()
	printed := writeFile(t, dir, "printed.pdf", pdftest.Build([]pdftest.Page{{MediaBox: pdftest.Letter, Text: []pdftest.Text{
		pdftest.At(72, 700, 24, "Scanned pages are read"),
		pdftest.At(72, 660, 24, "by optical recognition."),
	}}}))
	base := filepath.Join(dir, "scan")
	gray := scan150(t, printed, base)
	return pdftest.Page{MediaBox: pdftest.Letter, JPEG: pdftest.EncodeJPEG(gray), JW: gray.Rect.Dx(), JH: gray.Rect.Dy()}
}

// structurePDF runs lector ocr --pipeline structure on pdf with args and
// returns its one result.
func structurePDF(t *testing.T, pdf string, args ...string) ocrOutput {
	t.Helper()
	out, stderr, err := run(t, testEnv(), append([]string{"ocr", "--pipeline", "structure", "--format", "json", pdf}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res ocrOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Pages) != 2 {
		t.Fatalf("%d pages", len(res.Pages))
	}
	return res
}

// TestStructureReadsBornDigitalPDFsFromTheirText: through lector ocr and
// the structure model's runner, a born-digital page's table cells and
// paragraphs carry the PDF's exact text (look-alike letters and digits
// included), in reading order (title, paragraph, table, paragraph); a
// scanned page of the same document is OCR'd; pdf_text force OCRs both.
func TestStructureReadsBornDigitalPDFsFromTheirText(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	dir := t.TempDir()
	pdf := writeFile(t, dir, "mixed.pdf", pdftest.Build([]pdftest.Page{bornDigitalPage(), scannedPage(t, dir)}))

	res := structurePDF(t, pdf)
	p1, p2 := res.Pages[0], res.Pages[1]
	if p1.Source != result.SourceText || p2.Source != result.SourceOCR || res.Resources.PagesText != 1 || res.Resources.PagesOCR != 1 {
		t.Fatalf("sources %q, %q; resources %+v: want page 1 from its text, page 2 OCR'd", p1.Source, p2.Source, res.Resources)
	}
	if p1.Engine != "structure:default" {
		t.Fatalf("page 1's engine %q, want the structure model's analysis", p1.Engine)
	}
	var types []result.BlockType
	var table *result.Table
	var paras []string
	for _, b := range p1.Blocks {
		types = append(types, b.Type)
		switch {
		case b.Type == result.BlockTable:
			table = b.Table
		case b.Type == result.BlockParagraph:
			paras = append(paras, b.Words())
		}
	}
	want := []result.BlockType{result.BlockTitle, result.BlockParagraph, result.BlockTable, result.BlockParagraph}
	if !equalTypes(types, want) {
		t.Fatalf("page 1's blocks %v, want %v", types, want)
	}
	if table == nil || table.Rows != len(bornDigitalCells) || table.Cols != len(bornDigitalCells[0]) {
		t.Fatalf("table %+v, want %d×%d", table, len(bornDigitalCells), len(bornDigitalCells[0]))
	}
	for _, c := range table.Cells {
		if w := bornDigitalCells[c.Row][c.Col]; c.Text != w {
			t.Errorf("cell (%d,%d) %q, want %q", c.Row, c.Col, c.Text, w)
		}
	}
	if len(paras) != 2 || paras[0] != bornDigitalBefore || paras[1] != bornDigitalAfter {
		t.Fatalf("paragraphs %q, want %q and %q", paras, bornDigitalBefore, bornDigitalAfter)
	}
	if got := strings.ToLower(p2.Text()); !strings.Contains(got, "scanned pages are read") {
		t.Fatalf("the scanned page read as %q", got)
	}

	forced := structurePDF(t, pdf, "--pdf-text", "force")
	if forced.Pages[0].Source != result.SourceOCR || forced.Pages[1].Source != result.SourceOCR || forced.Resources.PagesOCR != 2 {
		t.Fatalf("force: sources %q, %q; resources %+v: want both pages OCR'd", forced.Pages[0].Source, forced.Pages[1].Source, forced.Resources)
	}
	if !strings.Contains(forced.Pages[0].Text(), "Quarterly") {
		t.Fatalf("force: page 1 read as %q", forced.Pages[0].Text())
	}
	for _, b := range forced.Pages[0].Blocks {
		if b.Table != nil {
			t.Logf("force: the table OCR'd reads %q", b.Table.TextRows())
		}
	}
}

// TestStructureTextPagesKeepTheModelsContract: over the API, born-digital
// PDFs read from their text still go through the structure model: it is
// loaded for them, six submitted at once never run more than
// --structure-concurrency (2) at a time although lanes and workers would
// allow four, and it is unloaded after its keep-alive. Each task says its
// pages were read from their text, and its cells are the PDF's.
func TestStructureTextPagesKeepTheModelsContract(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	ts := startServer(t, "--cpu-lanes", "4", "--workers", "8")
	ctx := t.Context()
	page := bornDigitalPage()
	pdf := pdftest.Build([]pdftest.Page{page, page, page})
	var ids []string
	for range 6 {
		task, err := ts.client.Submit(ctx, "codes.pdf", bytes.NewReader(pdf), api.Options{Pipeline: "structure", KeepAlive: "1s"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	for _, id := range ids {
		fin, err := ts.client.Wait(ctx, id)
		if err != nil || fin.Status != "succeeded" || fin.Resources == nil {
			t.Fatalf("%s: %+v %v", id, fin, err)
		}
		if fin.Pages.Text != 3 || fin.Pages.Done != 3 {
			t.Fatalf("%s: pages %+v, want 3 done, 3 read from their text", id, fin.Pages)
		}
		if r := fin.Resources; r.PagesText != 3 || r.PagesOCR != 0 || r.Device != "cpu" {
			t.Fatalf("%s: resources %+v, want 3 pages read from their text on the structure model's cpu runner", id, r)
		}
	}
	var js bytes.Buffer
	if err := ts.client.Result(ctx, ids[0], "json", &js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"text":"1lIO0"`) || !strings.Contains(js.String(), `"source":"text"`) {
		t.Fatalf("the JSON result has no cell 1lIO0 read from the text: %.600s", js.String())
	}
	var sys struct {
		Semaphores []struct {
			Pipeline string `json:"pipeline"`
			Limit    int    `json:"limit"`
			Peak     int    `json:"peak"`
		} `json:"semaphores"`
	}
	if err := ts.client.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	for _, s := range sys.Semaphores {
		if s.Pipeline == "structure" && (s.Limit != 2 || s.Peak != 2) {
			t.Fatalf("structure semaphore: limit %d, peak %d; want at most (and here exactly) 2 at once", s.Limit, s.Peak)
		}
	}
	ts.sig.unloaded.Wait(t, func(r model.UnloadRecord) bool {
		return r.Model == "structure:default" && r.Reason == model.ReasonIdle
	})
}

func equalTypes(a, b []result.BlockType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
