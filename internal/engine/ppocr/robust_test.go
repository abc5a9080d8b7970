package ppocr

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/eval"
)

func encodePNG(t testing.TB, im image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, im); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gray(w, h int, fill func(x, y int) uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.SetGray(x, y, color.Gray{Y: fill(x, y)})
		}
	}
	return g
}

// TestBadInput: images with nothing to read, or of extreme shapes, give a
// clean (empty or partial) result or a clear error; none crashes.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	rng := rand.New(rand.NewSource(1))
	cases := []struct {
		name string
		data []byte
	}{
		{"1x1", encodePNG(t, gray(1, 1, func(int, int) uint8 { return 0 }))},
		{"blank", encodePNG(t, gray(800, 600, func(int, int) uint8 { return 255 }))},
		{"noise", encodePNG(t, gray(600, 400, func(int, int) uint8 { return uint8(rng.Intn(256)) }))},
		{"strip 30000x40", encodePNG(t, gray(30000, 40, func(x, y int) uint8 {
			if (x/7)%9 < 4 && y > 10 && y < 30 {
				return 0
			}
			return 255
		}))},
		{"tall strip 20x5000", encodePNG(t, gray(20, 5000, func(int, int) uint8 { return 200 }))},
	}
	for _, c := range cases {
		for _, opts := range []engine.Options{{}, {Params: map[string]string{OptPSM: "7"}}} {
			p, err := h.Process(context.Background(), engine.Image{Number: 1, Data: c.data}, opts)
			if err != nil {
				t.Errorf("%s %v: %v", c.name, opts.Params, err)
				continue
			}
			if p.Width == 0 || p.Height == 0 {
				t.Errorf("%s: page size %dx%d", c.name, p.Width, p.Height)
			}
			t.Logf("%s %v: %d blocks %q", c.name, opts.Params, len(p.Blocks), p.Text())
		}
	}
	_, err := h.Process(context.Background(), engine.Image{Number: 1, Data: []byte("not an image")}, engine.Options{})
	if errcode.Of(err) != errcode.InvalidDocument {
		t.Errorf("garbage: %v", err)
	}
	_, err = h.Process(context.Background(), engine.Image{Number: 1}, engine.Options{})
	if errcode.Of(err) != errcode.InvalidDocument {
		t.Errorf("no data: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Process(ctx, engine.Image{Number: 1, Data: cases[1].data}, engine.Options{}); err == nil {
		t.Error("a cancelled page was read")
	}
}

// TestRotatedPages: a page turned 90°, 180° and 270° reads like the
// upright one, with the turn reported (degrees clockwise applied).
func TestRotatedPages(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	dir := filepath.Join(evalDir(t), "scene", "images")
	src, err := decode(readFile(t, filepath.Join(dir, "cnocr-multi-line_en_black.png")))
	if err != nil {
		t.Fatal(err)
	}
	want := string(readFile(t, filepath.Join(dir, "cnocr-multi-line_en_black.txt")))
	upright := process(t, h, grayPNG(t, src), engine.Options{})
	base := eval.CER(upright.Text(), want)
	if upright.Rotation != 0 || base > 0.05 {
		t.Fatalf("upright: rotation %d, CER %.3f", upright.Rotation, base)
	}
	for _, c := range []struct{ turn, rotation int }{{1, 270}, {2, 180}, {3, 90}} {
		p := process(t, h, grayPNG(t, src.rotate(c.turn)), engine.Options{})
		cer := eval.CER(p.Text(), want)
		t.Logf("turned %d°: rotation %d, CER %.4f (upright %.4f)", 90*c.turn, p.Rotation, cer, base)
		if p.Rotation != c.rotation {
			t.Errorf("turned %d°: rotation %d, want %d", 90*c.turn, p.Rotation, c.rotation)
		}
		if cer > base+0.02 {
			t.Errorf("turned %d°: CER %.4f, upright %.4f", 90*c.turn, cer, base)
		}
		if p.Width != src.W || p.Height != src.H {
			t.Errorf("turned %d°: page %dx%d, want the upright %dx%d", 90*c.turn, p.Width, p.Height, src.W, src.H)
		}
	}
	// Known upright: no search.
	p := process(t, h, grayPNG(t, src.rotate(2)), engine.Options{Params: map[string]string{OptNoOSD: "1"}})
	if p.Rotation != 0 {
		t.Errorf("no_osd: rotation %d", p.Rotation)
	}
}

// TestConcurrentHandles: the runner's slots share the model's sessions;
// pages read at once on four handles read as they do one at a time.
func TestConcurrentHandles(t *testing.T) {
	t.Parallel()
	a := testHandle(t)
	dir := filepath.Join(evalDir(t), "scene", "images")
	data := [][]byte{readFile(t, filepath.Join(dir, "cnocr-multi-line_cn1.png")), readFile(t, filepath.Join(dir, "cnocr-multi-line_en_black.png"))}
	want := []string{process(t, a, data[0], engine.Options{}).Text(), process(t, a, data[1], engine.Options{}).Text()}
	got := make([]string, 4)
	done := make(chan struct{})
	for i := range got {
		h := testHandle(t) // one handle a slot, as the runner has
		go func() {
			defer func() { done <- struct{}{} }()
			p, err := h.Process(context.Background(), engine.Image{Number: 1, Data: data[i/2]}, engine.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = p.Text()
		}()
	}
	for range got {
		<-done
	}
	for i, g := range got {
		if g != want[i/2] {
			t.Errorf("concurrent read %d: %q, alone %q", i, g, want[i/2])
		}
	}
}

// TestMirroredText: a line seen from behind (mirrored) reads as nonsense
// with low confidence; the second look (secondLooks) reads it mirrored
// back, each word's box over its own letters (the first word at the
// right). The recogniser reads many mirrored capitals confidently as
// letters in reverse order ("ATTACK" as "XDATTA"), which no confidence
// test can tell apart, so this holds only for text that reads doubtfully.
func TestMirroredText(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	src, err := decode(readFile(t, filepath.Join(evalDir(t), "scene", "crops", "cnocr-00199978.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	psm7 := engine.Options{Params: map[string]string{OptPSM: "7"}}
	upright := process(t, h, grayPNG(t, src), psm7)
	want := "zouna unpayably Raqu"
	if got := upright.Text(); strings.TrimSpace(got) != want {
		t.Fatalf("upright: read %q, want %q", got, want)
	}
	p := process(t, h, grayPNG(t, src.flipX()), psm7)
	if got := p.Text(); strings.TrimSpace(got) != want {
		t.Fatalf("mirrored: read %q, want %q", got, want)
	}
	words, up := p.Blocks[0].Paragraphs[0].Lines[0].Words, upright.Blocks[0].Paragraphs[0].Lines[0].Words
	if len(words) != len(up) {
		t.Fatalf("mirrored: %d words, upright %d", len(words), len(up))
	}
	for i, w := range words {
		// Mirrored back, the box lies over the upright word's.
		x0, x1 := src.W-w.Box.X1, src.W-w.Box.X0
		u := up[i].Box
		if ov := min(x1, u.X1) - max(x0, u.X0); float64(ov) < 0.6*float64(u.X1-u.X0) {
			t.Errorf("word %d %q at x %d–%d (mirrored back %d–%d), upright %q at %d–%d", i, w.Text, w.Box.X0, w.Box.X1, x0, x1, up[i].Text, u.X0, u.X1)
		}
	}
}

// TestSignKeepsSpaces: large letter-spaced signs (testdata/sign-*.png,
// ImageMagick's label: in DejaVu Sans Bold 40 pt, word spacing +10 px)
// read from the detector's tight crop lost their spaces
// ("FRESHBREADDAILY"); wordBreaks puts them back, and each word gets its
// own box, left to right.
func TestSignKeepsSpaces(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	for file, want := range map[string]string{
		"sign-fresh-bread-daily.png":   "FRESH BREAD DAILY",
		"sign-open-24-hours.png":       "OPEN 24 HOURS",
		"sign-wilmington-illinois.png": "wilmington illinois",
	} {
		p := process(t, h, readFile(t, filepath.Join("testdata", file)), engine.Options{})
		if got := strings.TrimSpace(p.Text()); got != want {
			t.Errorf("%s: read %q, want %q", file, got, want)
			continue
		}
		words := p.Blocks[0].Paragraphs[0].Lines[0].Words
		if len(words) != len(strings.Fields(want)) {
			t.Errorf("%s: %d words, want %d", file, len(words), len(strings.Fields(want)))
			continue
		}
		for i := 1; i < len(words); i++ {
			if words[i].Box.X0 < words[i-1].Box.X1 {
				t.Errorf("%s: word %q at x %d–%d overlaps %q at %d–%d", file, words[i].Text, words[i].Box.X0, words[i].Box.X1, words[i-1].Text, words[i-1].Box.X0, words[i-1].Box.X1)
			}
		}
	}
}
