package model_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/cli"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/runner"
)

type realBundle struct {
	m       *model.Manager
	clock   *clock.Fake
	dir     string
	unloads chan model.UnloadRecord
}

func setupReal(t *testing.T) *realBundle {
	t.Helper()
	b := &realBundle{clock: clock.NewFake(time.Now()), dir: t.TempDir(), unloads: make(chan model.UnloadRecord, 16)}
	probe := memory.ProcessProbe{}
	b.m = model.NewManager(model.Options{
		Launcher: model.ProcessLauncher{Launcher: &runner.Launcher{
			Exe: os.Args[0], Env: append(os.Environ(), cli.TestMainEnv+"=1", "LECTOR_ENABLE_SYNTHETIC=1"), Dir: b.dir,
		}},
		Clock: b.clock, KeepAlive: time.Minute, LoadTimeout: 30 * time.Second, StopTimeout: 10 * time.Second,
		Measure: func(pid int, _ string) (uint64, uint64) {
			m, _ := probe.ReadTree(pid)
			return m.RSS, 0
		},
		OnUnload: func(r model.UnloadRecord) { b.unloads <- r },
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.m.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return b
}

func (b *realBundle) waitUnload(t *testing.T) model.UnloadRecord {
	t.Helper()
	select {
	case r := <-b.unloads:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no unload within 20s")
		return model.UnloadRecord{}
	}
}

func treeRSS(t *testing.T) int64 {
	t.Helper()
	m, err := memory.ProcessProbe{}.ReadTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return int64(m.RSS)
}

func processGone(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", fmt.Sprint(pid)))
	return os.IsNotExist(err)
}

func noSocketDirs(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("left behind in %s: %v", dir, entries)
	}
}

const mib = 1 << 20

// Not parallel: it measures this process's whole tree, which other tests'
// runners would be part of.
func TestRealRunnerLifecycle(t *testing.T) {
	b := setupReal(t)
	before := treeRSS(t)

	l1, err := b.m.Acquire(t.Context(), "synthetic:300MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := b.m.Acquire(t.Context(), "synthetic:300MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l1.Pid() != l2.Pid() {
		t.Fatalf("two leases, two runners: %d and %d", l1.Pid(), l2.Pid())
	}
	if rise := treeRSS(t) - before; rise < 280*mib {
		t.Fatalf("process tree RSS rose by %d MiB after loading a 300 MiB model, want at least 280", rise/mib)
	}
	list := b.m.List()
	if len(list) != 1 || list[0].Refs != 2 || list[0].CPUBytes < 280*mib {
		t.Fatalf("List = %+v", list)
	}
	page, err := l1.Runner().Process(t.Context(), engine.Image{Number: 1, Width: 100, Height: 100}, engine.Options{})
	if err != nil || page.Text() != "synthetic page 1\n100x100" {
		t.Fatalf("Process = %v, %v", page, err)
	}
	pid := l1.Pid()
	l1.Release()
	l2.Release()
	if info := b.m.List(); len(info) != 1 || info[0].ExpiresAt.IsZero() || info[0].Refs != 0 {
		t.Fatalf("idle instance: %+v", info)
	}
	b.clock.Advance(time.Minute)
	if r := b.waitUnload(t); r.Reason != model.ReasonIdle || r.Pid != pid {
		t.Fatalf("unload = %+v", r)
	}
	if !processGone(pid) {
		t.Fatalf("runner %d still exists (zombie or alive)", pid)
	}
	if after := treeRSS(t); after-before > 10*mib {
		t.Fatalf("tree RSS %d MiB above where it started after the unload, want within 10", (after-before)/mib)
	}
	noSocketDirs(t, b.dir)
}

func TestRealRunnerKilledWhileIdle(t *testing.T) {
	t.Parallel()
	b := setupReal(t)
	l, err := b.m.Acquire(t.Context(), "synthetic:20MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pid := l.Pid()
	l.Release()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := b.waitUnload(t); r.Reason != model.ReasonCrash {
		t.Fatalf("unload = %+v, want crash", r)
	}
	if !processGone(pid) {
		t.Fatalf("killed runner %d left a zombie", pid)
	}
	noSocketDirs(t, b.dir)
	l, err = b.m.Acquire(t.Context(), "synthetic:20MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		t.Fatalf("next use after an idle crash: %v", err)
	}
	defer l.Release()
	if l.Pid() == pid {
		t.Fatal("got the dead runner back")
	}
}

func TestRealRunnerKilledWhileInUse(t *testing.T) {
	t.Parallel()
	b := setupReal(t)
	l, err := b.m.Acquire(t.Context(), "synthetic:20MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pid := l.Pid()
	_, err = l.Runner().Process(t.Context(), engine.Image{Number: 1, Width: 10, Height: 10}, engine.Options{Params: map[string]string{"crash": "1"}})
	if errcode.Of(err) != errcode.EngineCrashed {
		t.Fatalf("in-flight page: %v, want engine_crashed", err)
	}
	if r := b.waitUnload(t); r.Reason != model.ReasonCrash {
		t.Fatalf("unload = %+v", r)
	}
	l.Release()
	if !processGone(pid) {
		t.Fatalf("crashed runner %d left a zombie", pid)
	}
	noSocketDirs(t, b.dir)
	l2, err := b.m.Acquire(t.Context(), "synthetic:20MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		t.Fatalf("next use after a crash in use: %v", err)
	}
	defer l2.Release()
	if _, err := l2.Runner().Process(t.Context(), engine.Image{Number: 2, Width: 10, Height: 10}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
}
