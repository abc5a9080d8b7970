package ppocr

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/eval"
)

// TestPlanDet: pages the single 960-pixel pass serves keep it; a large
// screen is a candidate for tiles (after a single pass finding small
// text); a long strip, which the single pass squashes, is tiled at once.
func TestPlanDet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		w, h      int
		tiled     bool
		first     bool
		wantScale float64
	}{
		{800, 600, false, false, 0},
		{1920, 1080, false, false, 0},     // halved: text of 16 px stays readable
		{1421, 54, false, false, 0},       // a text line: kept 64 high, undistorted
		{3840, 2160, true, false, 0.7111}, // 4 Mpx of 8.3
		{2480, 3508, true, false, 0.6943}, // A4 at 300 dpi: tiles only if the first pass finds small text
		{30000, 40, true, true, 1.6},      // kept 64 high, 3.1 MP
		{8000, 40, true, true, 1.6},
		{7000, 200, true, false, 1}, // kept 64 high by the single pass, undistorted but small
	} {
		p := planDet(c.w, c.h)
		if (p.tileScale > 0) != c.tiled || p.tileFirst != c.first || (c.tiled && abs(p.tileScale-c.wantScale) > 0.001) {
			t.Errorf("%d×%d: %+v, want tiled %v first %v scale %.4f", c.w, c.h, p, c.tiled, c.first, c.wantScale)
		}
	}
}

func abs(v float64) float64 { return max(v, -v) }

// TestDetTilesCover: the tiles cover the image edge to edge, overlap by
// at least detTileOverlap in the detector's input, are multiples of 32 and
// at most detTileSide (+32 for rounding) a side, and stay within the
// pixel budget and the overlaps' third more.
func TestDetTilesCover(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]int{{3840, 2160}, {30000, 40}, {7000, 200}, {2000, 1000}, {12000, 9000}} {
		w, h := c[0], c[1]
		s := tileScale(w, h)
		tiles := detTiles(w, h, s)
		covered := make([]bool, w)
		px := 0
		for _, tl := range tiles {
			px += tl.w * tl.h
			if tl.w%32 != 0 || tl.h%32 != 0 || tl.w > detTileSide+32 || tl.h > detTileSide+32 {
				t.Errorf("%d×%d: tile %+v", w, h, tl)
			}
			if tl.y0 == 0 {
				for x := tl.x0; x < tl.x1; x++ {
					covered[x] = true
				}
			}
		}
		for x, ok := range covered {
			if !ok {
				t.Fatalf("%d×%d: column %d in no tile", w, h, x)
			}
		}
		spans := tileSpans(w, s)
		for i := 1; i < len(spans); i++ {
			if ov := float64(spans[i-1][1]-spans[i][0]) * s; ov < detTileOverlap-1 {
				t.Errorf("%d×%d: tiles %d and %d overlap by %.0f detector pixels", w, h, i-1, i, ov)
			}
		}
		if float64(px) > 1.34*detTileBudget {
			t.Errorf("%d×%d: %d detector pixels in %d tiles, budget %d", w, h, px, len(tiles), detTileBudget)
		}
	}
}

func rectQuad(x0, y0, x1, y1 float64) quad { return quad{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}} }

// TestMergeSeams: a line cut by a seam (two pieces overlapping in the
// tiles' overlap) and a word both tiles found come out once and whole; the
// next line, and a line beside in another column, stay apart.
func TestMergeSeams(t *testing.T) {
	t.Parallel()
	got := mergeSeams([]quad{
		rectQuad(100, 50, 900, 70),     // line 1, left tile's piece
		rectQuad(840, 51, 1700, 71),    // line 1, right tile's piece
		rectQuad(860, 90, 940, 110),    // line 2's word in the overlap, left tile
		rectQuad(861, 91, 941, 110),    // the same word, right tile
		rectQuad(100, 120, 600, 140),   // line 3
		rectQuad(1000, 121, 1500, 141), // line 3's neighbour in the next column
	})
	if len(got) != 4 {
		t.Fatalf("%d boxes, want 4: %v", len(got), got)
	}
	sortBoxes(got)
	if b := got[0]; b.minX() > 100.5 || b.maxX() < 1699.5 || b.minY() > 50.5 || b.maxY() < 70.5 {
		t.Errorf("line 1 joined into %v, want about (100,50)-(1700,71)", b)
	}
}

// TestChunkCuts: a long line is cut at its gaps, the widest one in each
// window, into pieces at most maxW wide, the wide gaps marked as spaces.
func TestChunkCuts(t *testing.T) {
	t.Parallel()
	// Ink everywhere but a word gap (10 columns) every 100 and a letter
	// gap (2 columns) every 20.
	dark := make([]float64, 1000)
	for x := range dark {
		dark[x] = 1
		if x%100 >= 90 || x%20 == 19 {
			dark[x] = 0
		}
	}
	cuts := chunkCuts(dark, 250, 40)
	start := 0
	for _, c := range cuts {
		if c.at-start > 250 || c.at <= start {
			t.Errorf("piece [%d, %d) wider than 250", start, c.at)
		}
		if c.at%100 < 90 || !c.space {
			t.Errorf("cut at %d (space %v), want in a word gap", c.at, c.space)
		}
		start = c.at
	}
	if len(dark)-start > 250 || len(cuts) < 3 {
		t.Errorf("cuts %v leave a last piece of %d", cuts, len(dark)-start)
	}
}

// drawLines draws lines of Go Regular at size px, black on white, on a
// w×h canvas at the given dots, and returns it as PNG.
func drawLines(t testing.TB, w, h int, size float64, lines []string, dots []image.Point) []byte {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, s := range lines {
		d := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(dots[i].X, dots[i].Y)}
		d.DrawString(s)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLargeScreenReads: a 2,560×1,440 screenshot of 14-pixel text, which
// the single pass shrinks to 5 pixels (issue #14: ppocr read a 3,840-pixel
// screen as nothing), reads whole, each line once, including lines that
// cross the tiles' seams.
func TestLargeScreenReads(t *testing.T) {
	t.Parallel()
	lines := []string{
		"The quarterly report shows that revenue grew by twelve percent while operating costs fell slightly in the northern region",
		"Customers in Oslo and Bergen ordered 4512 units",
		"Please send your questions to the finance team before Friday",
		"Shipping resumes on Monday after the inventory count",
	}
	dots := []image.Point{{40, 300}, {900, 760}, {1500, 900}, {60, 1300}}
	data := drawLines(t, 2560, 1440, 14, lines, dots)
	p := process(t, testHandle(t), data, engine.Options{})
	got := pageLines(p)
	want := strings.Join(lines, "\n")
	text := eval.Normalize(p.Text())
	e, l := eval.Errors(text, eval.Normalize(want))
	if len(got) != len(lines) || float64(e) > 0.02*float64(l) {
		t.Errorf("%d lines (want %d), %d edits in %d:\n%s", len(got), len(lines), e, l, p.Text())
	}
}

// TestLongStripReads: a 12,000×40 strip of one line of 24-pixel text
// (issue #14: a 30,000-pixel strip read as its last 536 pixels) reads whole
// and once, though tiles and recognition pieces cut it.
func TestLongStripReads(t *testing.T) {
	t.Parallel()
	want := strings.TrimSpace(strings.Repeat("A very long strip of text 0123. ", 24))
	data := drawLines(t, 12000, 40, 24, []string{want}, []image.Point{{20, 30}})
	p := process(t, testHandle(t), data, engine.Options{})
	text := eval.Normalize(p.Text())
	e, l := eval.Errors(text, want)
	if float64(e) > 0.01*float64(l) {
		t.Errorf("%d edits in %d: %q", e, l, text)
	}
}
