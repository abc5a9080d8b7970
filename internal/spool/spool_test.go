package spool

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/errcode"
)

// endless is a reader that never ends: the limit must stop it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	e.n += int64(len(p))
	return len(p), nil
}

func TestCopyStopsAtTheLimitWhileReading(t *testing.T) {
	t.Parallel()
	r := &endless{}
	_, err := Copy(r, t.TempDir(), 1<<20)
	if errcode.Of(err) != errcode.TooLarge {
		t.Fatalf("err %v, want too_large", err)
	}
	if r.n > 1<<20+64<<10 {
		t.Fatalf("read %d bytes for a 1 MiB limit", r.n)
	}
}

func TestCopyMapAndClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := Copy(strings.NewReader("hello"), dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Map()
	if err != nil || string(b) != "hello" || f.Size() != 5 {
		t.Fatalf("map %q %v", b, err)
	}
	got, _ := io.ReadAll(f.Reader())
	if !bytes.Equal(got, b) {
		t.Fatalf("reader %q", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("%d files left after Close", len(entries))
	}
}
