package eval

import (
	"math"
	"testing"
)

func td(text string, spans ...int) *Node {
	n := &Node{Tag: "td", Colspan: 1, Rowspan: 1, Content: Chars(text)}
	if len(spans) == 2 {
		n.Colspan, n.Rowspan = spans[0], spans[1]
	}
	return n
}

func tr(cells ...*Node) *Node { return &Node{Tag: "tr", Children: cells} }

func table(head, body []*Node) *Node {
	return &Node{Tag: "table", Children: []*Node{{Tag: "thead", Children: head}, {Tag: "tbody", Children: body}}}
}

func TestTEDS(t *testing.T) {
	t.Parallel()
	a := table([]*Node{tr(td("Name"), td("Age"))}, []*Node{tr(td("Ann"), td("31")), tr(td("Bo"), td("7"))})
	if got := TEDS(a, a, false); got != 1 {
		t.Fatalf("identical: %v", got)
	}
	// One cell's text differs by one of three characters: 1/3 of a rename
	// over 12 nodes.
	b := table([]*Node{tr(td("Name"), td("Age"))}, []*Node{tr(td("Ann"), td("31")), tr(td("Bo"), td("8"))})
	if got, want := TEDS(a, b, false), 1-1.0/12; math.Abs(got-want) > 1e-9 {
		t.Fatalf("one character: %v, want %v", got, want)
	}
	if got := TEDS(a, b, true); got != 1 {
		t.Fatalf("structure only ignores text: %v", got)
	}
	// A missing row: three nodes deleted.
	c := table([]*Node{tr(td("Name"), td("Age"))}, []*Node{tr(td("Ann"), td("31"))})
	if got, want := TEDS(a, c, true), 1-3.0/12; math.Abs(got-want) > 1e-9 {
		t.Fatalf("missing row: %v, want %v", got, want)
	}
	// A header merged into one spanning cell: one rename, one delete.
	d := table([]*Node{tr(td("Name Age", 2, 1))}, []*Node{tr(td("Ann"), td("31")), tr(td("Bo"), td("7"))})
	if got, want := TEDS(a, d, true), 1-2.0/12; math.Abs(got-want) > 1e-9 {
		t.Fatalf("span: %v, want %v", got, want)
	}
}

func TestPubTabNetTree(t *testing.T) {
	t.Parallel()
	structure := []string{"<thead>", "<tr>", "<td", ` colspan="2"`, ">", "</td>", "</tr>", "</thead>", "<tbody>", "<tr>", "<td>", "</td>", "<td>", "</td>", "</tr>", "</tbody>"}
	n, err := PubTabNetTree(structure, [][]string{{"<b>", "H", "</b>"}, {"a"}, {"b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := table([]*Node{tr(&Node{Tag: "td", Colspan: 2, Rowspan: 1, Content: []string{"<b>", "H", "</b>"}})}, []*Node{tr(td("a"), td("b"))})
	if got := TEDS(n, want, false); got != 1 || n.Size() != 8 {
		t.Fatalf("TEDS %v size %d", got, n.Size())
	}
}

// TestHeaderCellsAsTh: a table whose header cells are <th> (as Lector
// writes them) scores as the same table with <td> header cells (as
// PubTabNet's truth marks them), text and spans still counted.
func TestHeaderCellsAsTh(t *testing.T) {
	t.Parallel()
	th := func(text string) *Node { n := td(text); n.Tag = "th"; return n }
	truth := table([]*Node{tr(td("Name"), td("Age"))}, []*Node{tr(td("Ann"), td("31"))})
	out := table([]*Node{tr(th("Name"), th("Age"))}, []*Node{tr(td("Ann"), td("31"))})
	if got := TEDS(out, truth, false); got != 1 {
		t.Fatalf("th against td: %v, want 1", got)
	}
	typo := table([]*Node{tr(th("Name"), th("Agd"))}, []*Node{tr(td("Ann"), td("31"))})
	if got, want := TEDS(typo, truth, false), 1-1.0/3/9; math.Abs(got-want) > 1e-9 {
		t.Fatalf("th with a typo: %v, want %v", got, want)
	}
	n, err := PubTabNetTree([]string{"<thead>", "<tr>", "<th>", "</th>", "<th", ` colspan="2"`, ">", "</th>", "</tr>", "</thead>"}, [][]string{{"a"}, {"b"}})
	if err != nil || n.Size() != 5 || n.Children[0].Children[0].Children[1].Colspan != 2 {
		t.Fatalf("annotation with th: %v, %+v", err, n)
	}
}
