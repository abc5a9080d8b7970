package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/runner"
)

// TestRunnerEnvPerEngine: a Tesseract runner starts with OMP_THREAD_LIMIT=1
// and sees no GPU (read from the real process's environment); a runner for
// cuda:1 sees GPU 1 alone, by its UUID, and an engine that does not use
// OpenMP gets no OMP_THREAD_LIMIT.
func TestRunnerEnvPerEngine(t *testing.T) {
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

// TestUnsupportedFormatRefusedAtSubmission: a format the model's engine
// cannot make (a searchable PDF from the synthetic engine) is refused when
// the task is submitted, synchronously or not, and by `lector ocr` before
// anything runs; a PDF input's default formats then leave the PDF out.
func TestUnsupportedFormatRefusedAtSubmission(t *testing.T) {
	ts := startServer(t, "--enable-synthetic")
	ctx := t.Context()
	png := grayPNG(t, 20, 20)
	opts := api.Options{Model: "synthetic:1MiB", Formats: "txt,pdf"}
	_, err := ts.client.Submit(ctx, "a.png", bytes.NewReader(png), opts)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Code != "invalid_argument" || !strings.Contains(se.Message, "cannot make pdf") {
		t.Fatalf("submit: %v, want 400 invalid_argument saying the model cannot make pdf", err)
	}
	if _, _, err := ts.client.OCR(ctx, "a.png", bytes.NewReader(png), api.Options{Model: "synthetic:1MiB", Format: "pdf"}); !errors.As(err, &se) || se.Code != "invalid_argument" {
		t.Fatalf("sync: %v, want invalid_argument", err)
	}
	if list, err := ts.client.List(ctx, 10, ""); err != nil || len(list.Tasks) != 0 {
		t.Fatalf("refused submissions left tasks: %+v %v", list, err)
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
	if slices.Contains(task.Formats, "pdf") {
		t.Fatalf("default formats of a synthetic PDF task %v include pdf", task.Formats)
	}
	_, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", "--format", "pdf", "-o", t.TempDir()+"/x.pdf", writePNG(t, t.TempDir(), "a.png", 10, 10))
	if err == nil || !strings.Contains(stderr+err.Error(), "cannot make pdf") {
		t.Fatalf("lector ocr --format pdf on synthetic: %v %s", err, stderr)
	}
}

// TestCatalogListsEveryEngine: the catalog comes from the engines, so the
// structure model is in it, with where it runs and what it makes.
func TestCatalogListsEveryEngine(t *testing.T) {
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
