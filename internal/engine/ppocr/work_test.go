package ppocr

import (
	"math"
	"testing"

	"github.com/lector-ocr/lector/internal/engine"
)

// TestWorkMegapixelsFollowTheDetectorInput: a page's work megapixels are
// the detector's input (at most 960 px on the longer side; a line kept 64
// px high; for a page that may go to tiles, the largest tile where it is
// larger) plus a sixteenth of its own megapixels — a 300-dpi letter page
// counts for 1.2, not 8.4; a 1,421×54 text line for 0.11.
func TestWorkMegapixelsFollowTheDetectorInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		w, h int
		want float64
	}{
		{2550, 3300, 0.736*0.960 + 8.415/16}, // single pass 736×960, more than a tile (≤ 704×864)
		{3840, 2160, 0.768*0.832 + 8.294/16}, // single pass 960×544; tiles of 768×832
		{30000, 40, 4000*32/1e6 + 1.2/16},    // single pass 4000×32 more than a tile of 960×64
		{1421, 54, 1696*64/1e6 + 0.0767/16},  // enlarged to 64 high: 1684 → 1696
		{1280, 720, 960*544/1e6 + 0.9216/16}, // 960×540 → 960×544
		{20, 20, 64*64/1e6 + 0.0004/16},      // padded to 32×32, then 64 short side
	} {
		got := Engine{}.WorkMegapixels("v4", engine.PageShape{Width: c.w, Height: c.h, Bits: 24})
		if math.Abs(got-c.want) > 0.002 {
			t.Errorf("%d×%d: %.4f work megapixels, want %.4f", c.w, c.h, got, c.want)
		}
	}
	if got := (Engine{}).WorkMegapixels("v4", engine.PageShape{}); got != 0 {
		t.Errorf("an empty page: %v", got)
	}
}
