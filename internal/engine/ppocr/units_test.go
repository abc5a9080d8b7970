package ppocr

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestDetSize(t *testing.T) {
	t.Parallel()
	cases := []struct{ w, h, ww, wh int }{
		{1000, 500, 960, 480},  // longer side limited to 960
		{3300, 2550, 960, 736}, // 742 rounds to 736
		{640, 480, 640, 480},   // small enough: kept, multiples of 32
		{100, 20, 320, 64},     // the shorter side raised to 64
		{1541, 38, 2592, 64},   // a text line keeps its height
		{30000, 50, 4000, 32},  // a strip: the longer side capped at 4000
		{1, 1, 64, 64},         // tiny
		{31, 33, 64, 64},       // tiny
		{2000, 2000, 960, 960}, // square
		{960, 10000, 96, 960},  // tall strip: 92 → 96
	}
	for _, c := range cases {
		if w, h := detSize(c.w, c.h, detLimitSide); w != c.ww || h != c.wh {
			t.Errorf("detSize(%d, %d) = %d×%d, want %d×%d", c.w, c.h, w, h, c.ww, c.wh)
		}
	}
}

func TestResizeNormalizes(t *testing.T) {
	t.Parallel()
	im := newBGR(7, 5)
	for i := 0; i < len(im.Pix); i += 3 {
		im.Pix[i], im.Pix[i+1], im.Pix[i+2] = 10, 128, 250 // B, G, R
	}
	dst := make([]float32, 3*4*6)
	im.resizeInto(dst, 6, 4, 6, detMean, detStd)
	for c, v := range []float64{10, 128, 250} {
		want := (v/255 - float64(detMean[c])) / float64(detStd[c])
		for i := 0; i < 24; i++ {
			if !near(float64(dst[c*24+i]), want, 1e-4) {
				t.Fatalf("channel %d value %d = %f, want %f", c, i, dst[c*24+i], want)
			}
		}
	}
	// Same size: every pixel kept (OpenCV's pixel-centre convention).
	g := newBGR(5, 3)
	for i := range g.Pix {
		g.Pix[i] = byte(i * 7)
	}
	out := make([]float32, 3*5*3)
	g.resizeInto(out, 5, 3, 5, [3]float32{}, [3]float32{1, 1, 1})
	for y := 0; y < 3; y++ {
		for x := 0; x < 5; x++ {
			for c := 0; c < 3; c++ {
				if want := float32(g.Pix[3*(y*5+x)+c]) / 255; !near(float64(out[c*15+y*5+x]), float64(want), 1e-6) {
					t.Fatalf("identity resize changed (%d,%d,%d): %f vs %f", x, y, c, out[c*15+y*5+x], want)
				}
			}
		}
	}
	// Padding columns are left alone.
	pad := make([]float32, 3*2*8)
	for i := range pad {
		pad[i] = -7
	}
	g.resizeInto(pad, 3, 2, 8, halfMean, halfStd)
	if pad[5] != -7 || pad[8+7] != -7 {
		t.Fatal("resizeInto wrote past the resized width")
	}
}

// probMap is a w×h probability map with rectangles filled with values.
func probMap(w, h int, rects ...[5]float64) []float32 {
	p := make([]float32, w*h)
	for _, r := range rects {
		for y := int(r[1]); y < int(r[3]); y++ {
			for x := int(r[0]); x < int(r[2]); x++ {
				p[y*w+x] = float32(r[4])
			}
		}
	}
	return p
}

func TestDBPostprocess(t *testing.T) {
	t.Parallel()
	const w, h = 200, 100
	prob := probMap(w, h,
		[5]float64{40, 30, 120, 50, 0.9}, // a text line
		[5]float64{10, 70, 60, 80, 0.5},  // above thresh, under box_thresh: dropped
		[5]float64{150, 80, 152, 82, 1},  // too small: dropped
	)
	boxes := dbBoxes(prob, w, h, 2*w, 2*h) // the image is twice the map
	if len(boxes) != 1 {
		t.Fatalf("%d boxes, want 1: %v", len(boxes), boxes)
	}
	b := boxes[0]
	// The kernel's rectangle is 79×19 between pixel centres; unclip grows
	// it by 79·19·1.5/(2·(79+19)) ≈ 11.5 on every side; then ×2.
	d := 79.0 * 19 * 1.5 / (2 * (79 + 19))
	want := quad{{2 * (40 - d), 2 * (30 - d)}, {2 * (119 + d), 2 * (30 - d)}, {2 * (119 + d), 2 * (49 + d)}, {2 * (40 - d), 2 * (49 + d)}}
	for i := range b {
		if !near(b[i].X, want[i].X, 3) || !near(b[i].Y, want[i].Y, 3) {
			t.Fatalf("box %v, want about %v", b, want)
		}
	}
	if len(dbBoxes(make([]float32, w*h), w, h, w, h)) != 0 {
		t.Fatal("boxes on an empty map")
	}
}

func TestDBPostprocessRotatedLine(t *testing.T) {
	t.Parallel()
	const w, h = 300, 300
	prob := make([]float32, w*h)
	s, c := math.Sincos(20 * math.Pi / 180)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// a 160×20 band through the centre, turned 20°
			dx, dy := float64(x)-150, float64(y)-150
			u, v := dx*c+dy*s, -dx*s+dy*c
			if math.Abs(u) < 80 && math.Abs(v) < 10 {
				prob[y*w+x] = 0.95
			}
		}
	}
	boxes := dbBoxes(prob, w, h, w, h)
	if len(boxes) != 1 {
		t.Fatalf("%d boxes", len(boxes))
	}
	b := boxes[0]
	angle := math.Atan2(b[1].Y-b[0].Y, b[1].X-b[0].X) * 180 / math.Pi
	if !near(angle, 20, 2) {
		t.Fatalf("box %v at %.1f°, want 20°", b, angle)
	}
	if b.width() < 170 || b.height() < 30 {
		t.Fatalf("box %v (%.0f×%.0f) not grown by unclip", b, b.width(), b.height())
	}
}

func TestUnclip(t *testing.T) {
	t.Parallel()
	sq := []pt{{0, 0}, {10, 0}, {10, 10}, {0, 10}}
	out := unclip(sq, 1.5)
	d := 100 * 1.5 / 40.0 // 3.75
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range out {
		x0, y0, x1, y1 = min(x0, p.X), min(y0, p.Y), max(x1, p.X), max(y1, p.Y)
	}
	if !near(x0, -d, 0.1) || !near(y0, -d, 0.1) || !near(x1, 10+d, 0.1) || !near(y1, 10+d, 0.1) {
		t.Fatalf("unclipped bounds %.2f,%.2f–%.2f,%.2f, want ±%.2f", x0, y0, x1, y1, d)
	}
	// Round joins: the area is the square grown by d on each side with
	// quarter circles at the corners.
	want := 100 + 4*10*d + math.Pi*d*d
	if a := polyArea(out); !near(a, want, 0.02*want) {
		t.Fatalf("area %.1f, want %.1f", a, want)
	}
	if unclip([]pt{{1, 1}, {1, 1}, {1, 1}, {1, 1}}, 1.5) != nil {
		t.Fatal("a degenerate box unclipped")
	}
}

func TestMinAreaRect(t *testing.T) {
	t.Parallel()
	s, c := math.Sincos(30 * math.Pi / 180)
	var pts []pt
	for _, p := range []pt{{-20, -5}, {20, -5}, {20, 5}, {-20, 5}, {0, 0}, {10, 2}, {-15, -4}} {
		pts = append(pts, pt{100 + p.X*c - p.Y*s, 50 + p.X*s + p.Y*c})
	}
	r := minAreaRect(pts)
	if !near(r.W*r.H, 400, 1e-6) || !near(max(r.W, r.H), 40, 1e-6) || !near(r.shortSide(), 10, 1e-6) {
		t.Fatalf("rect %+v, want 40×10", r)
	}
	q, side := miniBox([]pt{{5, 5}, {30, 5}, {30, 12}, {5, 12}, {17, 8}})
	if side != 7 || q != (quad{{5, 5}, {30, 5}, {30, 12}, {5, 12}}) {
		t.Fatalf("miniBox = %v (%v), want the rectangle from its top-left, clockwise", q, side)
	}
	if r := minAreaRect([]pt{{1, 1}, {4, 5}}); r.shortSide() != 0 {
		t.Fatalf("two points give %+v", r)
	}
	if o := orderClockwise(quad{{30, 12}, {5, 5}, {5, 12}, {30, 5}}); o != (quad{{5, 5}, {30, 5}, {30, 12}, {5, 12}}) {
		t.Fatalf("orderClockwise = %v", o)
	}
}

func TestWarpCrop(t *testing.T) {
	t.Parallel()
	im := newBGR(40, 30)
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			p := im.Pix[3*(y*40+x):]
			p[0], p[1], p[2] = byte(x), byte(y), byte(x+y)
		}
	}
	// An axis-aligned box: the crop is the sub-image.
	c, vertical := im.warp(quad{{10, 5}, {30, 5}, {30, 15}, {10, 15}})
	if vertical || c.W != 20 || c.H != 10 {
		t.Fatalf("crop %v vertical %v", c, vertical)
	}
	for y := 0; y < c.H; y++ {
		for x := 0; x < c.W; x++ {
			p := c.Pix[3*(y*c.W+x):]
			if int(p[0]) != 10+x || int(p[1]) != 5+y {
				t.Fatalf("crop pixel (%d,%d) = %v, want source (%d,%d)", x, y, p[:3], 10+x, 5+y)
			}
		}
	}
	// A tall box is turned a quarter counter-clockwise: the crop's first
	// column is the box's top row, read left to right as it goes down.
	c, vertical = im.warp(quad{{10, 2}, {16, 2}, {16, 26}, {10, 26}})
	if !vertical || c.W != 24 || c.H != 6 {
		t.Fatalf("tall crop %v vertical %v", c, vertical)
	}
	if p := c.Pix[0:3]; p[0] != 15 || p[1] != 2 { // top-left of the turned crop: the box's top-right
		t.Fatalf("turned crop starts at %v", p)
	}
	// A box turned by 90° (corners given clockwise from the right side's top).
	c, _ = im.warp(quad{{30, 5}, {30, 25}, {20, 25}, {20, 5}})
	if c.W != 20 || c.H != 10 || c.Pix[0] != 30 || c.Pix[1] != 5 {
		t.Fatalf("rotated crop %v starts at %v", c, c.Pix[:3])
	}
	if _, ok := homography([4]pt{{0, 0}, {0, 0}, {0, 0}, {0, 0}}, [4]pt{{0, 0}, {1, 0}, {1, 1}, {0, 1}}); ok {
		t.Fatal("degenerate homography solved")
	}
}

// ctcProbs builds T×C probabilities whose argmax per step is classes[t],
// with probability p.
func ctcProbs(C int, p float32, classes ...int) []float32 {
	out := make([]float32, len(classes)*C)
	for t, c := range classes {
		for k := 0; k < C; k++ {
			out[t*C+k] = (1 - p) / float32(C-1)
		}
		out[t*C+c] = p
	}
	return out
}

func TestCTCDecode(t *testing.T) {
	t.Parallel()
	dict := []rune{'a', 'b', ' '} // classes 1, 2, 3; 0 is blank
	probs := ctcProbs(4, 0.8, 1, 1, 0, 1, 2, 2, 3, 0, 2)
	chars, conf := ctcDecode(probs, 9, 4, dict)
	var got strings.Builder
	for _, c := range chars {
		got.WriteRune(c.R)
	}
	if got.String() != "aab b" || !near(conf, 0.8, 1e-6) {
		t.Fatalf("decoded %q conf %f, want \"aab b\" 0.8", got.String(), conf)
	}
	wantSteps := [][2]int{{0, 1}, {3, 3}, {4, 5}, {6, 6}, {8, 8}}
	for i, c := range chars {
		if c.First != wantSteps[i][0] || c.End != wantSteps[i][1] {
			t.Fatalf("char %d at steps %d–%d, want %v", i, c.First, c.End, wantSteps[i])
		}
	}
	if chars, conf := ctcDecode(ctcProbs(4, 0.9, 0, 0, 0), 3, 4, dict); chars != nil || conf != 0 {
		t.Fatal("all blank decoded to something")
	}
}

func TestWordBoxes(t *testing.T) {
	t.Parallel()
	chars := []decodedChar{{R: 'a', Prob: 0.9}, {R: 'b', Prob: 0.7}, {R: ' ', Prob: 1}, {R: '中', Prob: 0.8}, {R: '文', Prob: 0.8}}
	spans := [][2]float64{{0, 0.1}, {0.1, 0.2}, {0.3, 0.4}, {0.5, 0.7}, {0.7, 0.9}}
	l := line{Box: quad{{100, 10}, {200, 10}, {200, 30}, {100, 30}}, Chars: chars, Spans: spans}
	ws := l.words()
	if len(ws) != 2 || ws[0].Text != "ab" || ws[1].Text != "中文" {
		t.Fatalf("words %+v", ws)
	}
	if b := ws[0].Box; b.X0 != 100 || b.X1 != 121 || b.Y0 != 10 || b.Y1 != 31 {
		t.Fatalf("first word box %+v", b)
	}
	if b := ws[1].Box; b.X0 != 150 || b.X1 != 191 {
		t.Fatalf("second word box %+v", b)
	}
	if !near(ws[0].Confidence, 80, 0.01) {
		t.Fatalf("word confidence %v", ws[0].Confidence)
	}
	// Turned by the classifier: the first word is at the right.
	l.Flipped = true
	if b := l.words()[0].Box; b.X0 != 180 || b.X1 != 201 {
		t.Fatalf("flipped first word box %+v", b)
	}
	// Vertical: reading runs down the box.
	l = line{Box: quad{{10, 100}, {30, 100}, {30, 200}, {10, 200}}, Chars: chars, Spans: spans, Vertical: true}
	if b := l.words()[1].Box; b.Y0 != 150 || b.Y1 != 191 || b.X0 != 10 || b.X1 != 31 {
		t.Fatalf("vertical word box %+v", b)
	}
	if p := l.polygon(); len(p) != 4 || p[0].X != 30 || p[0].Y != 100 {
		t.Fatalf("vertical line polygon %v, want it to start at the box's top right", p)
	}
}

// textLine is a recognised line of one word per space-separated token at
// an axis-aligned box.
func textLine(text string, x0, y0, x1, y1 float64) line {
	var chars []decodedChar
	var spans [][2]float64
	rs := []rune(text)
	for i, r := range rs {
		chars = append(chars, decodedChar{R: r, Prob: 1})
		spans = append(spans, [2]float64{float64(i) / float64(len(rs)), float64(i+1) / float64(len(rs))})
	}
	return line{Box: quad{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}, Text: text, Conf: 1, Chars: chars, Spans: spans}
}

func TestLayoutReadingOrder(t *testing.T) {
	t.Parallel()
	lines := []line{
		textLine("Title", 100, 10, 500, 40),
		// two columns, line height 20, gutter 60
		textLine("L1", 10, 60, 290, 80), textLine("R1", 350, 61, 640, 81),
		textLine("L2", 10, 84, 290, 104), textLine("R2", 350, 85, 640, 105),
		textLine("L3", 10, 108, 200, 128), textLine("R3", 350, 109, 640, 129),
		// a full-width line after a gap, split by the detector at a wide space
		textLine("Foot", 10, 200, 100, 220), textLine("note", 140, 201, 300, 221),
	}
	blocks := layout(lines)
	var paras []string
	for _, b := range blocks {
		for _, p := range b.Paragraphs {
			var ls []string
			for _, l := range p.Lines {
				ls = append(ls, l.Text)
			}
			paras = append(paras, strings.Join(ls, "/"))
		}
	}
	want := []string{"Title", "L1/L2/L3", "R1/R2/R3", "Foot note"}
	if !slices.Equal(paras, want) {
		t.Fatalf("paragraphs %q, want %q", paras, want)
	}
	for i, b := range blocks {
		if b.Order != i {
			t.Fatalf("block %d has order %d", i, b.Order)
		}
	}
	if b := layout(nil); b == nil || len(b) != 0 {
		t.Fatal("a page without lines is not an empty list of blocks")
	}
}

// A receipt's items and prices, boxed apart by the detector on each row,
// are read row by row: the prices are set flush right, so their starts
// vary and do not open a column (receipt_mono_16.png of issue #14 read
// all items, then all prices). Two columns of left-aligned text beside
// it stay two columns (TestLayoutReadingOrder has another).
func TestLayoutReceiptRowsNotColumns(t *testing.T) {
	t.Parallel()
	paras := func(lines []line) []string {
		var out []string
		for _, b := range layout(lines) {
			for _, p := range b.Paragraphs {
				var ls []string
				for _, l := range p.Lines {
					ls = append(ls, l.Text)
				}
				out = append(out, strings.Join(ls, "/"))
			}
		}
		return out
	}
	// Monospaced, 10 px a character, rows 24 px apart, boxes 20 px high:
	// items from x = 10, prices ending at x = 400.
	rows := [][2]string{{"SUPERMART #0142", "2026-11-29 18:42"}, {"MILK 1L", "2 x 1.49   2.98"}, {"BREAD WHOLEGRAIN", "1   3.25"},
		{"APPLES GALA 1.2KG", "1   4.10"}, {"COFFEE BEANS 500G", "1  11.99"}, {"SUBTOTAL", "22.32"}, {"VAT 15%", "3.35"}, {"TOTAL", "25.67"}}
	var wantRows []string
	var receipt []line
	for i, r := range rows {
		y := float64(10 + 24*i)
		receipt = append(receipt, textLine(r[0], 10, y, 10+10*float64(len(r[0])), y+20),
			textLine(r[1], 400-10*float64(len(r[1])), y+1, 400, y+21))
		wantRows = append(wantRows, r[0]+" "+r[1])
	}
	if got, want := paras(receipt), []string{strings.Join(wantRows, "/")}; !slices.Equal(got, want) {
		t.Fatalf("receipt read as %q, want one paragraph of rows %q", got, want)
	}
	// Two columns of text, rows aligned across the gutter, ragged right
	// on the left, the right column's lines starting at x = 350 but for
	// an indented first line.
	var page []line
	for i := range 6 {
		y := float64(10 + 24*i)
		page = append(page, textLine(fmt.Sprintf("L%d", i), 10, y, 290-float64(20*(i%3)), y+20))
		x := 350.0
		if i == 0 {
			x = 380
		}
		page = append(page, textLine(fmt.Sprintf("R%d", i), x, y, 640-float64(30*(i%2)), y+20))
	}
	if got, want := paras(page), []string{"L0/L1/L2/L3/L4/L5", "R0/R1/R2/R3/R4/R5"}; !slices.Equal(got, want) {
		t.Fatalf("two columns read as %q, want %q", got, want)
	}
}

func TestCUDAOptionPlumbing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := Engine{Dir: dir, Cores: 8}
	c, err := e.sessionConfig(engine.Spec{Device: "cuda:3", CUDAOrdinal: 0, Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.GPU != 0 || c.GPUMem == 0 || c.Threads != 1 {
		t.Fatalf("config %+v", c)
	}
	o := cudaOptions(c)
	if o["device_id"] != "0" || o["arena_extend_strategy"] != "kSameAsRequested" || o["gpu_mem_limit"] == "" {
		t.Fatalf("CUDA options %v", o)
	}
	e.GPUMemLimit = 3 << 30
	c, _ = e.sessionConfig(engine.Spec{Device: "cuda:0", Slots: 1})
	if cudaOptions(c)["gpu_mem_limit"] != "3221225472" {
		t.Fatalf("gpu_mem_limit %v", cudaOptions(c))
	}
	c, _ = e.sessionConfig(engine.Spec{Device: "cpu", Slots: 3})
	if c.GPU != -1 || c.Threads != 2 {
		t.Fatalf("cpu config %+v: 8 cores over 3 slots is 2 threads each", c)
	}
	if _, err := e.sessionConfig(engine.Spec{Device: "tpu:0"}); errcode.Of(err) != errcode.DeviceUnavailable {
		t.Fatalf("unknown device: %v", err)
	}

	// A fake installation: the library file and a model directory.
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "onnxruntime"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "v4"), 0o755))
	for _, f := range []string{"onnxruntime/" + libName, "v4/" + detFile, "v4/" + recFile, "v4/" + keysFile} {
		must(os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644))
	}
	if k := e.DeviceKinds("v4"); !slices.Equal(k, []device.Kind{device.CPU}) {
		t.Fatalf("without the provider: %v", k)
	}
	_, err = e.Load(context.Background(), engine.Spec{Model: "ppocr:v4", Config: "v4", Device: "cuda:0", Slots: 1})
	if errcode.Of(err) != errcode.DeviceUnavailable || !strings.Contains(err.Error(), "setup-gpu") {
		t.Fatalf("cuda without the provider: %v", err)
	}
	must(os.WriteFile(filepath.Join(dir, "onnxruntime", libCUDAName), []byte("x"), 0o644))
	if k := e.DeviceKinds("v4"); !slices.Equal(k, []device.Kind{device.CUDA, device.CPU}) {
		t.Fatalf("with the provider: %v", k)
	}
	f, err := e.Estimate("v4", device.CUDA)
	if err != nil || f.Device.Load == 0 || f.Host.Load == 0 {
		t.Fatalf("CUDA footprint %+v, %v", f, err)
	}
	if cat := e.Catalog(); len(cat) != 1 || cat[0].Model != "ppocr:v4" {
		t.Fatalf("catalog %+v", cat)
	}
}

func TestUnknownModels(t *testing.T) {
	t.Parallel()
	e := Engine{Dir: testDir()}
	for _, cfg := range []string{"v99", "large", "", "../v4"} {
		_, err := e.Estimate(cfg, device.CPU)
		if errcode.Of(err) != errcode.UnknownModel || !strings.Contains(err.Error(), "installed: ppocr:v4") {
			t.Errorf("ppocr:%s: %v", cfg, err)
		}
	}
	_, err := Engine{Dir: t.TempDir()}.Estimate("v4", device.CPU)
	if errcode.Of(err) != errcode.UnknownModel || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("nothing installed: %v", err)
	}
	var ce *errcode.Error
	if !errors.As(err, &ce) {
		t.Errorf("not an errcode error: %T", err)
	}
}

// The decoders' own pixel types are converted as image.At would give them
// (premultiplied, flattened on white), without an interface call a pixel.
func TestToBGRMatchesAt(t *testing.T) {
	r := image.Rect(0, 0, 37, 23)
	// 4:4:4 (no chroma to upsample): the conversion is At's.
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i] = byte(i * 7)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = byte(i*13), byte(255-i*5)
	}
	pal := image.NewPaletted(r, color.Palette{color.RGBA{10, 20, 30, 255}, color.NRGBA{200, 100, 50, 128}, color.Transparent})
	for i := range pal.Pix {
		pal.Pix[i] = byte(i % 3)
	}
	for _, src := range []image.Image{ycc, pal} {
		got := toBGR(src)
		for y := 0; y < r.Dy(); y++ {
			for x := 0; x < r.Dx(); x++ {
				cr, cg, cb, a := src.At(x, y).RGBA()
				w := 0xffff - a
				want := [3]byte{byte((cb + w) >> 8), byte((cg + w) >> 8), byte((cr + w) >> 8)}
				if p := got.Pix[3*(y*r.Dx()+x):][:3]; [3]byte(p) != want {
					t.Fatalf("%T at %d,%d: %v, want %v", src, x, y, p, want)
				}
			}
		}
	}
}

// TestJPEGChromaUpsampling: subsampled chroma is interpolated as libjpeg's
// fancy upsampling does (what cv2.imread gives PaddleOCR's models), not
// repeated: every pixel within one level of the centre-aligned bilinear
// interpolation of the chroma planes (libjpeg's triangle filter; its
// rounding biases alternate, hence the tolerance), for 4:2:0, 4:2:2 and
// 4:4:0, odd sizes included.
func TestJPEGChromaUpsampling(t *testing.T) {
	t.Parallel()
	r := image.Rect(0, 0, 37, 23)
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440} {
		ycc := image.NewYCbCr(r, ratio)
		for i := range ycc.Y {
			ycc.Y[i] = byte(60 + i%131)
		}
		for i := range ycc.Cb {
			// Steps and ramps, so nearest and interpolated differ.
			ycc.Cb[i], ycc.Cr[i] = byte((i*37)%256), byte(255-(i*11)%200)
		}
		fx, fy := 1, 1
		switch ratio {
		case image.YCbCrSubsampleRatio420:
			fx, fy = 2, 2
		case image.YCbCrSubsampleRatio422:
			fx = 2
		case image.YCbCrSubsampleRatio440:
			fy = 2
		}
		cw, ch := (r.Dx()+fx-1)/fx, (r.Dy()+fy-1)/fy
		// interp is the plane's value at luma pixel (x, y): sample centres
		// at (f·j + (f−1)/2), clamped at the edges.
		interp := func(plane []byte, x, y int) float64 {
			pos := func(i, f, n int) (int, int, float64) {
				c := (float64(i)+0.5)/float64(f) - 0.5
				c = math.Max(0, math.Min(c, float64(n-1)))
				j := int(c)
				return j, min(j+1, n-1), c - float64(j)
			}
			x0, x1, wx := pos(x, fx, cw)
			y0, y1, wy := pos(y, fy, ch)
			at := func(j, k int) float64 { return float64(plane[j*ycc.CStride+k]) }
			top := at(y0, x0) + (at(y0, x1)-at(y0, x0))*wx
			bot := at(y1, x0) + (at(y1, x1)-at(y1, x0))*wx
			return top + (bot-top)*wy
		}
		got := toBGR(ycc)
		differs := false
		for y := 0; y < r.Dy(); y++ {
			for x := 0; x < r.Dx(); x++ {
				yy := ycc.Y[ycc.YOffset(x, y)]
				p := got.Pix[3*(y*r.Dx()+x):][:3]
				cb, cr := interp(ycc.Cb, x, y), interp(ycc.Cr, x, y)
				lo, hi := [3]int{255, 255, 255}, [3]int{}
				for _, d := range [][2]float64{{-1, -1}, {-1, 1}, {1, -1}, {1, 1}, {0, 0}} {
					c := color.YCbCr{Y: yy, Cb: byte(math.Round(cb + d[0])), Cr: byte(math.Round(cr + d[1]))}
					rr, gg, bb, _ := c.RGBA()
					for k, v := range []uint32{bb, gg, rr} {
						lo[k], hi[k] = min(lo[k], int(v>>8)), max(hi[k], int(v>>8))
					}
				}
				for k := range 3 {
					if int(p[k]) < lo[k]-1 || int(p[k]) > hi[k]+1 {
						t.Fatalf("%v at %d,%d: channel %d = %d, want %d..%d", ratio, x, y, k, p[k], lo[k], hi[k])
					}
				}
				rr, gg, bb, _ := ycc.At(x, y).RGBA()
				if [3]byte(p) != [3]byte{byte(bb >> 8), byte(gg >> 8), byte(rr >> 8)} {
					differs = true
				}
			}
		}
		if !differs {
			t.Errorf("%v: the same as nearest-neighbour chroma", ratio)
		}
	}
}

// TestCubicSampling: OpenCV's bicubic kernel (a = −0.75) and the sampling
// get_rotate_crop_image's warp uses.
func TestCubicSampling(t *testing.T) {
	t.Parallel()
	if w := cubicWeights(0); w != [4]float64{0, 1, 0, 0} {
		t.Fatalf("weights at 0: %v", w)
	}
	// Keys' kernel with a = −0.75 halfway: −3/32, 19/32, 19/32, −3/32.
	if w := cubicWeights(0.5); w != [4]float64{-0.09375, 0.59375, 0.59375, -0.09375} {
		t.Fatalf("weights at 1/2: %v", w)
	}
	for _, f := range []float64{0.1, 0.25, 0.7, 0.96875} {
		w := cubicWeights(f)
		if !near(w[0]+w[1]+w[2]+w[3], 1, 1e-12) || w[0] > 0 || w[3] > 0 {
			t.Fatalf("weights at %v: %v", f, w)
		}
	}
	// A horizontal ramp: exact at pixels, the midpoint between them, and
	// the edge replicated outside.
	im := newBGR(8, 3)
	for y := 0; y < 3; y++ {
		for x := 0; x < 8; x++ {
			p := im.Pix[3*(y*8+x):]
			p[0], p[1], p[2] = byte(20*x), byte(20*x), byte(20*x)
		}
	}
	px := make([]byte, 3)
	for _, c := range []struct{ x, y, want float64 }{{3, 1, 60}, {3.5, 1, 70}, {2.5, 0.5, 50}, {-5, 1, 0}, {20, 2, 140}} {
		im.sampleCubic(c.x, c.y, px)
		if float64(px[0]) != c.want {
			t.Errorf("at (%v,%v): %d, want %v", c.x, c.y, px[0], c.want)
		}
	}
	// A step overshoots and is saturated, not wrapped.
	for x := 0; x < 8; x++ {
		for y := 0; y < 3; y++ {
			v := byte(0)
			if x >= 4 {
				v = 255
			}
			copy(im.Pix[3*(y*8+x):], []byte{v, v, v})
		}
	}
	im.sampleCubic(4.25, 1, px)
	if px[0] != 255 {
		t.Errorf("overshoot past 255 gave %d", px[0])
	}
	im.sampleCubic(2.75, 1, px)
	if px[0] != 0 {
		t.Errorf("undershoot below 0 gave %d", px[0])
	}
}

func TestCoversLine(t *testing.T) {
	t.Parallel()
	line := newBGR(300, 30)
	for _, c := range []struct {
		name string
		img  *bgr
		box  quad
		want bool
	}{
		{"the whole line", line, quad{{18, 22}, {313, 22}, {313, 42}, {18, 42}}, true},
		{"part of the width", line, quad{{16, 16}, {200, 16}, {200, 46}, {16, 46}}, false},
		{"a thin strip", line, quad{{16, 20}, {316, 20}, {316, 30}, {16, 30}}, false},
		{"not line-shaped", newBGR(50, 40), quad{{16, 16}, {66, 16}, {66, 56}, {16, 56}}, false},
	} {
		if got := coversLine(c.box, 16, c.img.W, c.img.H); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestWordBreaks: in widely spaced text a wide ink-free gap between two
// letters becomes a space (at ordinary pitch too: tightBreaks); letter
// gaps, scripts without spaces and spaces already there are left alone.
func TestWordBreaks(t *testing.T) {
	t.Parallel()
	// Six 12-px glyphs, 6 px apart, with a 30-px gap after the third, on a
	// 40-px-high crop; 4 crop columns a time step.
	glyphs := []int{10, 28, 46, 88, 106, 124}
	crop := func(dark bool) *bgr {
		im := newBGR(150, 40)
		for x := 0; x < im.W; x++ {
			for y := 0; y < im.H; y++ {
				ink := false
				for _, g := range glyphs {
					ink = ink || (x >= g && x < g+12 && y >= 8 && y < 32)
				}
				v := byte(250)
				if ink != dark { // dark: light text on a dark ground
					v = 20
				}
				p := im.Pix[3*(y*im.W+x):]
				p[0], p[1], p[2] = v, v, v
			}
		}
		return im
	}
	line := func(text string, perStep int) []decodedChar {
		var cs []decodedChar
		for i, r := range []rune(text) {
			s := (glyphs[i] + 6) / perStep
			cs = append(cs, decodedChar{R: r, First: s, End: s, Prob: 0.9})
		}
		return cs
	}
	column := func(perStep int) func(int) int {
		return func(s int) int { return int((float64(s) + 0.5) * float64(perStep)) }
	}
	text := func(cs []decodedChar) string {
		var b strings.Builder
		for _, c := range cs {
			b.WriteRune(c.R)
		}
		return b.String()
	}
	for _, c := range []struct {
		name, text string
		perStep    int
		dark       bool
		want       string
	}{
		{"letters", "abcdef", 4, false, "abc def"},
		{"light on dark", "abcdef", 4, true, "abc def"},
		{"digits", "OPEN24", 4, false, "OPE N24"},
		{"Han", "中文字中文字", 4, false, "中文字中文字"},
		{"ordinary pitch", "abcdef", 8, false, "abc def"}, // 2 steps a character: tightBreaks finds the gap
	} {
		got := wordBreaks(line(c.text, c.perStep), crop(c.dark), columnDarkness(crop(c.dark)), column(c.perStep), likely)
		if text(got) != c.want {
			t.Errorf("%s: %q, want %q", c.name, text(got), c.want)
		}
	}
	// A space already there is not doubled.
	cs := line("abcdef", 4)
	cs = append(cs[:3], append([]decodedChar{{R: ' ', First: 18, End: 18}}, cs[3:]...)...)
	if got := text(wordBreaks(cs, crop(false), columnDarkness(crop(false)), column(4), likely)); got != "abc def" {
		t.Errorf("with its space: %q", got)
	}
	// The space lies mid-gap, between its neighbours' steps.
	got := wordBreaks(line("abcdef", 4), crop(false), columnDarkness(crop(false)), column(4), likely)
	if sp := got[3]; sp.First <= got[2].End || sp.First >= got[4].First {
		t.Errorf("space at step %d, between %d and %d", sp.First, got[2].End, got[4].First)
	}
}

// TestTightBreaks: at ordinary pitch (3 time steps a character) a word gap
// clearly wider than the line's letter gaps becomes a space, in sharp,
// blurred and faint ink alike; letter gaps, two digits, Han and a line
// without a word gap are left alone, and punctuation followed by a letter
// is split.
func TestTightBreaks(t *testing.T) {
	t.Parallel()
	const perStep = 4 // crop columns a time step; 10-px glyphs 2 px apart: 3 steps a character
	// layout gives each glyph's left edge: 10 px wide, 2 px apart, and a
	// 9-px gap (0.3 crop heights of 30) before the glyphs in words.
	layout := func(n int, words map[int]bool) []int {
		var xs []int
		x := 4
		for i := 0; i < n; i++ {
			if words[i] {
				x += 9 - 2
			}
			xs = append(xs, x)
			x += 12
		}
		return xs
	}
	// crop draws the glyphs (full-height bars between rows 6 and 24)
	// in ink on a 250 ground, then blurs it horizontally blur times
	// with a [1 2 1]/4 kernel.
	crop := func(xs []int, ink byte, blur int) *bgr {
		w := xs[len(xs)-1] + 16
		row := make([]float64, w)
		for x := range row {
			row[x] = 250
			for _, g := range xs {
				if x >= g && x < g+10 {
					row[x] = float64(ink)
				}
			}
		}
		for ; blur > 0; blur-- {
			next := make([]float64, w)
			for x := range row {
				l, r := row[max(x-1, 0)], row[min(x+1, w-1)]
				next[x] = (l + 2*row[x] + r) / 4
			}
			row = next
		}
		im := newBGR(w, 30)
		for y := 0; y < im.H; y++ {
			for x := 0; x < w; x++ {
				v := byte(250)
				if y >= 6 && y < 24 {
					v = byte(row[x] + 0.5)
				}
				p := im.Pix[3*(y*w+x):]
				p[0], p[1], p[2] = v, v, v
			}
		}
		return im
	}
	line := func(text string, xs []int) []decodedChar {
		var cs []decodedChar
		for i, r := range []rune(text) {
			s := (xs[i] + 5) / perStep
			cs = append(cs, decodedChar{R: r, First: s, End: s, Prob: 0.9})
		}
		return cs
	}
	column := func(s int) int { return int((float64(s) + 0.5) * perStep) }
	text := func(cs []decodedChar) string {
		var b strings.Builder
		for _, c := range cs {
			b.WriteRune(c.R)
		}
		return b.String()
	}
	gapAt := map[int]bool{4: true, 7: true} // "abcd efg hi"
	for _, c := range []struct {
		name, text string
		words      map[int]bool
		ink        byte
		blur       int
		want       string
	}{
		{"sharp", "abcdefghi", gapAt, 20, 0, "abcd efg hi"},
		{"blurred", "abcdefghi", gapAt, 20, 2, "abcd efg hi"},
		{"faint", "abcdefghi", gapAt, 170, 0, "abcd efg hi"},
		{"faint and blurred", "abcdefghi", gapAt, 170, 2, "abcd efg hi"},
		{"no word gap", "abcdefghi", nil, 20, 0, "abcdefghi"},
		{"digits", "abcd12345", map[int]bool{4: true, 6: true}, 20, 0, "abcd 12345"},
		{"comma", "abcd,efgh", map[int]bool{5: true}, 20, 0, "abcd, efgh"},
		{"Han", "中文字中文字中文", gapAt, 20, 0, "中文字中文字中文"},
		{"full stop, sentence", "abcd.Efgh", map[int]bool{5: true}, 20, 0, "abcd. Efgh"},
		{"full stop, initial", "abcD.Efgh", map[int]bool{5: true}, 20, 0, "abcD.Efgh"},
		{"full stop, lower case", "abcd.efgh", map[int]bool{5: true}, 20, 0, "abcd.efgh"},
		{"colon", "abcd:Efgh", map[int]bool{5: true}, 20, 0, "abcd:Efgh"},
	} {
		xs := layout(len([]rune(c.text)), c.words)
		im := crop(xs, c.ink, c.blur)
		got := text(wordBreaks(line(c.text, xs), im, columnDarkness(im), column, likely))
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// The recogniser saw no space there (a monospaced receipt's narrow
	// letter): no break, however wide the ink gap.
	xs := layout(9, gapAt)
	never := func(int) float32 { return 0.001 }
	im := crop(xs, 20, 0)
	if got := text(wordBreaks(line("abcdefghi", xs), im, columnDarkness(im), column, never)); got != "abcdefghi" {
		t.Errorf("no space class: %q", got)
	}
}

// likely is a space class probability at every time step (0.05) that lets
// every ink gap be a word break.
func likely(int) float32 { return 0.05 }

// BenchmarkColumnDarkness: the per-line cost of reading a crop's ink for
// word gaps and word boxes (tightBreaks, snapWords), on a 700×40 line crop.
func BenchmarkColumnDarkness(b *testing.B) {
	im := newBGR(700, 40)
	for i := range im.Pix {
		im.Pix[i] = byte(200 + i%50)
	}
	for b.Loop() {
		columnDarkness(im)
	}
}

// TestTurnedPagePaddedAlike: readPage turns the padded page instead of
// padding each turned copy, which holds only where both are the same
// image: the margin's width (border) and colour (the median of the edge
// pixels) do not depend on the turn. Checked on a page whose edges are
// not uniform, so a colour taken from one side only would differ.
func TestTurnedPagePaddedAlike(t *testing.T) {
	im := newBGR(97, 41)
	for i := range im.Pix {
		im.Pix[i] = byte((i*37 + i/(3*97)*11) % 251)
	}
	for x := 0; x < 97; x++ { // a dark top edge: the median moves if it is left out
		copy(im.Pix[3*x:3*x+3], []byte{3, 5, 7})
	}
	b := border(im)
	p := padded{im.pad(b), b}
	for q := 1; q <= 3; q++ {
		turned := im.rotate(q)
		if border(turned) != b {
			t.Fatalf("turn %d: border %d, want %d", q, border(turned), b)
		}
		want := turned.pad(b)
		got := p.rotate(q)
		if got.W != want.W || got.H != want.H || !slices.Equal(got.Pix, want.Pix) {
			t.Errorf("turn %d: the padded page turned differs from the turned page padded", q)
		}
		if in := got.inner(); in.W != turned.W || in.H != turned.H || !slices.Equal(in.Pix, turned.Pix) {
			t.Errorf("turn %d: inner() is not the turned page", q)
		}
	}
}
