package ppocr

import (
	"fmt"
	"image"
	"path/filepath"
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

// densePage is a w×h page of n lines of Go Regular at size px, one line
// every pitch px: a dense scanned page's text.
func densePage(t testing.TB, w, h, n int, size, pitch float64) (*image.Gray, []string) {
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
	words := strings.Fields("meridian copper lantern velvet orchard thimble granite saffron compass meadow quarrel basket pillow cobalt falcon juniper ledger invoice quantity harbour")
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	var lines []string
	for i := range n {
		s := fmt.Sprintf("Line %02d: the %s and %s near %s cost %d dollars %s %s", i+1,
			words[i%20], words[(i+1)%20], words[(i+2)%20], 37*(i+1), words[(i+3)%20], words[(i+4)%20])
		d := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(int(size*2), int(size*2+float64(i)*pitch))}
		d.DrawString(s)
		lines = append(lines, s)
	}
	return img, lines
}

// TestDensePageTurnedAQuarterIsReadUpright: a dense page turned a quarter
// either way reads like the upright page, its turn reported. Two ways it
// read as garbage or nothing (a user's trial): the sideways test counted
// boxes, and the detector cuts a dense sideways page's lines into letters
// and fragments, near square, that outnumbered its tall boxes, so the page
// was read as it stood (run.sideways now weighs the text's run down
// against its run across); and a large page's sideways letters looked
// like small print and sent its first reading to tiles, which found next
// to nothing, so no turn was tried and the page came back empty
// (tilesUnlessDown holds tiles back for text running down).
func TestDensePageTurnedAQuarterIsReadUpright(t *testing.T) {
	if raceDetector {
		t.Skip("skipping under the race detector: a dense page read three times took over the 2-minute page limit with its instrumentation under load; make test runs it again without -race")
	}
	t.Parallel()
	h := testHandle(t)
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	for _, c := range []struct {
		name           string
		w, h, n        int
		size, pitch    float64
		turn, rotation int
	}{
		// 40 lines at 150 dpi's 11 pt, set solid (a user's trial, in
		// DejaVu Sans): 28 tall boxes of 95, read as it stood, as garbage.
		{"40 lines turned 90° clockwise", 1275, 1650, 40, 23, 27, 1, 270},
	} {
		img, lines := densePage(t, c.w, c.h, c.n, c.size, c.pitch)
		p := process(t, h, grayPNG(t, bgrOfGray(img).rotate(c.turn)), engine.Options{})
		cer := eval.CER(squeeze(p.Text()), squeeze(strings.Join(lines, " ")))
		t.Logf("%s: rotation %d, CER %.4f (spaces left out)", c.name, p.Rotation, cer)
		if p.Rotation != c.rotation || cer > 0.02 {
			t.Errorf("%s: rotation %d, CER %.4f; want rotation %d and the page's text (CER ≤ 0.02)", c.name, p.Rotation, cer, c.rotation)
		}
	}
	// A page over 1920 px (testdata/sideways-page-300dpi.png: 40 lines of
	// DejaVu Sans 11 pt at 150 dpi, turned 270° into a PDF, rendered at
	// 300 dpi by pdftoppm and taken to 1 bit): its letters, found one by
	// one, sent the first reading to tiles, which found next to nothing.
	p := process(t, h, readFile(t, filepath.Join("testdata", "sideways-page-300dpi.png")), engine.Options{})
	want := string(readFile(t, filepath.Join("testdata", "sideways-page-300dpi.txt")))
	cer := eval.CER(squeeze(p.Text()), squeeze(want))
	t.Logf("a large page turned 270°: rotation %d, CER %.4f (spaces left out)", p.Rotation, cer)
	if p.Rotation != 90 || cer > 0.02 {
		t.Errorf("a large page turned 270°: rotation %d, CER %.4f; want rotation 90 and the page's text (CER ≤ 0.02)", p.Rotation, cer)
	}
}
