package eval

import (
	"fmt"
	"strconv"
	"strings"
)

// Node is a node of an HTML table tree for TEDS: table, thead, tbody, tr,
// and the cells td and th with their spans and content tokens. TEDS takes
// th and td for the same label (sameCell).
type Node struct {
	Tag      string
	Colspan  int
	Rowspan  int
	Content  []string // a cell's tokens (characters, and tags such as <b>)
	Children []*Node
}

// Size is the number of nodes.
func (n *Node) Size() int {
	s := 1
	for _, c := range n.Children {
		s += c.Size()
	}
	return s
}

// TEDS is the tree-edit-distance similarity of PubTabNet (Zhong et al.,
// 2020): 1 − EditDistance(a, b) / max(|a|, |b|), where inserting or deleting
// a node costs 1 and renaming one costs 1 when tags or spans differ, the
// normalized edit distance of the contents for two cells, 0 otherwise. With
// structureOnly, contents are ignored.
func TEDS(a, b *Node, structureOnly bool) float64 {
	ta, tb := postorder(a), postorder(b)
	n := max(len(ta.nodes), len(tb.nodes))
	if n == 0 {
		return 1
	}
	d := zhangShasha(ta, tb, func(x, y *Node) float64 {
		if label(x.Tag) != label(y.Tag) || x.Colspan != y.Colspan || x.Rowspan != y.Rowspan {
			return 1
		}
		if label(x.Tag) == "td" && !structureOnly && (len(x.Content) > 0 || len(y.Content) > 0) {
			return normalizedDistance(x.Content, y.Content)
		}
		return 0
	})
	return 1 - d/float64(n)
}

// label is a node's label for TEDS: th is td. PubTabNet's annotations,
// the truth TEDS was defined on (and that `lector eval tables` reads, as
// do its ICDAR 2013 tables converted to the format), mark every cell
// <td>, header cells included (their place in <thead> says they are
// headers), so a header cell output as <th> is the same cell as the
// truth's <td>: telling them apart would charge a rename for every header
// cell of a table read right.
func label(tag string) string {
	if tag == "th" {
		return "td"
	}
	return tag
}

func normalizedDistance(a, b []string) float64 {
	m := max(len(a), len(b))
	if m == 0 {
		return 0
	}
	return float64(distance(a, b)) / float64(m)
}

type flat struct {
	nodes    []*Node
	leftmost []int // leftmost leaf descendant of each node, by postorder index
	keyroots []int
}

func postorder(root *Node) flat {
	var f flat
	var walk func(n *Node) int
	walk = func(n *Node) int {
		first := -1
		for _, c := range n.Children {
			l := walk(c)
			if first < 0 {
				first = l
			}
		}
		f.nodes = append(f.nodes, n)
		idx := len(f.nodes) - 1
		if first < 0 {
			first = idx
		}
		f.leftmost = append(f.leftmost, first)
		return first
	}
	if root != nil {
		walk(root)
	}
	seen := map[int]bool{}
	for i := len(f.nodes) - 1; i >= 0; i-- {
		if !seen[f.leftmost[i]] {
			seen[f.leftmost[i]] = true
			f.keyroots = append(f.keyroots, i)
		}
	}
	// ascending order
	for i, j := 0, len(f.keyroots)-1; i < j; i, j = i+1, j-1 {
		f.keyroots[i], f.keyroots[j] = f.keyroots[j], f.keyroots[i]
	}
	return f
}

// zhangShasha is the Zhang–Shasha ordered tree edit distance with unit
// insert and delete costs.
func zhangShasha(a, b flat, rename func(x, y *Node) float64) float64 {
	na, nb := len(a.nodes), len(b.nodes)
	if na == 0 || nb == 0 {
		return float64(max(na, nb))
	}
	td := make([][]float64, na)
	for i := range td {
		td[i] = make([]float64, nb)
	}
	fd := make([][]float64, na+1)
	for i := range fd {
		fd[i] = make([]float64, nb+1)
	}
	for _, i := range a.keyroots {
		for _, j := range b.keyroots {
			li, lj := a.leftmost[i], b.leftmost[j]
			m, n := i-li+2, j-lj+2
			fd[0][0] = 0
			for x := 1; x < m; x++ {
				fd[x][0] = fd[x-1][0] + 1
			}
			for y := 1; y < n; y++ {
				fd[0][y] = fd[0][y-1] + 1
			}
			for x := 1; x < m; x++ {
				i1 := li + x - 1
				for y := 1; y < n; y++ {
					j1 := lj + y - 1
					if a.leftmost[i1] == li && b.leftmost[j1] == lj {
						fd[x][y] = min(fd[x-1][y]+1, fd[x][y-1]+1, fd[x-1][y-1]+rename(a.nodes[i1], b.nodes[j1]))
						td[i1][j1] = fd[x][y]
					} else {
						p, q := a.leftmost[i1]-li, b.leftmost[j1]-lj
						fd[x][y] = min(fd[x-1][y]+1, fd[x][y-1]+1, fd[p][q]+td[i1][j1])
					}
				}
			}
		}
	}
	return td[na-1][nb-1]
}

// PubTabNetTree builds the tree of a PubTabNet annotation: its structure
// tokens ("<thead>", "<tr>", "<td>", "<td", ` colspan="2"`, ">", "</td>",
// …; "<th>" as "<td>", for annotations that use it) with each cell's
// content tokens, in order.
func PubTabNetTree(structure []string, cells [][]string) (*Node, error) {
	root := &Node{Tag: "table"}
	stack := []*Node{root}
	cell := 0
	var open *Node // a "<td" awaiting its ">"
	for _, tok := range structure {
		top := stack[len(stack)-1]
		switch {
		case tok == "<thead>" || tok == "<tbody>" || tok == "<tr>":
			n := &Node{Tag: strings.Trim(tok, "<>")}
			top.Children = append(top.Children, n)
			stack = append(stack, n)
		case tok == "</thead>" || tok == "</tbody>" || tok == "</tr>":
			if len(stack) < 2 {
				return nil, fmt.Errorf("unbalanced %s", tok)
			}
			stack = stack[:len(stack)-1]
		case tok == "<td>" || tok == "<td" || tok == "<th>" || tok == "<th":
			n := &Node{Tag: tok[1:3], Colspan: 1, Rowspan: 1}
			if cell < len(cells) {
				n.Content = cells[cell]
			}
			cell++
			top.Children = append(top.Children, n)
			if tok == "<td" || tok == "<th" {
				open = n
			}
		case tok == ">":
			open = nil
		case tok == "</td>" || tok == "</th>":
		case open != nil && strings.Contains(tok, "span="):
			name, val, _ := strings.Cut(strings.TrimSpace(tok), "=")
			v, err := strconv.Atoi(strings.Trim(val, `"`))
			if err != nil {
				return nil, fmt.Errorf("bad attribute %q", tok)
			}
			if name == "colspan" {
				open.Colspan = v
			} else {
				open.Rowspan = v
			}
		default:
			return nil, fmt.Errorf("unexpected token %q", tok)
		}
	}
	return root, nil
}

// Chars splits text into one token per character, as TEDS compares cell
// contents.
func Chars(s string) []string {
	out := make([]string, 0, len(s))
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}
