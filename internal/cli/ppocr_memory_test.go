package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/evaldata"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/memory/memtest"
	"github.com/lector-ocr/lector/internal/server"
)

// TestPPOCRMemory runs `lector serve` in a 1 GiB memory cgroup with real
// ppocr runners:
//
//   - a ppocr:v4 task records its estimated and actual memory for the
//     device it ran on (the CPU: host bytes, no GPU figures);
//   - after an explicit unload the runner has exited and the server's
//     process tree is back within 10 MiB of what it was before the model
//     was loaded;
//   - an idle ppocr:v4 instance is evicted under pressure (reason
//     "pressure") to make room for a task that needs its memory, and that
//     task succeeds with no process OOM-killed.
//
// Nothing waits on a clock: tasks are followed on their event streams, the
// unload on the log line, the runner's exit on a pidfd.
func TestPPOCRMemory(t *testing.T) {
	t.Parallel()
	dir := ppocrEnv()["LECTOR_PPOCR_DIR"]
	if _, err := os.Stat(filepath.Join(dir, "v4", "rec.onnx")); err != nil {
		t.Fatalf("ppocr:v4 is not installed in %s (make setup): %v", dir, err)
	}
	img, err := os.ReadFile(evaldata.Path(t, "scene", "images", "cnocr-multi-line_en_black.png"))
	if err != nil {
		t.Fatal(err)
	}
	cg := memtest.New(t, 1<<30)
	cmd := cg.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--enable-synthetic", "--critical-wait", "5s")
	cmd.Env = append(cmd.Env, TestMainEnv+"=1", "OMP_THREAD_LIMIT=1", "LECTOR_PPOCR_DIR="+dir)
	p := startCommand(t, cmd)
	ctx := t.Context()
	pid := cmd.Process.Pid
	tree := func() uint64 {
		t.Helper()
		m, err := memory.ProcessProbe{}.ReadTree(pid)
		if err != nil {
			t.Fatal(err)
		}
		return m.RSS
	}

	// The server's own paths (ingest, store, a runner's start and stop)
	// warmed by a task on a model that unloads when the task ends, so the
	// baseline is the server at work with no runner.
	warm, err := p.client.Submit(ctx, "page.png", bytes.NewReader(img), api.Options{Model: "synthetic:1MiB", KeepAlive: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := p.client.Wait(ctx, warm.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("warm-up task: %+v %v", fin, err)
	}
	p.logs.waitFor(t, 0, `msg="model unloaded" model=synthetic:1MiB`)
	if pids := p.runnerPids(t); len(pids) != 0 {
		t.Fatalf("runners left after the warm-up: %v", pids)
	}
	baseline := tree()
	before, err := cg.Usage()
	if err != nil {
		t.Fatal(err)
	}

	// A ppocr task: its memory recorded for the CPU.
	m, err := p.client.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(m.Catalog, func(c api.ModelInfo) bool { return c.Name == "ppocr:v4" })
	if i < 0 {
		t.Fatalf("ppocr:v4 is not in the catalog: %+v", m.Catalog)
	}
	documented := m.Catalog[i].LoadBytes
	task, err := p.client.Submit(ctx, "screenshot.png", bytes.NewReader(img), api.Options{Model: "ppocr:v4"})
	if err != nil {
		t.Fatal(err)
	}
	fin, err := p.client.Wait(ctx, task.ID)
	if err != nil || fin.Status != "succeeded" || fin.Resources == nil {
		t.Fatalf("ppocr task: %+v %v", fin, err)
	}
	r := fin.Resources
	t.Logf("ppocr:v4 task on %s: estimated %d MiB, peak %d MiB (estimate error %+.2f); documented load %d MiB", r.Device, r.EstimatedBytes>>20, r.PeakBytes>>20, r.EstimateError, documented>>20)
	switch {
	case r.Device != "cpu" || r.Fallback:
		t.Fatalf("ran on %q (fallback %v), want the CPU", r.Device, r.Fallback)
	case r.EstimatedBytes < documented:
		t.Fatalf("estimated %d bytes, under the documented load of %d: the load was not counted", r.EstimatedBytes, documented)
	case r.PeakBytes < 64<<20 || r.PeakBytes > 2*r.EstimatedBytes:
		// The task caused the load: its peak includes the runner's
		// sessions (63 MiB alone), and the estimate bounds it.
		t.Fatalf("actual peak %d bytes for an estimate of %d", r.PeakBytes, r.EstimatedBytes)
	case r.GPUEstimatedBytes != 0 || r.GPUPeakBytes != 0 || r.GPUSamples != 0:
		t.Fatalf("GPU figures for a CPU task: %+v", r)
	}
	inst := loaded(t, p, "ppocr:v4")
	if inst.Device != "cpu" || inst.Pid == 0 {
		t.Fatalf("instance %+v", inst)
	}
	with := tree()

	// Unloaded: the runner exits and the tree is back at its baseline.
	if _, err := p.client.Unload(ctx, "ppocr:v4", "cpu"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, inst.Pid)
	if pids, err := (memory.ProcessProbe{}).Tree(pid); err != nil || slices.Contains(pids, inst.Pid) {
		t.Fatalf("the server's process tree after the unload: %v %v", pids, err)
	}
	after := tree()
	t.Logf("process tree RSS: %d MiB before the load, %d MiB with ppocr:v4 loaded, %d MiB after its unload", baseline>>20, with>>20, after>>20)
	if with < baseline+64<<20 {
		t.Fatalf("the loaded runner added only %d bytes to the tree: not measuring it", with-baseline)
	}
	if d := int64(after) - int64(baseline); d > 10<<20 || d < -10<<20 {
		t.Fatalf("process tree RSS %d bytes after the unload, %d before the load: %+d MiB, want within 10 MiB", after, baseline, d>>20)
	}

	// Idle again, then evicted to make room for a task that needs its
	// memory.
	task, err = p.client.Submit(ctx, "screenshot.png", bytes.NewReader(img), api.Options{Model: "ppocr:v4"})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := p.client.Wait(ctx, task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("second ppocr task: %+v %v", fin, err)
	}
	inst = loaded(t, p, "ppocr:v4")
	var sys server.SystemView
	if err := p.client.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	use, err := cg.Usage()
	if err != nil || use.Total != 1<<30 {
		t.Fatalf("the cgroup's usage: %+v %v", use, err)
	}
	limit := uint64(sys.Thresholds.Critical * float64(use.Total))
	// The idle runner's share of the cgroup's memory: the task needs half
	// of it more than is free, so it fits only once the runner's memory
	// is back. (A fixed 64 MiB more was over the critical line, refused
	// at once, where the cgroup counted the whole server at 55–62 MiB.)
	if use.Used < before.Used+16<<20 {
		t.Fatalf("the cgroup's usage is %d MiB with ppocr:v4 idle, %d before its load: too little to show its eviction", use.Used>>20, before.Used>>20)
	}
	need := (limit - use.Used + (use.Used-before.Used)/2) >> 20
	t.Logf("used %d MiB with ppocr:v4 idle (%d before its load), of %d under critical: a %d MiB task", use.Used>>20, before.Used>>20, limit>>20, need)
	big, err := p.client.Submit(ctx, "page.png", bytes.NewReader(grayPNG(t, 200, 100)), api.Options{Model: fmt.Sprintf("synthetic:%dMiB", need)})
	if err != nil {
		t.Fatal(err)
	}
	p.logs.waitFor(t, 0, `msg="model unloaded" model=ppocr:v4.*reason=pressure`)
	waitGone(t, inst.Pid)
	if fin, err := p.client.Wait(ctx, big.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("the %d MiB task: %+v %v", need, fin, err)
	}
	if n := cg.OOMKills(); n != 0 {
		t.Fatalf("%d processes OOM-killed in the cgroup", n)
	}
}

// loaded is the server's one loaded instance of model.
func loaded(t *testing.T, p *serverProcess, model string) api.Instance {
	t.Helper()
	m, err := p.client.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range m.Loaded {
		if in.Model == model {
			return in
		}
	}
	t.Fatalf("%s is not loaded: %+v", model, m.Loaded)
	return api.Instance{}
}
