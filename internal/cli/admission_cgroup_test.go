package cli

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/evaldata"
	"github.com/lector-ocr/lector/internal/memory/memtest"
)

// TestTasksThatFitAloneSucceedIn512MiB runs `lector serve` in a 512 MiB
// memory cgroup (where a lone structure task used to wait out
// --critical-wait and fail with 19 MiB used): ten OCR tasks and a
// structure task on a 300-dpi PDF page, submitted at once, each of which
// fits alone, all succeed — serially where need be — with no process
// OOM-killed; and a task that truly cannot fit (a 600 MiB model) is
// refused at once as one the node can never hold, not after a wait.
//
// It measures Lector's memory, so it runs without the race detector (make
// test runs it a second time so): with it, the runners' Go allocations
// cost more (the structure task peaked at 349–367 MiB against 206–237, an
// estimate of 254) and the cgroup OOM-killed a process in one clean-clone
// run of five.
func TestTasksThatFitAloneSucceedIn512MiB(t *testing.T) {
	if raceDetector {
		t.Skip("skipping under the race detector: its shadow memory inflates the runners' memory 1.6×, and this test measures Lector's own in a 512 MiB cgroup; make test runs it again without -race")
	}
	t.Parallel()
	needTesseract(t)
	var inputs [][]byte
	for _, p := range [][]string{
		{"lines", "010001.bin.png"}, {"lines", "010002.bin.png"}, {"lines", "010003.bin.png"},
		{"tables", "PMC1626454_002_00.png"}, {"tables", "PMC2753619_002_00.png"},
		{"tables-icdar13", "eu-001_01.png"}, {"tables-icdar13", "eu-001_02.png"},
		{"scene", "images", "cnocr-multi-line_en_black.png"}, {"scene", "images", "ic15-img_1.jpg"},
		{"pages", "linn.png"},
	} {
		b, err := os.ReadFile(evaldata.Path(t, p...))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	pdf, err := os.ReadFile(evaldata.Path(t, "pdfs", "background-checks.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	p, cg := serveIn512MiB(t, "--enable-synthetic", "--critical-wait", "20s")
	ctx := t.Context()

	var ids []string
	for i, b := range inputs {
		task, err := p.client.Submit(ctx, "page"+string(rune('a'+i))+".png", bytes.NewReader(b), api.Options{Model: "tesseract:eng"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	st, err := p.client.Submit(ctx, "doc.pdf", bytes.NewReader(pdf), api.Options{Pipeline: "structure", Model: "structure:default"})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, st.ID)
	for _, id := range ids {
		fin, err := p.client.Wait(ctx, id)
		if err != nil || fin.Status != "succeeded" {
			t.Fatalf("task %s: %+v (%+v) %v\n%s", id, fin, fin.Error, err, p.logs)
		}
		if r := fin.Resources; r != nil {
			t.Logf("%s %s: estimated %d MiB, peak %d MiB", fin.Pipeline, fin.Filename, r.EstimatedBytes>>20, r.PeakBytes>>20)
		}
	}
	huge, err := p.client.Submit(ctx, "page.png", bytes.NewReader(grayPNG(t, 100, 100)), api.Options{Model: "synthetic:600MiB"})
	if err != nil {
		t.Fatal(err)
	}
	fin, err := p.client.Wait(ctx, huge.ID)
	if err != nil || fin.Status != "failed" || fin.Error == nil || fin.Error.Code != "insufficient_memory" || !strings.Contains(fin.Error.Message, "can ever hold") {
		t.Fatalf("a task that can never fit: %+v (%+v) %v", fin, fin.Error, err)
	}
	if n := cg.OOMKills(); n != 0 {
		t.Fatalf("%d processes OOM-killed in the cgroup", n)
	}
}

// TestTaskWaitingForOthersMemoryGoesBackToTheQueue: in a real 512 MiB
// cgroup, a task that does not fit beside another task's reservation
// waits --critical-wait and, the memory still held by that task, goes
// back to the queue without spending an attempt (admission.ErrBusy,
// service.MaxBusyRequeues) rather than failing: once the other task has
// ended it runs and succeeds on its first attempt. Before, it failed with
// "no memory on cpu within 1s", final, though it fitted alone (a user's
// trial, behind a 7-page PDF in a 768 MiB cgroup).
func TestTaskWaitingForOthersMemoryGoesBackToTheQueue(t *testing.T) {
	if raceDetector {
		t.Skip("skipping under the race detector: this test measures Lector's memory in a 512 MiB cgroup; make test runs it again without -race")
	}
	t.Parallel()
	// One megapixel at 4 s a megapixel: the first holds its 300 MiB for 4 s.
	p, first, second, cg := overlapIn512MiB(t, "synthetic:300MiB,t=4s", "synthetic:250MiB", "--critical-wait", "1s", "--max-attempts", "1")
	ctx := t.Context()
	for _, id := range []string{first.ID, second.ID} {
		fin, err := p.client.Wait(ctx, id)
		if err != nil || fin.Status != "succeeded" || fin.Attempts != 1 {
			t.Fatalf("task %s: %s after %d attempts (%+v) %v, want succeeded after 1 (max attempts 1)\n%s", id, fin.Status, fin.Attempts, fin.Error, err, p.logs)
		}
	}
	if !regexp.MustCompile(`task returned to the queue: memory is held by other tasks.*task=` + second.ID).MatchString(p.logs.String()) {
		t.Fatalf("the second task never waited for the first's memory (it fitted beside it: the test proves nothing)\n%s", p.logs)
	}
	if n := cg.OOMKills(); n != 0 {
		t.Fatalf("%d processes OOM-killed in the cgroup", n)
	}
}

// TestLoadedModelIsCountedOnceIn512MiB: a running task's model, once
// loaded, is counted once — in the cgroup's used memory — not again in the
// task's reservation, so a second task that fits beside it runs at once.
// With the load counted twice (200 MiB in use and 200 MiB reserved, plus
// the second's 150 MiB and the server's own, over the 486 MiB critical
// line) the second would wait for the first to end.
func TestLoadedModelIsCountedOnceIn512MiB(t *testing.T) {
	if raceDetector {
		t.Skip("skipping under the race detector: this test measures Lector's memory in a 512 MiB cgroup; make test runs it again without -race")
	}
	t.Parallel()
	// One megapixel at 4 s a megapixel: the first holds its 200 MiB for 4 s.
	p, first, second, cg := overlapIn512MiB(t, "synthetic:200MiB,t=4s", "synthetic:150MiB", "--critical-wait", "1m", "--max-attempts", "1")
	ctx := t.Context()
	fins := map[string]*api.Task{}
	for _, id := range []string{second.ID, first.ID} {
		fin, err := p.client.Wait(ctx, id)
		if err != nil || fin.Status != "succeeded" || fin.FinishedAt == nil {
			t.Fatalf("task %s: %s (%+v) %v, want succeeded\n%s", id, fin.Status, fin.Error, err, p.logs)
		}
		fins[id] = fin
	}
	if !fins[second.ID].FinishedAt.Before(*fins[first.ID].FinishedAt) {
		t.Fatalf("the second task finished at %s, after the first (%s): it waited for memory the first's reservation counted twice\n%s",
			fins[second.ID].FinishedAt, fins[first.ID].FinishedAt, p.logs)
	}
	if n := cg.OOMKills(); n != 0 {
		t.Fatalf("%d processes OOM-killed in the cgroup", n)
	}
}

// overlapIn512MiB starts `lector serve` (synthetic models, flags added) in
// a 512 MiB memory cgroup (serveIn512MiB), submits a one-megapixel page to firstModel,
// and, once that task is working, a small page to secondModel. It returns
// the server, the two tasks and the cgroup.
func overlapIn512MiB(t *testing.T, firstModel, secondModel string, flags ...string) (*serverProcess, *api.Task, *api.Task, *memtest.Cgroup) {
	t.Helper()
	p, cg := serveIn512MiB(t, append([]string{"--enable-synthetic"}, flags...)...)
	ctx := t.Context()
	first, err := p.client.Submit(ctx, "first.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: firstModel})
	if err != nil {
		t.Fatal(err)
	}
	p.logs.waitFor(t, 0, `msg="task working".*task=`+first.ID)
	second, err := p.client.Submit(ctx, "second.png", bytes.NewReader(grayPNG(t, 100, 100)), api.Options{Model: secondModel})
	if err != nil {
		t.Fatal(err)
	}
	return p, first, second, cg
}

// TestPPOCRRunsInAFresh512MiBServer: the first PP-OCR task of a fresh
// server in a 512 MiB cgroup — a 300 dpi page, the model not loaded — is
// admitted and succeeds with no OOM kill. With the documented load at 320
// MiB (a runner measures ~100), its estimate (604 MiB) was over the
// critical line (486 MiB) and the task was refused at once as more than
// the node could ever hold (a user's trial, 517 MiB for a 150 dpi page).
func TestPPOCRRunsInAFresh512MiBServer(t *testing.T) {
	if raceDetector {
		t.Skip("skipping under the race detector: this test measures Lector's memory in a 512 MiB cgroup; make test runs it again without -race")
	}
	t.Parallel()
	page, err := os.ReadFile(evaldata.Path(t, "pages", "linn.png"))
	if err != nil {
		t.Fatal(err)
	}
	p, cg := serveIn512MiB(t)
	ctx := t.Context()
	task, err := p.client.Submit(ctx, "linn.png", bytes.NewReader(page), api.Options{Model: "ppocr:v4"})
	if err != nil {
		t.Fatal(err)
	}
	fin, err := p.client.Wait(ctx, task.ID)
	if err != nil || fin.Status != "succeeded" || fin.Resources == nil {
		t.Fatalf("the first PP-OCR task in a fresh 512 MiB server: %+v (%+v) %v\n%s", fin, fin.Error, err, p.logs)
	}
	t.Logf("estimated %d MiB, peak %d MiB", fin.Resources.EstimatedBytes>>20, fin.Resources.PeakBytes>>20)
	if n := cg.OOMKills(); n != 0 {
		t.Fatalf("%d processes OOM-killed in the cgroup", n)
	}
}

// serveIn512MiB starts `lector serve` (a fresh data directory, flags
// added) in a 512 MiB memory cgroup and returns it and the cgroup.
func serveIn512MiB(t *testing.T, flags ...string) (*serverProcess, *memtest.Cgroup) {
	t.Helper()
	cg := memtest.New(t, 512<<20)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...)
	cmd := cg.Command(os.Args[0], args...)
	cmd.Env = append(cmd.Env, TestMainEnv+"=1", "OMP_THREAD_LIMIT=1")
	return startCommand(t, cmd), cg
}
