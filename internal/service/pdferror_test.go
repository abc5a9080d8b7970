package service

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/store"
	"github.com/lector-ocr/lector/internal/task"
)

// TestAPDFNotWrittenAnswersItsCode: a task that succeeded but whose
// searchable PDF could not be written (Resources.PDFError) stores its other
// formats and is rendered without the PDF; its other formats are served,
// asking for its PDF answers pdf_not_written with the cause, and the task
// shows the error in its resources.
func TestAPDFNotWrittenAnswersItsCode(t *testing.T) {
	t.Parallel()
	db, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lector.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	r := task.Resources{PDFError: &lector.Error{Code: string(errcode.PDFNotWritten), Message: "the searchable PDF could not be written: pdftocairo failed"}}
	asked := []string{"json", "pdf", "txt"}
	if got := madeFormats(asked, r); !slices.Equal(got, []string{"json", "txt"}) || len(asked) != 3 {
		t.Fatalf("made formats %v (asked %v)", got, asked)
	}
	if got := madeFormats(asked, task.Resources{}); !slices.Equal(got, asked) {
		t.Fatalf("made formats without an error %v", got)
	}
	res, _ := json.Marshal(r)
	tk := &store.Task{ID: "t1", Status: lector.Running, Pipeline: "ocr", Model: "m", Formats: asked, Priority: "normal", DeviceRequest: "auto"}
	if err := db.Insert(t.Context(), tk, strings.NewReader("input")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Finish(t.Context(), "t1", 0, store.Outcome{Status: lector.Succeeded, Resources: string(res)},
		map[string][]byte{"json": []byte("{}"), "txt": []byte("text")}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := func(int64) (io.Writer, error) { return &out, nil }
	if err := s.Result(t.Context(), "", "t1", "txt", w); err != nil || out.String() != "text" {
		t.Fatalf("txt: %q %v", out.String(), err)
	}
	err = s.Result(t.Context(), "", "t1", "pdf", w)
	if errcode.Of(err) != errcode.PDFNotWritten || !strings.Contains(errcode.Message(err), "pdftocairo failed") {
		t.Fatalf("pdf: %v (%s), want pdf_not_written with its cause", err, errcode.Of(err))
	}
	got, err := s.Get(t.Context(), "", "t1")
	if err != nil || got.Status != lector.Succeeded || got.Resources == nil || got.Resources.PDFError == nil || got.Resources.PDFError.Code != "pdf_not_written" {
		t.Fatalf("task %+v %v", got, err)
	}
}
