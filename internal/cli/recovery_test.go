package cli

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pdfapi "github.com/pdfcpu/pdfcpu/pkg/api"
	"golang.org/x/sys/unix"

	"github.com/lector-ocr/lector/internal/api"
)

// serverProcess is `lector serve` as a real process (this test binary
// standing in for lector), so it can be killed and signalled.
type serverProcess struct {
	cmd    *exec.Cmd
	client *api.Client
	logs   *logWatch
	exited chan struct{} // closed when the process has exited; then err is its status
	err    error
}

// wait returns the process's exit status once it has exited.
func (p *serverProcess) wait() error {
	<-p.exited
	return p.err
}

func startProcess(t *testing.T, dataDir string, args ...string) *serverProcess {
	t.Helper()
	return startProcessEnv(t, dataDir, nil, args...)
}

// startProcessEnv is startProcess with env added to the server's
// environment (a later entry overrides an earlier one of the same name).
func startProcessEnv(t *testing.T, dataDir string, env []string, args ...string) *serverProcess {
	t.Helper()
	argv := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--enable-synthetic"}, args...)
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(append(os.Environ(), TestMainEnv+"=1", "OMP_THREAD_LIMIT=1"), env...)
	return startCommand(t, cmd)
}

// stuckRenderer puts a `pdftoppm` first on a PATH it returns: a renderer
// busy with a page for an hour, that first writes its pid to the FIFO it
// also returns (opening the FIFO blocks until a reader comes). It is the
// real process tree a server makes while it renders — prlimit exec'ing
// pdftoppm — with a page that never ends, so a test can kill the server
// mid-render without a race.
func stuckRenderer(t *testing.T) (path, fifo string) {
	t.Helper()
	dir := t.TempDir()
	fifo = filepath.Join(dir, "renderer.pid")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho $$ > '" + fifo + "'\nexec sleep 3600\n"
	if err := os.WriteFile(filepath.Join(dir, "pdftoppm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH"), fifo
}

// readPid reads a pid from fifo, written once a process opens it; it fails
// the test if the server exits first or nothing comes in 60 s.
func readPid(t *testing.T, fifo string, p *serverProcess) int {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo) // blocks until the writer opens and closes it
		got <- strings.TrimSpace(string(b))
	}()
	select {
	case s := <-got:
		pid, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("renderer pid %q: %v", s, err)
		}
		return pid
	case <-p.exited:
		t.Fatalf("the server exited before it rendered: %v\n%s", p.err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("no renderer started in 60 s\n%s", p.logs)
	}
	return 0
}

// startCommand starts a prepared `lector serve` command (its stdout and
// stderr are taken over) and waits for its address.
func startCommand(t *testing.T, cmd *exec.Cmd) *serverProcess {
	t.Helper()
	p := &serverProcess{cmd: cmd, logs: newLogWatch(), exited: make(chan struct{})}
	cmd.Stderr = p.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		_ = cmd.Process.Kill()
		t.Fatalf("the server printed nothing: %v\n%s", cmd.Wait(), p.logs)
	}
	p.client = api.NewClient(strings.TrimPrefix(sc.Text(), "listening on "))
	go func() {
		for sc.Scan() {
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = p.wait()
	})
	return p
}

// runnerPids are the pids of the server's loaded instances.
func (p *serverProcess) runnerPids(t *testing.T) []int {
	t.Helper()
	m, err := p.client.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, in := range m.Loaded {
		if in.Pid != 0 {
			pids = append(pids, in.Pid)
		}
	}
	return pids
}

// waitGone waits, on a pidfd (a signal from the kernel, not a sleep), for
// pid to exit; a process still alive after 30 s is killed and fails the
// test.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd of %d: %v", pid, err)
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 30_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n != 1 {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			t.Fatalf("process %d outlived its server by 30 s (%v)", pid, err)
		}
		return
	}
}

// TestServerSurvivesSIGTERMAndSIGKILL: tasks are submitted; SIGTERM stops
// the server gracefully (exit 0, running tasks back in the queue); a second
// server is killed with SIGKILL mid-task; a third finishes every task, each
// exactly once; no runner outlives any server, no renderer (pdftoppm)
// outlives the server killed while it rendered a PDF's page, and leftovers
// are swept.
func TestServerSurvivesSIGTERMAndSIGKILL(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	ctx := t.Context()
	a := startProcess(t, dataDir, "--shutdown-timeout", "500ms")
	const model = "synthetic:8MiB,t=1500ms"
	var ids []string
	for range 6 {
		task, err := a.client.Submit(ctx, "p.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: model})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	a.logs.waitFor(t, 0, `msg="model loaded"`)
	pids := a.runnerPids(t)
	if len(pids) == 0 {
		t.Fatal("no runner while tasks run")
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.wait(); err != nil {
		t.Fatalf("after SIGTERM the server exited with %v, want 0\n%s", err, a.logs)
	}
	a.logs.waitFor(t, 0, `msg="task returned to the queue".*reason="node stopping"`)
	for _, pid := range pids {
		waitGone(t, pid)
	}

	// The second server renders PDFs with a pdftoppm that never finishes
	// its page: it is killed with a runner loaded and a renderer running.
	path, fifo := stuckRenderer(t)
	b := startProcessEnv(t, dataDir, []string{"PATH=" + path})
	if _, next := b.logs.waitFor(t, 0, `msg="tasks left running|msg="lector serving"`); next < 0 {
		t.Fatal("unreachable")
	}
	pdf, err := b.client.Submit(ctx, "scan.pdf", bytes.NewReader(imagePDF(t)), api.Options{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, pdf.ID)
	b.logs.waitFor(t, 0, `msg="task running"`)
	b.logs.waitFor(t, 0, `msg="model loaded"`)
	renderer := readPid(t, fifo, b)
	pids = append(b.runnerPids(t), renderer)
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = b.wait()
	for _, pid := range pids {
		waitGone(t, pid)
	}

	// Leftovers of a crash: a workspace and a runner socket directory.
	for _, d := range []string{"workspaces/stale-task", "runners/runner-stale"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c := startProcess(t, dataDir)
	c.logs.waitFor(t, 0, `msg="tasks left running by an earlier process returned to the queue"`)
	for _, d := range []string{"workspaces/stale-task", "runners/runner-stale"} {
		if _, err := os.Stat(filepath.Join(dataDir, d)); !os.IsNotExist(err) {
			t.Errorf("%s was not swept at start-up", d)
		}
	}
	for _, id := range ids {
		fin, err := c.client.Wait(ctx, id)
		if err != nil || fin.Status != "succeeded" {
			t.Fatalf("task %s: %+v %v", id, fin, err)
		}
		var out bytes.Buffer
		if err := c.client.Result(ctx, id, "txt", &out); err != nil || out.Len() == 0 {
			t.Fatalf("result of %s: %v", id, err)
		}
	}
	pids = c.runnerPids(t)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(); err != nil {
		t.Fatalf("the last server exited with %v", err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	// Exactly once: across the three servers' logs, each task succeeded once.
	all := a.logs.String() + "\n" + b.logs.String() + "\n" + c.logs.String()
	for _, id := range ids {
		n := len(regexp.MustCompile(`msg="task succeeded" task=`+id).FindAllString(all, -1))
		if n != 1 {
			t.Errorf("task %s succeeded %d times", id, n)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dataDir, "workspaces")); len(entries) != 0 {
		t.Errorf("%d workspaces left", len(entries))
	}
}

// imagePDF is a one-page PDF of a blank 600×400 gray image (a scan with no
// text of its own, so its page is rendered).
func imagePDF(t *testing.T) []byte {
	t.Helper()
	imp, err := pdfapi.Import("form:A6L, pos:c, sc:0.9 rel", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pdfapi.ImportImages(nil, &out, []io.Reader{bytes.NewReader(grayPNG(t, 600, 400))}, imp, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
