package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/runner"
)

// TestLaunchUnderADeepDirectory: a socket directory whose socket path would
// pass the 107-byte limit of Unix sockets still gives a working runner.
func TestLaunchUnderADeepDirectory(t *testing.T) {
	t.Parallel()
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 40))
	p, err := launcher(deep).Launch(t.Context(), runner.Spec{Model: "synthetic:1MiB", Device: "cpu", Slots: 1})
	if err != nil {
		t.Fatalf("launch under a %d-byte directory: %v", len(deep), err)
	}
	if err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir()); !os.IsNotExist(err) {
		t.Fatalf("socket directory %s left after stop", p.Dir())
	}
}
