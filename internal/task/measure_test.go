package task

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lector-ocr/lector/internal/memory"
)

// TestOverlappingTasksKeepTheRunnersPeak: a runner's high-water mark is
// reset when the first measured task on it starts, not again by a task that
// starts while another is still measured there (that reset erased the first
// task's peak, which then read below its starting RSS: peak_bytes 0); once
// both have read their end, the next task resets it again.
func TestOverlappingTasksKeepTheRunnersPeak(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "proc", "42")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte("VmHWM:\t  300 kB\nVmRSS:\t  200 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clearRefs := filepath.Join(dir, "clear_refs")
	reset := func() bool {
		t.Helper()
		_, err := os.Stat(clearRefs)
		if err == nil {
			if err := os.Remove(clearRefs); err != nil {
				t.Fatal(err)
			}
		}
		return err == nil
	}
	rt := New(Config{Probe: memory.ProcessProbe{Root: root}})
	first := rt.startMeasure("cpu", 42)
	if !reset() {
		t.Fatal("the first task on the runner did not reset its peak")
	}
	second := rt.startMeasure("cpu", 42)
	if reset() {
		t.Fatal("a task that started while another was measured reset the runner's peak")
	}
	other := rt.startMeasure("cpu", 7) // another runner is measured on its own
	other.stop()
	other.release()
	first.stop()
	first.release()
	first.release() // idempotent: the deferred release after account's
	third := rt.startMeasure("cpu", 42)
	if reset() {
		t.Fatal("a task that started while the second was measured reset the runner's peak")
	}
	second.stop()
	second.release()
	third.stop()
	third.release()
	last := rt.startMeasure("cpu", 42)
	defer last.release()
	defer last.stop()
	if !reset() {
		t.Fatal("the runner's peak was not reset for a task that started alone")
	}
	if last.host.RSS != 200<<10 {
		t.Errorf("starting RSS %d, want %d", last.host.RSS, 200<<10)
	}
}
