package runner_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/lector-ocr/lector/internal/cli"
	"github.com/lector-ocr/lector/internal/cuda"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/runner"
)

const (
	asMainEnv   = cli.TestMainEnv
	asParentEnv = "LECTOR_TEST_AS_PARENT"
)

// TestMain lets the test binary stand in for the lector binary (runners are
// started through the same cli.Run as in production) and for a parent that
// starts a runner and is then killed.
func TestMain(m *testing.M) {
	cli.MaybeRunAsMain()
	switch {
	case os.Getenv(asParentEnv) != "":
		l := launcher(os.Getenv(asParentEnv))
		p, err := l.Launch(context.Background(), runner.Spec{Model: "synthetic:10MiB", Device: "cpu", Slots: 1})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("runner", p.Pid(), p.Dir())
		select {}
	}
	goleak.VerifyTestMain(m)
}

func launcher(dir string) *runner.Launcher {
	return &runner.Launcher{
		Exe: os.Args[0],
		Env: append(os.Environ(), asMainEnv+"=1", "LECTOR_ENABLE_SYNTHETIC=1"),
		Dir: dir,
	}
}

func launch(t testing.TB, model string, slots int) (*runner.Process, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := launcher(dir).Launch(ctx, runner.Spec{Model: model, Device: "cpu", Slots: slots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); <-p.Done() })
	return p, dir
}

func page(n int) engine.Image {
	return engine.Image{Number: n, Width: 1000, Height: 1000, Format: "gray8"}
}

func TestRunnerProcessesPagesAndStops(t *testing.T) {
	t.Parallel()
	p, _ := launch(t, "synthetic:20MiB", 2)
	if fi, err := os.Stat(p.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory %s: %v %v, want mode 0700", p.Dir(), fi.Mode(), err)
	}
	if err := p.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The runner is the process the kernel's OOM killer takes first.
	own, _ := os.ReadFile("/proc/self/oom_score_adj")
	its, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", p.Pid()))
	if a, b := strings.TrimSpace(string(own)), strings.TrimSpace(string(its)); b == "" || atoi(b) <= atoi(a) && atoi(a) < 1000 {
		t.Fatalf("runner oom_score_adj %q, server's %q: want the runner's higher", b, a)
	}
	got, err := p.Process(t.Context(), page(3), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if txt := got.Text(); txt != "synthetic page 3\n1000x1000" || got.Engine != "synthetic:20MiB" {
		t.Fatalf("page text %q from %q", txt, got.Engine)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.ExitErr(); err != nil {
		t.Fatalf("graceful stop exited with %v", err)
	}
	if _, err := os.Stat(p.Dir()); !os.IsNotExist(err) {
		t.Fatalf("socket directory left behind: %v", err)
	}
}

// TestRunnerCarriesThePagesText: a page's own text (a PDF page read from
// its text layer) reaches the engine beside the image, both whole, however
// many words it has (more than a request header could hold).
func TestRunnerCarriesThePagesText(t *testing.T) {
	t.Parallel()
	p, _ := launch(t, "synthetic:10MiB", 1)
	im := page(2)
	im.Data = bytes.Repeat([]byte{7}, 12345)
	im.Text = &result.Page{Width: 1000, Height: 1000, Source: result.SourceText}
	var line result.Line
	for i := range 40000 { // ~2 MB gob-encoded
		line.Words = append(line.Words, result.Word{Text: "Il1O0-" + strconv.Itoa(i), Box: result.Box{X0: i, X1: i + 1, Y1: 9}, Confidence: 100})
	}
	im.Text.Blocks = []result.Block{{Type: result.BlockText, Paragraphs: []result.Paragraph{{Lines: []result.Line{line}}}}}
	got, err := p.Process(t.Context(), im, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Blocks) != 2 {
		t.Fatalf("%d blocks, want the text's and the engine's", len(got.Blocks))
	}
	words := got.Blocks[0].Paragraphs[0].Lines[0].Words
	if len(words) != 40000 || words[39999].Text != "Il1O0-39999" || words[39999].Box.X1 != 40000 {
		t.Fatalf("the text arrived with %d words, the last %+v", len(words), words[len(words)-1])
	}
	if txt := got.Blocks[1].Words(); !strings.HasSuffix(txt, "image 12345 bytes") {
		t.Fatalf("engine's block %q, want the image's 12345 bytes", txt)
	}
}

func TestRunnerCrashInUseIsEngineCrashed(t *testing.T) {
	t.Parallel()
	p, _ := launch(t, "synthetic:10MiB", 1)
	_, err := p.Process(t.Context(), page(1), engine.Options{Params: map[string]string{"crash": "1"}})
	if errcode.Of(err) != errcode.EngineCrashed {
		t.Fatalf("err = %v (code %q), want engine_crashed", err, errcode.Of(err))
	}
	<-p.Done()
	if !strings.Contains(p.ExitErr().Error(), "killed") {
		t.Fatalf("exit = %v, want killed by a signal", p.ExitErr())
	}
	if _, err := os.Stat(p.Dir()); !os.IsNotExist(err) {
		t.Fatal("a crashed runner's socket directory was left behind")
	}
}

func TestRunnerEngineErrorKeepsItsCode(t *testing.T) {
	t.Parallel()
	p, _ := launch(t, "synthetic:10MiB", 1)
	_, err := p.Process(t.Context(), page(1), engine.Options{Params: map[string]string{"fail": "1"}})
	if errcode.Of(err) != errcode.InvalidDocument {
		t.Fatalf("err = %v, want invalid_document", err)
	}
	if _, err := p.Process(t.Context(), page(2), engine.Options{}); err != nil {
		t.Fatalf("runner unusable after a page error: %v", err)
	}
}

// A load the engine refuses with a code of its own keeps that code across
// the process boundary (not a retryable model_load_failed), with its cause.
func TestRunnerLoadFailureKeepsEngineCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := launcher(dir).Launch(t.Context(), runner.Spec{Model: "synthetic:lots", Device: "cpu", Slots: 1})
	if errcode.Of(err) != errcode.UnknownModel || !strings.Contains(err.Error(), "bad size") {
		t.Fatalf("err = %v, want unknown_model naming the cause", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

// The GPU instrument on a machine without NVIDIA's driver: the runner
// refuses cleanly with device_unavailable naming the library.
func TestSyntheticGPUWithoutDriverIsDeviceUnavailable(t *testing.T) {
	t.Parallel()
	if _, err := cuda.Open(); err == nil {
		t.Skip("this machine has a CUDA driver: the refusal cannot happen here (bench/gpu-check.sh exercises the GPU)")
	}
	_, err := launcher(t.TempDir()).Launch(t.Context(), runner.Spec{Model: "synthetic:1MiB,gpu=1MiB", Device: "cuda:0", Slots: 1})
	if errcode.Of(err) != errcode.DeviceUnavailable || !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Fatalf("err = %v, want device_unavailable naming libcuda.so.1", err)
	}
}

// A load that fails with no code of the engine's (here, memory the kernel
// will not map) is model_load_failed, worth another try, with its cause.
func TestRunnerLoadFailureIsModelLoadFailed(t *testing.T) {
	t.Parallel()
	_, err := launcher(t.TempDir()).Launch(t.Context(), runner.Spec{Model: "synthetic:1000000GiB", Device: "cpu", Slots: 1})
	if errcode.Of(err) != errcode.ModelLoadFailed || !strings.Contains(err.Error(), "allocating") {
		t.Fatalf("err = %v, want model_load_failed naming the cause", err)
	}
}

func TestRunnerCancelledRequestFreesItsSlot(t *testing.T) {
	t.Parallel()
	p, _ := launch(t, "synthetic:10MiB,t=1h", 1)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := p.Process(ctx, page(1), engine.Options{}); errc <- err }()
	cancel()
	if err := <-errc; errcode.Of(err) != errcode.Canceled {
		t.Fatalf("err = %v, want canceled", err)
	}
	// The single slot must be free again: a zero-size page finishes at once.
	if _, err := p.Process(t.Context(), engine.Image{Number: 2}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestRunnerDiesWithItsParent kills a parent process with SIGKILL and
// watches its runner exit through a pidfd.
func TestRunnerDiesWithItsParent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := launcher(dir)
	parent := cmdWithEnv(cmd.Exe, asParentEnv+"="+dir)
	out, _ := parent.StdoutPipe()
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("parent said nothing")
	}
	f := strings.Fields(sc.Text())
	if len(f) != 3 || f[0] != "runner" {
		t.Fatalf("parent said %q", sc.Text())
	}
	pid, _ := strconv.Atoi(f[1])
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	_ = parent.Process.Kill()
	_ = parent.Wait()
	// The pidfd is readable when the runner has exited. Poll is interrupted
	// by signals (the Go runtime's own, to preempt goroutines): it is
	// called again for the time left.
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll(fds, int(max(time.Until(deadline).Milliseconds(), 0)))
		if err == unix.EINTR && time.Now().Before(deadline) {
			continue
		}
		if err != nil || n != 1 {
			t.Fatalf("runner %d still alive 10s after its parent was killed (%v)", pid, err)
		}
		return
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
