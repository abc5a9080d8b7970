package service

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hhrutter/tiff"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/document/pdftest"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/store"
)

// PageImage gives a browser-ready image of a task's page, only to the
// task's subject: a PNG input as it is, a TIFF page decoded to PNG; a page
// that is not there, or another subject's task, is not_found.
func TestPageImage(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "uploads"), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(t.Context(), filepath.Join(work, "lector.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{Store: db, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	img.SetGray(3, 4, color.Gray{Y: 200})
	var pngData, tiffData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		t.Fatal(err)
	}
	if err := tiff.Encode(&tiffData, img, nil); err != nil {
		t.Fatal(err)
	}
	put := func(id string, input []byte) {
		tk := &store.Task{ID: id, Subject: "alice", Status: lector.Succeeded, Pipeline: "ocr", Model: "m", Formats: []string{"json"},
			Priority: "normal", DeviceRequest: "auto", PagesTotal: 1, CreatedAt: time.Now(), FinishedAt: time.Now()}
		if err := db.Insert(t.Context(), tk, bytes.NewReader(input)); err != nil {
			t.Fatal(err)
		}
	}
	put("p", pngData.Bytes())
	put("t", tiffData.Bytes())
	put("d", pdftest.Build([]pdftest.Page{{MediaBox: [4]float64{0, 0, 72, 36}, JPEG: pdftest.GrayJPEG(30, 15), JW: 30, JH: 15}}))
	// A PDF page, rendered for engines as PGM, reaches browsers as PNG.
	if data, media, err := s.PageImage(t.Context(), "alice", "d", 1); err != nil || media != "png" {
		t.Fatalf("pdf page: %s %v", media, err)
	} else if got, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("pdf page as png: %v", err)
	} else if b := got.Bounds(); b.Dx() != 300 || b.Dy() != 150 {
		t.Fatalf("pdf page is %v, want 300×150 (1×0.5 inch at 300 dpi)", b)
	}

	data, media, err := s.PageImage(t.Context(), "alice", "p", 1)
	if err != nil || media != "png" || !bytes.Equal(data, pngData.Bytes()) {
		t.Fatalf("png page: %s, %d bytes, %v", media, len(data), err)
	}
	data, media, err = s.PageImage(t.Context(), "alice", "t", 1)
	if err != nil || media != "png" {
		t.Fatalf("tiff page: %s %v", media, err)
	}
	got, err := png.Decode(bytes.NewReader(data))
	if err != nil || got.Bounds() != img.Bounds() {
		t.Fatalf("tiff page as png: %v %v", got, err)
	}
	if r, _, _, _ := got.At(3, 4).RGBA(); r>>8 != 200 {
		t.Errorf("tiff page's pixel (3,4) is %d, want 200", r>>8)
	}
	for _, c := range []struct {
		subject, id string
		page        int
	}{{"bob", "p", 1}, {"alice", "p", 2}, {"alice", "p", 0}, {"alice", "nope", 1}} {
		if _, _, err := s.PageImage(t.Context(), c.subject, c.id, c.page); errcode.Of(err) != errcode.NotFound {
			t.Errorf("%+v: %v, want not_found", c, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(work, "uploads")); len(entries) != 0 {
		t.Errorf("%d files left in uploads", len(entries))
	}
}

// A page the engine turned upright (the JSON page's rotation) is served in
// the frame of the result's boxes: the input turned the same way, so a
// pixel at (u, v) of a 40×30 input read turned 90° clockwise is at
// (29 − v, u) of the 30×40 image; 180° puts it at (39 − u, 29 − v). Without
// a stored JSON (a synchronous task) the input is served as it is.
func TestPageImageIsInTheResultsFrame(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "uploads"), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(t.Context(), filepath.Join(work, "lector.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{Store: db, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	img.SetGray(3, 4, color.Gray{Y: 200})
	var pngData, tiffData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		t.Fatal(err)
	}
	if err := tiff.Encode(&tiffData, img, nil); err != nil {
		t.Fatal(err)
	}
	put := func(id string, input []byte, rotation int, w, h int) {
		tk := &store.Task{ID: id, Subject: "alice", Status: lector.Running, Pipeline: "ocr", Model: "m", Formats: []string{"json"},
			Priority: "normal", DeviceRequest: "auto", PagesTotal: 1, CreatedAt: time.Now()}
		if err := db.Insert(t.Context(), tk, bytes.NewReader(input)); err != nil {
			t.Fatal(err)
		}
		js := fmt.Sprintf(`{"schema":"lector.ocr/v1","pages":[{"number":1,"width":%d,"height":%d,"rotation":%d}]}`, w, h, rotation)
		if _, err := db.Finish(t.Context(), id, 0, store.Outcome{Status: lector.Succeeded, PagesDone: 1, PagesTotal: 1, FinishedAt: time.Now()},
			map[string][]byte{"json": []byte(js)}); err != nil {
			t.Fatal(err)
		}
	}
	put("p90", pngData.Bytes(), 90, 30, 40)
	put("t90", tiffData.Bytes(), 90, 30, 40)
	put("p180", pngData.Bytes(), 180, 40, 30)
	put("p0", pngData.Bytes(), 0, 40, 30)
	for _, c := range []struct {
		id         string
		w, h, x, y int
	}{{"p90", 30, 40, 25, 3}, {"t90", 30, 40, 25, 3}, {"p180", 40, 30, 36, 25}, {"p0", 40, 30, 3, 4}} {
		data, media, err := s.PageImage(t.Context(), "alice", c.id, 1)
		if err != nil || media != "png" {
			t.Fatalf("%s: %s %v", c.id, media, err)
		}
		got, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		if b := got.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
			t.Errorf("%s: image is %v, want %d×%d (the JSON page's size)", c.id, b, c.w, c.h)
			continue
		}
		if r, _, _, _ := got.At(c.x, c.y).RGBA(); r>>8 != 200 {
			t.Errorf("%s: pixel (%d,%d) is %d, want the input's (3,4), 200", c.id, c.x, c.y, r>>8)
		}
	}
}
