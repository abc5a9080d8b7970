package layout

import (
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/result"
)

func para(x, y, w int, lines ...string) result.Paragraph {
	p := result.Paragraph{}
	for i, s := range lines {
		l := result.Line{}
		x0 := x
		for _, t := range strings.Fields(s) {
			wb := result.Box{X0: x0, Y0: y + i*40, X1: x0 + 14*len(t), Y1: y + i*40 + 30}
			l.Words = append(l.Words, result.Word{Text: t, Box: wb})
			l.Box = l.Box.Union(wb)
			x0 = wb.X1 + 10
		}
		p.Lines = append(p.Lines, l)
		p.Box = p.Box.Union(l.Box)
	}
	return p
}

func blocks(ps ...result.Paragraph) []result.Block {
	var out []result.Block
	for _, p := range ps {
		out = append(out, result.Block{Type: result.BlockText, Box: p.Box, Paragraphs: []result.Paragraph{p}})
	}
	return out
}

func summary(bs []result.Block) string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b.Type)+":"+strings.Fields(b.Words())[0])
	}
	return strings.Join(out, " ")
}

// TestReadingOrderColumnsThenSection: two columns read left then right,
// and the section below them after both.
func TestReadingOrderColumnsThenSection(t *testing.T) {
	t.Parallel()
	page := &result.Page{Number: 2, Width: 1400, Height: 2000, Blocks: blocks(
		para(800, 300, 400, "Right one here", "and more of it"),
		para(100, 300, 400, "Left one here", "and more of it"),
		para(100, 420, 400, "Left two here", "and the end."),
		para(800, 420, 400, "Right two here", "and the end."),
		para(100, 700, 1000, "Below both columns the text goes on across the page."),
	)}
	got := summary(Analyze(nil, page, Options{}))
	want := "paragraph:Left paragraph:Left paragraph:Right paragraph:Right paragraph:Below"
	if got != want {
		t.Fatalf("order %s\nwant  %s", got, want)
	}
}

// TestListItemsSplitAndMarginals: a paragraph of numbered lines becomes
// one item per number; a lone number at the bottom is the page number.
func TestListItemsSplitAndMarginals(t *testing.T) {
	t.Parallel()
	page := &result.Page{Number: 3, Width: 1400, Height: 2000, Blocks: blocks(
		para(100, 300, 800, "1. Open the lid", "2. Insert the tray", "3. Close it again."),
		para(680, 1900, 40, "17"),
	)}
	got := summary(Analyze(nil, page, Options{}))
	want := "list_item:1. list_item:2. list_item:3. page_number:17"
	if got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
}

// TestRepeatedHeadersAcrossPages: the same running head on every page is a
// header, whatever its page number.
func TestRepeatedHeadersAcrossPages(t *testing.T) {
	t.Parallel()
	var pages []*result.Page
	for n := 1; n <= 3; n++ {
		pages = append(pages, &result.Page{Number: n, Width: 1400, Height: 2000, Blocks: []result.Block{
			{Type: result.BlockParagraph, Paragraphs: []result.Paragraph{para(100, 100, 900, "Annual Report 2026 page "+string(rune('0'+n)))}, Box: result.Box{X0: 100, Y0: 100, X1: 900, Y1: 130}},
			{Type: result.BlockParagraph, Paragraphs: []result.Paragraph{para(100, 500, 900, "Body text differs on page "+string(rune('0'+n)))}, Box: result.Box{X0: 100, Y0: 500, X1: 900, Y1: 530}},
		}})
	}
	Pages(pages)
	for _, p := range pages {
		if p.Blocks[0].Type != result.BlockHeader || p.Blocks[1].Type != result.BlockParagraph {
			t.Fatalf("page %d: %s, %s", p.Number, p.Blocks[0].Type, p.Blocks[1].Type)
		}
	}
}
