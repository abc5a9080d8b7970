package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/cuda/cudatest"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/runner"
)

// TestRunnerEnvPerEngine: a Tesseract runner starts with OMP_THREAD_LIMIT=1
// and sees no GPU (read from the real process's environment); a runner for
// cuda:1 sees GPU 1 alone, by its UUID, and an engine that does not use
// OpenMP gets no OMP_THREAD_LIMIT.
func TestRunnerEnvPerEngine(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	env := testEnv()
	env["OMP_THREAD_LIMIT"] = "8"       // the user's, not the runner's
	env["CUDA_VISIBLE_DEVICES"] = "0,1" // likewise
	env["LECTOR_ENABLE_SYNTHETIC"] = "1"
	reg := newRegistry(true, env, time.Minute)
	devs := []device.Device{{ID: "cpu", Kind: device.CPU}, {ID: "cuda:0", Kind: device.CUDA, Index: 0, UUID: "GPU-aaaa"},
		{ID: "cuda:1", Kind: device.CUDA, Index: 1, UUID: "GPU-bbbb"}}
	envFor := runnerEnv(reg, devs)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := &runner.Launcher{Exe: exe, Env: baseEnv(env), EnvFor: envFor, Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := l.Launch(ctx, runner.Spec{Model: "tesseract:eng", Device: "cpu", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(raw), "\x00")
	if !slices.Contains(vars, "OMP_THREAD_LIMIT=1") || slices.Contains(vars, "OMP_THREAD_LIMIT=8") {
		t.Errorf("Tesseract runner's OMP_THREAD_LIMIT: %v", grep(vars, "OMP_"))
	}
	// One malloc arena (tesseract.Engine.RunnerEnv), joined to whatever
	// tunables the server had.
	if tun := grep(vars, "GLIBC_TUNABLES="); len(tun) != 1 || !strings.Contains(tun[0], "glibc.malloc.arena_max=1") {
		t.Errorf("Tesseract runner's GLIBC_TUNABLES: %v, want one setting with glibc.malloc.arena_max=1", tun)
	}
	if !slices.Contains(vars, "CUDA_VISIBLE_DEVICES=") {
		t.Errorf("a CPU runner may see GPUs: %v", grep(vars, "CUDA_"))
	}

	gpu := envFor(runner.Spec{Model: "synthetic:1MiB,gpu=1MiB", Device: "cuda:1"})
	if !slices.Contains(gpu, "CUDA_VISIBLE_DEVICES=GPU-bbbb") || len(grep(gpu, "OMP_")) != 0 {
		t.Errorf("cuda:1 runner's variables: %v, want CUDA_VISIBLE_DEVICES=GPU-bbbb and no OMP_THREAD_LIMIT", gpu)
	}
}

func grep(vars []string, prefix string) []string {
	var out []string
	for _, v := range vars {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// TestEveryEngineMakesTheSearchablePDF: the searchable PDF is made from the
// result's words over the input, so a model of any engine (here the
// synthetic one) makes it — asked for at submission, synchronously, by
// default for a PDF input, and by `lector ocr`.
func TestEveryEngineMakesTheSearchablePDF(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic")
	ctx := t.Context()
	png := grayPNG(t, 200, 200)
	body, _, err := ts.client.OCR(ctx, "a.png", bytes.NewReader(png), api.Options{Model: "synthetic:1MiB", Format: "pdf"})
	if err != nil || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("sync pdf: %v %.20q", err, body)
	}
	pdf, _ := twoPagePDF(t)
	data, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	task, err := ts.client.Submit(ctx, "a.pdf", bytes.NewReader(data), api.Options{Model: "synthetic:1MiB"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(task.Formats, "pdf") {
		t.Fatalf("default formats of a PDF task %v lack pdf", task.Formats)
	}
	if fin, err := ts.client.Wait(ctx, task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("task: %+v %v", fin, err)
	}
	var out bytes.Buffer
	if err := ts.client.Result(ctx, task.ID, "pdf", &out); err != nil || !bytes.HasPrefix(out.Bytes(), []byte("%PDF-")) {
		t.Fatalf("pdf result: %v", err)
	}
	file := filepath.Join(t.TempDir(), "x.pdf")
	if _, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", writePNG(t, t.TempDir(), "a.png", 400, 300), "-o", file); err != nil {
		t.Fatalf("lector ocr -o x.pdf on synthetic: %v %s", err, stderr)
	}
	if txt, err := exec.Command("pdftotext", file, "-").Output(); err != nil || !strings.Contains(string(txt), "synthetic page 1") {
		t.Fatalf("the PDF's text layer: %v %q", err, txt)
	}
}

// TestCatalogListsEveryEngine: the catalog comes from the engines, so the
// structure model is in it, with where it runs and what it makes.
func TestCatalogListsEveryEngine(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	out, _, err := run(t, testEnv(), "models", "--local", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var models []api.ModelInfo
	if err := json.Unmarshal([]byte(out), &models); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	byName := map[string]api.ModelInfo{}
	for _, m := range models {
		byName[m.Name] = m
	}
	for _, name := range []string{"tesseract:eng", "structure:default"} {
		m, ok := byName[name]
		if !ok {
			t.Fatalf("%s missing from %s", name, out)
		}
		if !slices.Equal(m.Devices, []string{"cpu"}) || !slices.Contains(m.Formats, "pdf") || m.LoadBytes == 0 || m.DiskBytes == 0 {
			t.Errorf("%s: %+v", name, m)
		}
	}
	if _, ok := byName["synthetic:SIZE[,ws=SIZE][,gpu=SIZE][,gws=SIZE][,t=DURATION][,load=DURATION]"]; ok {
		t.Error("the synthetic engine is listed without --enable-synthetic")
	}
	ts := startServer(t)
	got, err := ts.client.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got.Catalog, func(m api.ModelInfo) bool { return m.Name == "structure:default" }) {
		t.Fatalf("GET /v1/models catalog lacks structure:default: %+v", got.Catalog)
	}
}

// TestGPURuntimeOnStandInDriver is bench/gpu-check.sh's scenario through a
// real `lector serve` and real runner processes, on a stand-in NVIDIA
// driver (cudatest: a 2 GiB GPU whose memory is the runners' own, as its
// NVML reports it), so that CI, which has no GPU, runs the GPU half of the
// runtime end to end: discovery by NVML, the runner's view of its GPU by
// UUID, memory returned after unload, a task that does not fit beside
// another falling back to the CPU, an idle GPU instance evicted for room,
// the GPU peak sampled, and Tesseract kept on the CPU.
func TestGPURuntimeOnStandInDriver(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	fake := cudatest.Build(t, 2<<30)
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--enable-synthetic",
		"--nvml-library", fake.NVML, "--memory-poll", "100ms")
	cmd.Env = append(os.Environ(), TestMainEnv+"=1")
	for k, v := range fake.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := startCommand(t, cmd)
	c, ctx := p.client, t.Context()

	var sys struct {
		Devices []struct {
			ID   string `json:"id"`
			UUID string `json:"uuid"`
		} `json:"devices"`
	}
	if err := c.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	if len(sys.Devices) != 2 || sys.Devices[1].ID != "cuda:0" || sys.Devices[1].UUID != cudatest.UUID {
		t.Fatalf("devices %+v, want cpu and the stand-in cuda:0", sys.Devices)
	}

	// Loaded on cuda:0, the runner holds its device bytes; unloaded, they
	// are gone with its process.
	held := "synthetic:8MiB,gpu=128MiB"
	m, err := c.Load(ctx, held, api.LoadRequest{Device: "cuda:0", KeepAlive: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	pid := m.Loaded[0].Pid
	if got := fake.Used()[pid]; got != 128<<20+cudatest.ContextBytes {
		t.Fatalf("runner %d holds %d MiB of GPU memory, want 128 + the context's 64", pid, got>>20)
	}
	if _, err := c.Unload(ctx, held, "cuda:0"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if used := fake.Used(); len(used) != 0 {
		t.Fatalf("GPU memory still held after unload: %v", used)
	}

	// A holds 600 MiB of the GPU and the context's 64 (in use once loaded;
	// its reservation then keeps its working set alone) and runs until
	// cancelled; B, 1100 MiB and the context's documented 512, does not fit
	// beside it (664 + 1612 over the critical line, 1945 MiB) and falls
	// back to the CPU at once. (One as large as A would fit beside it now
	// that A's load is counted once, and wait for the GPU's one lane.)
	page := grayPNG(t, 1000, 1000)
	a, err := c.Submit(ctx, "a.png", bytes.NewReader(page), api.Options{Model: "synthetic:8MiB,gpu=600MiB,t=1h", Formats: "json"})
	if err != nil {
		t.Fatal(err)
	}
	p.logs.waitFor(t, 0, `task working.*task=`+a.ID+`|task=`+a.ID+`.*task working`)
	b, err := c.Submit(ctx, "b.png", bytes.NewReader(page), api.Options{Model: "synthetic:8MiB,gpu=1100MiB", Formats: "json"})
	if err != nil {
		t.Fatal(err)
	}
	bt, err := c.Wait(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bt.Status != "succeeded" || bt.Resources == nil || bt.Resources.Device != "cpu" || !bt.Resources.Fallback {
		t.Fatalf("second task: %s %+v %+v, want succeeded on the CPU as a fallback", bt.Status, bt.Resources, bt.Error)
	}
	if _, err := c.Cancel(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if at, err := c.Wait(ctx, a.ID); err != nil || at.Status != "canceled" {
		t.Fatalf("first task: %+v %v", at, err)
	}

	// A's instance is idle on the GPU with its 664 MiB; C (1000 MiB and the
	// context's 512 reserved) needs the room and gets it: A's instance is
	// evicted, C runs on cuda:0, its peak sampled.
	m, err = c.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idlePid int
	for _, in := range m.Loaded {
		if in.Device == "cuda:0" {
			idlePid = in.Pid
		}
	}
	if idlePid == 0 {
		t.Fatalf("no idle instance on cuda:0: %+v", m.Loaded)
	}
	p.logs.mu.Lock()
	from := len(p.logs.lines)
	p.logs.mu.Unlock()
	ct, err := c.Submit(ctx, "c.png", bytes.NewReader(page), api.Options{Model: "synthetic:8MiB,gpu=1000MiB,gws=100MiB,t=1s", Device: "cuda:0", Formats: "json"})
	if err != nil {
		t.Fatal(err)
	}
	if ct, err = c.Wait(ctx, ct.ID); err != nil {
		t.Fatal(err)
	}
	r := ct.Resources
	if ct.Status != "succeeded" || r == nil || r.Device != "cuda:0" || r.Fallback {
		t.Fatalf("third task: %s %+v %+v, want succeeded on cuda:0", ct.Status, r, ct.Error)
	}
	p.logs.waitFor(t, from, `model unloaded.*pid=`+strconv.Itoa(idlePid)+`.*reason=pressure`)
	// The page holds its 100 MiB for a second: samples every 100 ms see
	// the load, the context and the page together.
	if want := uint64(1000<<20 + 100<<20 + cudatest.ContextBytes); r.GPUEstimatedBytes == 0 || r.GPUPeakBytes < want || r.GPUSamples < 3 || r.EstimatedBytes == 0 {
		t.Fatalf("third task's memory: %+v, want a GPU estimate and a sampled GPU peak of at least %d MiB", r, want>>20)
	}

	// Tesseract, with a GPU right there, runs on the CPU.
	tt, err := c.Submit(ctx, "t.png", bytes.NewReader(textPNG(t, "Lector")), api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tt, err = c.Wait(ctx, tt.ID); err != nil || tt.Resources == nil || tt.Resources.Device != "cpu" || tt.Resources.Fallback {
		t.Fatalf("tesseract task: %+v %v", tt, err)
	}
}
