package tesseract

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/evaldata"
)

func linn(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(evaldata.Path(t, "pages", "linn.png"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newHandle loads eng with timeout and returns a handle on this (locked)
// thread.
func newHandle(t *testing.T, timeout time.Duration) *handle {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	m, err := Engine{PageTimeout: timeout}.Load(context.Background(), engine.Spec{Model: "tesseract:eng", Config: "eng"})
	if err != nil {
		t.Fatalf("loading (make setup installs tesseract-ocr-eng): %v", err)
	}
	h, err := m.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h.(*handle)
}

// TestCancelStopsRecognition: a cancelled request stops Tesseract inside
// the page (the monitor's progress stays under 100), and the handle reads
// the next page fully.
func TestCancelStopsRecognition(t *testing.T) {
	t.Parallel()
	data := linn(t)
	h := newHandle(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.Process(ctx, engine.Image{Number: 1, Data: data}, engine.Options{Params: map[string]string{OptNoOSD: "1", OptNoDeskew: "1"}})
	if errcode.Of(err) != errcode.Canceled || h.progress >= 100 {
		t.Fatalf("err = %v, progress %d; want canceled before the end", err, h.progress)
	}
	page, err := h.Process(context.Background(), engine.Image{Number: 2, Data: data}, engine.Options{})
	if err != nil || !strings.Contains(page.Text(), "LinnSequencer") || h.progress != 100 {
		t.Fatalf("next page: %v, progress %d", err, h.progress)
	}
}

// TestPageTimeout: a page past its timeout ends with timeout, stopped by the
// monitor's deadline.
func TestPageTimeout(t *testing.T) {
	t.Parallel()
	data := linn(t)
	h := newHandle(t, 20*time.Millisecond)
	_, err := h.Process(context.Background(), engine.Image{Number: 1, Data: data}, engine.Options{})
	if errcode.Of(err) != errcode.Timeout || h.progress >= 100 {
		t.Fatalf("err = %v, progress %d; want timeout before the end", err, h.progress)
	}
}

func TestUnknownLanguageNamesTheInstalledOnes(t *testing.T) {
	t.Parallel()
	_, err := Engine{}.Load(context.Background(), engine.Spec{Model: "tesseract:xx", Config: "xx"})
	if errcode.Of(err) != errcode.UnknownModel || !strings.Contains(err.Error(), "eng") {
		t.Fatalf("err = %v", err)
	}
}

// TestInvertedPrintIsRead: white-on-black print is read (Tesseract retries
// lines it reads poorly inverted; the tuning lowers when, not whether).
func TestInvertedPrintIsRead(t *testing.T) {
	t.Parallel()
	src, err := png.Decode(bytes.NewReader(linn(t)))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	band := image.Rect(b.Min.X, b.Min.Y+b.Dy()*30/100, b.Max.X, b.Min.Y+b.Dy()*45/100)
	g := image.NewGray(band)
	for y := band.Min.Y; y < band.Max.Y; y++ {
		for x := band.Min.X; x < band.Max.X; x++ {
			v := color.GrayModel.Convert(src.At(x, y)).(color.Gray).Y
			g.SetGray(x, y, color.Gray{Y: 255 - v})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	h := newHandle(t, time.Minute)
	page, err := h.Process(context.Background(), engine.Image{Number: 1, Data: buf.Bytes()}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.Text(), "TIMING CORRECTION works during playback") {
		t.Fatalf("the inverted band read as %q", page.Text())
	}
}

// TestWalkOrdersAgree: the left-to-right walk (ltr.cpp) and Tesseract's
// bidirectional result iterator, used for right-to-left languages, give
// the same blocks on a left-to-right page.
func TestWalkOrdersAgree(t *testing.T) {
	t.Parallel()
	h := newHandle(t, time.Minute)
	page, err := h.Process(context.Background(), engine.Image{Number: 1, Data: linn(t)}, engine.Options{Params: map[string]string{OptNoOSD: "1", OptNoDeskew: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	h.m.rtl = true
	bidi, err := h.Process(context.Background(), engine.Image{Number: 1, Data: linn(t)}, engine.Options{Params: map[string]string{OptNoOSD: "1", OptNoDeskew: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Blocks) < 5 || !reflect.DeepEqual(page.Blocks, bidi.Blocks) {
		t.Fatalf("%d blocks left to right, %d in bidirectional order, or they differ", len(page.Blocks), len(bidi.Blocks))
	}
	if rightToLeft("eng+chi_sim") || !rightToLeft("eng+ara") || !rightToLeft("script/Hebrew") {
		t.Fatal("rightToLeft misjudges a language list")
	}
}
