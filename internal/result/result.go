// Package result holds the types every engine returns and every renderer
// reads: a page of blocks of paragraphs of lines of words, each with a box in
// page pixels and a confidence in [0,100]. It imports nothing of Lector's.
package result

import "math"

// Box is an axis-aligned rectangle in page pixels: X0,Y0 inclusive top-left,
// X1,Y1 exclusive bottom-right.
type Box struct {
	X0 int `json:"x0"`
	Y0 int `json:"y0"`
	X1 int `json:"x1"`
	Y1 int `json:"y1"`
}

// Width is X1-X0.
func (b Box) Width() int { return b.X1 - b.X0 }

// Height is Y1-Y0.
func (b Box) Height() int { return b.Y1 - b.Y0 }

// Union returns the smallest box holding b and o; a zero box is ignored.
func (b Box) Union(o Box) Box {
	if b == (Box{}) {
		return o
	}
	if o == (Box{}) {
		return b
	}
	return Box{min(b.X0, o.X0), min(b.Y0, o.Y0), max(b.X1, o.X1), max(b.Y1, o.Y1)}
}

// BlockType says what a block is.
type BlockType string

// Block types. Engines set the ones they can recognise; the structure
// pipeline refines them.
const (
	BlockText       BlockType = "text"
	BlockTitle      BlockType = "title"
	BlockHeading    BlockType = "heading"
	BlockParagraph  BlockType = "paragraph"
	BlockListItem   BlockType = "list_item"
	BlockTable      BlockType = "table"
	BlockFigure     BlockType = "figure"
	BlockCaption    BlockType = "caption"
	BlockHeader     BlockType = "header"
	BlockFooter     BlockType = "footer"
	BlockPageNumber BlockType = "page_number"
	BlockFormula    BlockType = "formula"
	BlockSeparator  BlockType = "separator"
)

// Word is one recognised word.
type Word struct {
	Text       string  `json:"text"`
	Box        Box     `json:"box"`
	Confidence float64 `json:"confidence"`
}

// Point is a position in page pixels.
type Point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// Line is a run of words on one baseline. Engines that read whole lines
// (learned recognisers) give the line's own Text, as read, and its
// Polygon: the rotated quadrilateral around it, clockwise from the top
// left of the text, when the line is not level; Box is then the polygon's
// bounding box.
type Line struct {
	Box        Box     `json:"box"`
	Polygon    []Point `json:"polygon,omitempty"`
	Text       string  `json:"text,omitempty"`
	Confidence float64 `json:"confidence"`
	Words      []Word  `json:"words"`
}

// String is the line's text: Text when the engine gave it, else its words
// joined by single spaces.
func (l Line) String() string {
	if l.Text != "" {
		return l.Text
	}
	var out []byte
	for i, w := range l.Words {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, w.Text...)
	}
	return string(out)
}

// Paragraph is a run of lines.
type Paragraph struct {
	Box   Box    `json:"box"`
	Lines []Line `json:"lines"`
}

// Block is a region of the page with one type.
type Block struct {
	Type       BlockType   `json:"type"`
	Box        Box         `json:"box"`
	Confidence float64     `json:"confidence"`
	Paragraphs []Paragraph `json:"paragraphs,omitempty"`
	// Order is the block's place in reading order, from 0 (the structure
	// pipeline sets it; blocks are also sorted by it).
	Order int `json:"order"`
	// Table is a table block's cells (structure pipeline).
	Table *Table `json:"table,omitempty"`
	// Asset names a figure block's image, as its Markdown links it;
	// Image is the PNG itself (carried from the runner; stored as an asset,
	// never part of the JSON result).
	Asset string `json:"asset,omitempty"`
	Image []byte `json:"-"`
}

// Table is a recognised table: a grid of Rows×Cols positions covered by
// cells, the first HeaderRows rows being its header.
type Table struct {
	Rows       int    `json:"rows"`
	Cols       int    `json:"cols"`
	HeaderRows int    `json:"header_rows"`
	Ruled      bool   `json:"ruled"` // found from ruling lines (else from the alignment of words)
	Cells      []Cell `json:"cells"`
	HTML       string `json:"html"`
}

// Cell is one table cell, at Row, Col (0-based) spanning RowSpan×ColSpan.
type Cell struct {
	Row     int    `json:"row"`
	Col     int    `json:"col"`
	RowSpan int    `json:"row_span"`
	ColSpan int    `json:"col_span"`
	Text    string `json:"text"`
	Box     Box    `json:"box"`
}

// Page is one recognised page.
type Page struct {
	Number   int     `json:"number"` // 1-based
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Rotation int     `json:"rotation"` // degrees clockwise applied to make it upright: 0, 90, 180, 270
	Skew     float64 `json:"skew"`     // degrees of deskew (Leptonica's angle: positive for text rising to the right), applied unless SkewNotApplied
	Blocks   []Block `json:"blocks"`
	Engine   string  `json:"engine"` // the model that produced it
	// SkewNotApplied: Skew was measured, not straightened (ppocr reads
	// tilted lines as they stand): the boxes and polygons are in the frame
	// of the page turned by Rotation only, not deskewed as Tesseract's are.
	SkewNotApplied bool `json:"skew_not_applied,omitempty"`
	// Source says where the words came from: SourceOCR (recognised from
	// the page's image) or SourceText (read from a PDF page's own text).
	Source string `json:"source,omitempty"`
	// Gray is the page as the engine read it, 8-bit, Width×Height, when it
	// was asked for (structure analysis); never serialized.
	Gray []byte `json:"-"`
}

// Sources of a page's words (Page.Source).
const (
	SourceOCR  = "ocr"
	SourceText = "text"
)

// Words joins the block's words with single spaces, in order.
func (b *Block) Words() string {
	var out []byte
	for _, p := range b.Paragraphs {
		for _, l := range p.Lines {
			if s := l.String(); s != "" {
				if len(out) > 0 {
					out = append(out, ' ')
				}
				out = append(out, s...)
			}
		}
	}
	return string(out)
}

// TextRows returns a table's text a row per element: each row's cells' text
// at their columns (a spanning cell at its first row and column), joined by
// tabs, trailing empty cells left out.
func (t *Table) TextRows() []string {
	if t == nil || t.Rows <= 0 || t.Cols <= 0 {
		return nil
	}
	grid := make([][]string, t.Rows)
	for r := range grid {
		grid[r] = make([]string, t.Cols)
	}
	for _, c := range t.Cells {
		if c.Row >= 0 && c.Row < t.Rows && c.Col >= 0 && c.Col < t.Cols {
			grid[c.Row][c.Col] = c.Text
		}
	}
	out := make([]string, t.Rows)
	for r, row := range grid {
		n := len(row)
		for n > 0 && row[n-1] == "" {
			n--
		}
		var line []byte
		for i, s := range row[:n] {
			if i > 0 {
				line = append(line, '\t')
			}
			line = append(line, s...)
		}
		out[r] = string(line)
	}
	return out
}

// Text returns the page's words in reading order: words joined by spaces,
// lines by newlines, paragraphs by blank lines; a recognised table (a block
// with Table) as its rows (Table.TextRows: a row per line, cells separated by
// tabs), as a paragraph of its own.
func (p *Page) Text() string {
	var out []byte
	for _, b := range p.Blocks {
		if b.Table != nil {
			if rows := b.Table.TextRows(); len(rows) > 0 {
				if len(out) > 0 {
					out = append(out, '\n', '\n')
				}
				for ri, r := range rows {
					if ri > 0 {
						out = append(out, '\n')
					}
					out = append(out, r...)
				}
			}
			continue
		}
		for _, para := range b.Paragraphs {
			if len(out) > 0 {
				out = append(out, '\n', '\n')
			}
			for li, l := range para.Lines {
				if li > 0 {
					out = append(out, '\n')
				}
				out = append(out, l.String()...)
			}
		}
	}
	return string(out)
}

// Scale maps the page onto a grid sx times as wide and sy times as tall
// (its pixels resampled back to another resolution on each axis): every
// box (blocks, paragraphs, lines, words, table cells), every polygon point
// and the page's Width and Height are multiplied, edges rounded to the
// nearest pixel (a box keeps at least one pixel a side where it had one).
// The factors are in the page's own frame, after Rotation: a caller
// undoing a resampling of the upright input swaps them for a page turned
// 90° or 270°.
func (p *Page) Scale(sx, sy float64) {
	sc := func(v int, f float64) int { return int(math.Round(float64(v) * f)) }
	box := func(b Box) Box {
		if b == (Box{}) {
			return b
		}
		o := Box{sc(b.X0, sx), sc(b.Y0, sy), sc(b.X1, sx), sc(b.Y1, sy)}
		if b.X1 > b.X0 && o.X1 <= o.X0 {
			o.X1 = o.X0 + 1
		}
		if b.Y1 > b.Y0 && o.Y1 <= o.Y0 {
			o.Y1 = o.Y0 + 1
		}
		return o
	}
	p.Width, p.Height = sc(p.Width, sx), sc(p.Height, sy)
	p.MapBoxes(box, func(pt Point) Point { return Point{sc(pt.X, sx), sc(pt.Y, sy)} })
}

// MapBoxes replaces every box of the page (blocks, paragraphs, lines,
// words, table cells) by box(it) and every line polygon's point by
// point(it); Width and Height are left to the caller.
func (p *Page) MapBoxes(box func(Box) Box, point func(Point) Point) {
	for bi := range p.Blocks {
		b := &p.Blocks[bi]
		b.Box = box(b.Box)
		for pi := range b.Paragraphs {
			para := &b.Paragraphs[pi]
			para.Box = box(para.Box)
			for li := range para.Lines {
				l := &para.Lines[li]
				l.Box = box(l.Box)
				for i, pt := range l.Polygon {
					l.Polygon[i] = point(pt)
				}
				for wi := range l.Words {
					l.Words[wi].Box = box(l.Words[wi].Box)
				}
			}
		}
		if b.Table != nil {
			for ci := range b.Table.Cells {
				b.Table.Cells[ci].Box = box(b.Table.Cells[ci].Box)
			}
		}
	}
}
