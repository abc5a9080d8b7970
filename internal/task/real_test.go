package task_test

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/cli"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/synthetic"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/runner"
	"github.com/lector-ocr/lector/internal/task"
)

func TestMain(m *testing.M) {
	cli.MaybeRunAsMain()
	goleak.VerifyTestMain(m)
}

type blank struct{ w, h int }

func (b blank) NumPages() int           { return 1 }
func (b blank) PageSize(int) (int, int) { return b.w, b.h }
func (b blank) Page(_ context.Context, i int, _ string) (engine.Image, error) {
	return engine.Image{Number: i + 1, Width: b.w, Height: b.h}, nil
}

// realRuntime wires a runtime on real runner processes and the real CPU.
func realRuntime(t *testing.T) (*task.Runtime, *model.Manager) { return realRuntimeB(t) }

func realRuntimeB(t testing.TB) (*task.Runtime, *model.Manager) {
	t.Helper()
	mon := memory.NewMonitor(memory.MonitorOptions{
		Probes:     []memory.DeviceProbe{{Device: "cpu", Probe: memory.NewCPUProbe("")}},
		Thresholds: memory.Thresholds{Warning: 0.8, Critical: 0.95, Emergency: 0.98, Hysteresis: 0.05},
	})
	work := t.TempDir()
	models := model.NewManager(model.Options{
		Launcher: model.ProcessLauncher{Launcher: &runner.Launcher{
			Exe: os.Args[0], Env: append(os.Environ(), cli.TestMainEnv+"=1"), Dir: work + "/runners",
			RunnerArgs: []string{"--enable-synthetic"},
		}, Slots: func(string) int { return 1 }},
		KeepAlive: time.Minute, LoadTimeout: 30 * time.Second,
	})
	adm := admission.New(admission.Options{Monitor: mon, Evictor: models, Critical: 0.95, Wait: time.Minute})
	t.Cleanup(func() {
		adm.Stop(context.Background())
		_ = models.Stop(context.Background())
	})
	rt := task.New(task.Config{
		Models: models, Pool: pool.New([]pool.Service{{Device: "cpu", Lanes: 1}}, 10, nil), Admission: adm,
		Semaphores: admission.NewSemaphores(nil),
		Estimator: admission.Estimator{Documented: func(m string, k device.Kind) (admission.Footprint, error) {
			f, err := synthetic.Engine{}.Estimate(m[len("synthetic:"):], k)
			return admission.FootprintOf(f), err
		}},
		Devices: []device.Device{{ID: "cpu", Kind: device.CPU}}, WorkDir: work,
	})
	return rt, models
}

// TestTracksActualPeakOfAPage: a page with a 200 MiB working set on a
// resident model is recorded with an actual peak within 15 % of 200 MiB,
// beside its estimate and the estimate's error.
func TestTracksActualPeakOfAPage(t *testing.T) {
	t.Parallel()
	rt, models := realRuntime(t)
	const m = "synthetic:10MiB,ws=200MiB"
	if err := models.Load(t.Context(), m, "cpu", time.Minute); err != nil {
		t.Fatal(err)
	}
	res, err := rt.Run(t.Context(), blank{1000, 1000}, task.Options{Model: m, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Resources
	const want = 200 << 20
	if math.Abs(float64(r.PeakBytes)-want)/want > 0.15 {
		t.Fatalf("actual peak %d MiB, want within 15%% of 200 MiB", r.PeakBytes>>20)
	}
	if r.EstimatedBytes != want {
		t.Fatalf("estimate %d MiB, want the documented 200 MiB (resident model, one 1 MP page)", r.EstimatedBytes>>20)
	}
	if wantErr := (float64(r.EstimatedBytes) - float64(r.PeakBytes)) / float64(r.PeakBytes); r.EstimateError != wantErr {
		t.Fatalf("estimate error %v, want %v", r.EstimateError, wantErr)
	}
	if err := rt.Quiescent(); err != nil {
		t.Fatal(err)
	}
	t.Logf("estimated %d MiB, actual %d MiB, error %.3f", r.EstimatedBytes>>20, r.PeakBytes>>20, r.EstimateError)
}

type dataDoc struct{ data []byte }

func (d dataDoc) NumPages() int           { return 1 }
func (d dataDoc) PageSize(int) (int, int) { return 1000, 1000 }
func (d dataDoc) Page(_ context.Context, i int, _ string) (engine.Image, error) {
	return engine.Image{Number: i + 1, Width: 1000, Height: 1000, Format: "gray8", Data: d.data}, nil
}

// BenchmarkRuntimePerPage is the whole runtime's overhead for one page of
// 1 megapixel (1 MB sent to the runner) on a resident zero-time synthetic
// model: workspace, estimate, admission (with a memory probe), semaphore,
// lease, lane, IPC and cleanup.
func BenchmarkRuntimePerPage(b *testing.B) {
	rt, models := realRuntimeB(b)
	const m = "synthetic:1MiB"
	if err := models.Load(context.Background(), m, "cpu", time.Hour); err != nil {
		b.Fatal(err)
	}
	doc := dataDoc{data: make([]byte, 1000*1000)}
	for b.Loop() {
		if _, err := rt.Run(context.Background(), doc, task.Options{Model: m, Device: "cpu"}); err != nil {
			b.Fatal(err)
		}
	}
}
