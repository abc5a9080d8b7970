package service

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/store"
)

// TestRetentionDeletesExpiredResults: with a fake clock, a task that ended
// more than the retention ago loses its input and results (its result
// answers gone, its row stays); a newer one keeps them; a second pass
// deletes nothing more.
func TestRetentionDeletesExpiredResults(t *testing.T) {
	t.Parallel()
	db, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lector.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	s, err := New(Config{Store: db, Clock: clk, Retention: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	finished := func(id string, at time.Time) {
		tk := &store.Task{ID: id, Status: lector.Running, Pipeline: "ocr", Model: "m", Formats: []string{"txt"}, Priority: "normal",
			DeviceRequest: "auto", CreatedAt: at}
		err := db.Insert(t.Context(), tk, strings.NewReader("data of "+id))
		if err == nil {
			_, err = db.Finish(t.Context(), id, 0, store.Outcome{Status: lector.Succeeded, FinishedAt: at},
				map[string][]byte{"txt": []byte("data of " + id)})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	finished("old", start)
	clk.Advance(3 * 24 * time.Hour)
	finished("new", clk.Now())
	clk.Advance(4*24*time.Hour + time.Minute) // old ended 7 days and a minute ago; new 4 days ago

	n, err := s.Retain(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("retained %d %v, want 1", n, err)
	}
	var out bytes.Buffer
	w := func(int64) (io.Writer, error) { return &out, nil }
	if err := s.Result(t.Context(), "", "old", "txt", w); errcode.Of(err) != errcode.Gone {
		t.Fatalf("old result: %v, want gone", err)
	}
	if _, ok, _ := db.BlobSize(t.Context(), "old", "input"); ok {
		t.Fatal("the old input is still stored")
	}
	old, err := s.Get(t.Context(), "", "old")
	if err != nil || old.ResultsDeletedAt == nil || !old.ResultsDeletedAt.Equal(clk.Now()) {
		t.Fatalf("old task: %+v %v", old, err)
	}
	if err := s.Result(t.Context(), "", "new", "txt", w); err != nil || out.String() != "data of new" {
		t.Fatalf("new result: %q %v", out.String(), err)
	}
	if n, err := s.Retain(t.Context()); err != nil || n != 0 {
		t.Fatalf("second pass deleted %d %v", n, err)
	}
}
