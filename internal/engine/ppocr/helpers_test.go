package ppocr

import (
	"context"
	"image"
	"os"
	"sync"
	"testing"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/evaldata"
	"github.com/lector-ocr/lector/internal/result"
)

// testDir is the ppocr directory the tests use: LECTOR_PPOCR_DIR, else the
// default (where make setup installs).
func testDir() string {
	if d := os.Getenv("LECTOR_PPOCR_DIR"); d != "" {
		return d
	}
	return DefaultDir(os.Getenv)
}

var (
	sharedOnce  sync.Once
	sharedModel engine.Model
	sharedErr   error
)

// testModel loads ppocr:v4 once for the package's tests (ONNX Runtime is
// one environment per process). A missing installation fails the test:
// make setup installs it.
func testModel(t testing.TB) engine.Model {
	t.Helper()
	sharedOnce.Do(func() {
		e := Engine{Dir: testDir()}
		sharedModel, sharedErr = e.Load(context.Background(), engine.Spec{Model: "ppocr:v4", Config: "v4", Device: "cpu", Slots: 2})
	})
	if sharedErr != nil {
		t.Fatalf("loading ppocr:v4 from %s (run make setup): %v", testDir(), sharedErr)
	}
	return sharedModel
}

func testHandle(t testing.TB) engine.Handle {
	t.Helper()
	h, err := testModel(t).NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// evalDir is the evaluation data (evaldata.Dir: required in CI).
func evalDir(t testing.TB) string { return evaldata.Dir(t) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func process(t testing.TB, h engine.Handle, data []byte, opts engine.Options) *result.Page {
	t.Helper()
	p, err := h.Process(context.Background(), engine.Image{Number: 1, Data: data}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// grayPNG encodes im's luma as a gray PNG.
func grayPNG(t testing.TB, im *bgr) []byte {
	t.Helper()
	return encodePNG(t, gray(im.W, im.H, func(x, y int) uint8 { return im.At(x, y).Y }))
}

// bgrOfGray is g as a BGR image, each pixel's gray in all three channels.
func bgrOfGray(g *image.Gray) *bgr {
	b := g.Bounds()
	out := newBGR(b.Dx(), b.Dy())
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			v := g.GrayAt(b.Min.X+x, b.Min.Y+y).Y
			copy(out.Pix[3*(y*out.W+x):], []byte{v, v, v})
		}
	}
	return out
}
