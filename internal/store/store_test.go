package store

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lector.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func insert(t *testing.T, s *Store, id, subject string, at time.Time) {
	t.Helper()
	err := s.Tx(t.Context(), func(tx *sql.Tx) error {
		return InsertTx(t.Context(), tx, &Task{ID: id, Subject: subject, Status: lector.Queued, Pipeline: "ocr", Model: "m",
			Formats: []string{"json", "txt"}, Priority: "normal", DeviceRequest: "auto", CreatedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrationsApplyOnceAndRefuseNewer: reopening applies nothing again;
// a database from a newer lector is refused, not damaged.
func TestMigrationsApplyOnceAndRefuseNewer(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	v, err := s.Version(t.Context())
	if err != nil || v != len(migrations)-1 {
		t.Fatalf("version %d %v, want %d", v, err, len(migrations)-1)
	}
	insert(t, s, "a", "", time.Unix(1, 0))
	s.Close()
	s2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Lookup(t.Context(), "a"); err != nil {
		t.Fatalf("the row did not survive reopening: %v", err)
	}
	if _, err := s2.Exec(t.Context(), `INSERT INTO lector_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if _, err := Open(t.Context(), path); err == nil {
		t.Fatal("a database with a newer schema was opened")
	}
}

// TestBlobsRoundTripInChunks: a blob over several chunks comes back whole,
// with its size; deleting blobs marks the results deleted.
func TestBlobsRoundTripInChunks(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	insert(t, s, "a", "", time.Unix(1, 0))
	data := make([]byte, 2*ChunkSize+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var n int64
	err := s.Tx(t.Context(), func(tx *sql.Tx) error {
		var err error
		n, err = PutBlobTx(t.Context(), tx, "a", "input", bytes.NewReader(data))
		return err
	})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("put %d %v", n, err)
	}
	size, ok, err := s.BlobSize(t.Context(), "a", "input")
	if err != nil || !ok || size != int64(len(data)) {
		t.Fatalf("size %d %v %v", size, ok, err)
	}
	var out bytes.Buffer
	if _, err := s.CopyBlob(t.Context(), &out, "a", "input"); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy: %v, equal %v", err, bytes.Equal(out.Bytes(), data))
	}
	now := time.Unix(100, 0)
	if err := s.DeleteBlobs(t.Context(), "a", now); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.BlobSize(t.Context(), "a", "input"); ok {
		t.Fatal("blob still there")
	}
	if tk, _ := s.Lookup(t.Context(), "a"); !tk.ResultsDeleted.Equal(now) {
		t.Fatalf("results deleted at %v", tk.ResultsDeleted)
	}
}

// TestListIsNewestFirstPerSubjectAndPaginates, including tasks created at
// the same instant.
func TestListIsNewestFirstPerSubjectAndPaginates(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	at := time.Unix(1000, 0)
	for _, id := range []string{"t1", "t2", "t3"} {
		insert(t, s, id, "alice", at)
	}
	insert(t, s, "t0", "alice", at.Add(-time.Second))
	insert(t, s, "b1", "bob", at.Add(time.Hour))
	var got []string
	var cur *Cursor
	for {
		page, next, err := s.List(t.Context(), "alice", cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page {
			got = append(got, tk.ID)
		}
		if next == nil {
			break
		}
		cur = next
	}
	if want := "t3 t2 t1 t0"; joinIDs(got) != want {
		t.Fatalf("listed %v, want %s", got, want)
	}
	if _, err := s.Get(context.Background(), "b1", "alice"); errcode.Of(err) != errcode.NotFound {
		t.Fatalf("another subject's task: %v, want not_found", err)
	}
}

func joinIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id)
	}
	return b.String()
}
