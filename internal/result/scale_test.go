package result

import (
	"reflect"
	"testing"
)

// Scale maps every box, polygon and table cell and the page's size; a
// box that would round to no width keeps one pixel.
func TestScaleMapsEveryBox(t *testing.T) {
	t.Parallel()
	p := &Page{Width: 408, Height: 408, Blocks: []Block{
		{Box: Box{10, 100, 200, 300}, Paragraphs: []Paragraph{{Box: Box{10, 100, 200, 300}, Lines: []Line{{
			Box: Box{10, 100, 200, 120}, Polygon: []Point{{10, 100}, {200, 100}, {200, 120}, {10, 120}},
			Words: []Word{{Text: "a", Box: Box{10, 100, 11, 101}}},
		}}}}},
		{Type: BlockTable, Box: Box{0, 200, 408, 408}, Table: &Table{Cells: []Cell{{Box: Box{0, 200, 204, 300}}}}},
	}}
	p.Scale(1, 0.5)
	want := &Page{Width: 408, Height: 204, Blocks: []Block{
		{Box: Box{10, 50, 200, 150}, Paragraphs: []Paragraph{{Box: Box{10, 50, 200, 150}, Lines: []Line{{
			Box: Box{10, 50, 200, 60}, Polygon: []Point{{10, 50}, {200, 50}, {200, 60}, {10, 60}},
			Words: []Word{{Text: "a", Box: Box{10, 50, 11, 51}}},
		}}}}},
		{Type: BlockTable, Box: Box{0, 100, 408, 204}, Table: &Table{Cells: []Cell{{Box: Box{0, 100, 204, 150}}}}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}
