package tesseract

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

func linn(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "eval", "pages", "linn.png"))
	if err != nil {
		t.Skipf("skipping: the evaluation data is not beside the project root: %v", err)
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
	data := linn(t)
	h := newHandle(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.Process(ctx, engine.Image{Number: 1, Data: data}, engine.Options{OptNoOSD: "1", OptNoDeskew: "1"})
	if errcode.Of(err) != errcode.Canceled || h.progress >= 100 {
		t.Fatalf("err = %v, progress %d; want canceled before the end", err, h.progress)
	}
	page, err := h.Process(context.Background(), engine.Image{Number: 2, Data: data}, nil)
	if err != nil || !strings.Contains(page.Text(), "LinnSequencer") || h.progress != 100 {
		t.Fatalf("next page: %v, progress %d", err, h.progress)
	}
}

// TestPageTimeout: a page past its timeout ends with timeout, stopped by the
// monitor's deadline.
func TestPageTimeout(t *testing.T) {
	data := linn(t)
	h := newHandle(t, 20*time.Millisecond)
	_, err := h.Process(context.Background(), engine.Image{Number: 1, Data: data}, nil)
	if errcode.Of(err) != errcode.Timeout || h.progress >= 100 {
		t.Fatalf("err = %v, progress %d; want timeout before the end", err, h.progress)
	}
}

func TestUnknownLanguageNamesTheInstalledOnes(t *testing.T) {
	_, err := Engine{}.Load(context.Background(), engine.Spec{Model: "tesseract:xx", Config: "xx"})
	if errcode.Of(err) != errcode.UnknownModel || !strings.Contains(err.Error(), "eng") {
		t.Fatalf("err = %v", err)
	}
}
