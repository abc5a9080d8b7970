package runner

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/obs"
	"github.com/lector-ocr/lector/internal/result"
)

// Launcher starts runner processes.
type Launcher struct {
	// Exe is the lector binary; Args go before "runner" and RunnerArgs after
	// its own flags (e.g. --enable-synthetic).
	Exe        string
	Args       []string
	RunnerArgs []string
	// Env is the child's base environment (os.Environ() in production).
	Env []string
	// EnvFor, when set, returns variables for one runner (its engine's
	// needs, the GPU it may see); they win over Env's.
	EnvFor func(spec Spec) []string
	// Dir is where each runner's private socket directory is made.
	Dir string
	Log *slog.Logger
}

// Spec says what a runner hosts.
type Spec struct {
	Model  string
	Device string
	Slots  int
}

// Process is a running runner, seen from the parent.
type Process struct {
	spec   Spec
	cmd    *exec.Cmd
	dir    string
	client *http.Client
	logp   atomic.Pointer[slog.Logger] // gains the pid once started

	done    chan struct{} // closed after Wait returned and the directory was removed
	exitErr error         // set before done is closed

	stopOnce sync.Once
}

// maxSocketPath is the longest path a Unix socket may have on Linux
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// Launch starts a runner and returns once it has printed its ready line. If
// ctx ends first, or the runner exits first, the runner is killed and an
// error returned (model_load_failed with the runner's last words).
func (l *Launcher) Launch(ctx context.Context, spec Spec) (*Process, error) {
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("runner: creating %s: %w", l.Dir, err)
	}
	// A Unix socket's path is limited to 107 bytes; a data directory deep
	// enough to exceed it gets its sockets in the temporary directory
	// instead (still private: 0700, removed when the runner exits).
	base := l.Dir
	if len(filepath.Join(base, "runner-0123456789", SocketName)) > maxSocketPath {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "runner-")
	if err != nil {
		return nil, fmt.Errorf("runner: creating socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	log := obs.Log(l.Log)
	args := append(append([]string(nil), l.Args...), "runner",
		"--model", spec.Model, "--device", spec.Device, "--slots", strconv.Itoa(max(spec.Slots, 1)),
		"--socket-dir", dir, "--parent-pid", strconv.Itoa(os.Getpid()))
	args = append(args, l.RunnerArgs...)
	cmd := exec.Command(l.Exe, args...)
	cmd.Env = l.Env
	if l.EnvFor != nil {
		cmd.Env = mergeEnv(l.Env, l.EnvFor(spec))
	}
	// Pdeathsig: the runner is killed when the thread that started it goes
	// away; Setpgid keeps a terminal's ^C from reaching it before the parent
	// has decided how to stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.WaitDelay = 2 * time.Second

	ready := make(chan string, 1)
	var loadErr atomic.Pointer[errcode.Error] // the engine's own error, from the runner's error line
	tail := &lastLines{max: 5}
	p := &Process{spec: spec, cmd: cmd, dir: dir, done: make(chan struct{})}
	p.logp.Store(log.With("model", spec.Model, "device", spec.Device))
	cmd.Stdout = &lineWriter{fn: func(line string) {
		if rest, ok := strings.CutPrefix(line, ReadyPrefix); ok {
			select {
			case ready <- rest:
			default:
			}
			return
		}
		if rest, ok := strings.CutPrefix(line, ErrorPrefix+" "); ok {
			var we wireError
			if json.Unmarshal([]byte(rest), &we) == nil && we.Code != "" {
				loadErr.Store(&errcode.Error{Code: errcode.Code(we.Code), Msg: we.Message})
			}
		}
		p.log().Info("runner output", "line", line)
	}}
	cmd.Stderr = &lineWriter{fn: func(line string) {
		tail.add(line)
		p.log().Info("runner output", "stream", "stderr", "line", line)
	}}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "starting runner for %s", spec.Model)
	}
	p.logp.Store(log.With("model", spec.Model, "device", spec.Device, "pid", cmd.Process.Pid))
	if err := raiseOOMScore(cmd.Process.Pid); err != nil {
		p.log().Warn("raising the runner's oom_score_adj", "err", err)
	}
	sock := dir + "/" + SocketName
	p.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 2*max(spec.Slots, 1) + 2,
		// Pages are megabytes: large buffers mean few syscalls per page.
		WriteBufferSize:    256 << 10,
		ReadBufferSize:     64 << 10,
		DisableCompression: true,
	}}
	go func() {
		err := cmd.Wait()
		p.exitErr = err
		_ = os.RemoveAll(dir)
		p.client.CloseIdleConnections()
		p.log().Info("runner exited", "status", exitStatus(err))
		close(p.done)
	}()

	select {
	case <-ready:
		p.log().Info("runner ready")
		return p, nil
	case <-p.done:
		// A load the engine refused for a reason of its own (no such
		// device, no such model) keeps that reason; anything else is a
		// failed load, worth another try.
		if e := loadErr.Load(); e != nil && e.Code != errcode.Internal && e.Code != errcode.ModelLoadFailed {
			return nil, e
		}
		return nil, errcode.Wrap(errcode.ModelLoadFailed, errors.New(tail.String()), "runner for %s exited before it was ready (%s)", spec.Model, exitStatus(p.exitErr))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-p.done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errcode.Wrap(errcode.ModelLoadFailed, ctx.Err(), "loading %s timed out", spec.Model)
		}
		return nil, ctx.Err()
	}
}

// mergeEnv returns base with extra's variables replacing those of the same
// name.
func mergeEnv(base, extra []string) []string {
	names := make(map[string]bool, len(extra))
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !names[k] {
			out = append(out, kv)
		}
	}
	for _, kv := range extra {
		if v, ok := strings.CutPrefix(kv, tunablesKey+"="); ok {
			kv = tunablesKey + "=" + joinTunables(lookup(base, tunablesKey), v)
		}
		out = append(out, kv)
	}
	return out
}

// tunablesKey is glibc's tunables variable: an engine's tunables (ppocr's
// one malloc arena, ppocr.Engine.RunnerEnv) join the operator's rather
// than replace them, and the operator's setting of a tunable wins.
const tunablesKey = "GLIBC_TUNABLES"

// joinTunables is GLIBC_TUNABLES' colon-separated name=value list of
// operator's, then those of engine's whose names it does not set.
func joinTunables(operator, engine string) string {
	set := map[string]bool{}
	var out []string
	for _, t := range strings.Split(operator, ":") {
		if t == "" {
			continue
		}
		name, _, _ := strings.Cut(t, "=")
		set[name] = true
		out = append(out, t)
	}
	for _, t := range strings.Split(engine, ":") {
		if name, _, _ := strings.Cut(t, "="); t != "" && !set[name] {
			out = append(out, t)
		}
	}
	return strings.Join(out, ":")
}

// lookup is key's value in env ("" when unset).
func lookup(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// Pid returns the runner's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Dir returns the runner's private socket directory.
func (p *Process) Dir() string { return p.dir }

// Done is closed once the runner has exited and its directory is removed.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the runner's exit error; valid after Done is closed.
func (p *Process) ExitErr() error {
	<-p.done
	return p.exitErr
}

// Process sends one page to the runner. A runner that dies meanwhile yields
// engine_crashed; ctx's end yields its error and the runner's slot is freed
// when the runner sees the request cancelled.
func (p *Process) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	var text []byte
	if im.Text != nil {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(im.Text); err != nil {
			return nil, fmt.Errorf("runner: encoding the page's text: %w", err)
		}
		text = b.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://runner/process", bytes.NewReader(im.Data))
	if err != nil {
		return nil, err
	}
	if len(text) > 0 { // the body is the image, then the text
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader(im.Data), bytes.NewReader(text))), nil
		}
		req.Body, _ = req.GetBody()
		req.ContentLength = int64(len(im.Data) + len(text))
	}
	wr, err := json.Marshal(wireRequest{Number: im.Number, Width: im.Width, Height: im.Height, Format: im.Format,
		DPI: im.DPI, Orientation: im.Orientation, TIFFPage: im.TIFFPage, PDFPage: im.PDFPage, Options: opts, TextBytes: len(text)})
	if err != nil {
		return nil, err
	}
	req.Header.Set(hdrRequest, string(wr))
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		var we wireError
		if json.Unmarshal(body, &we) != nil || we.Code == "" {
			return nil, errcode.New(errcode.Internal, "runner answered %s", resp.Status)
		}
		return nil, &errcode.Error{Code: errcode.Code(we.Code), Msg: we.Message}
	}
	var page result.Page
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&page); err != nil {
		return nil, fmt.Errorf("runner: decoding result: %w", err)
	}
	if page.Blocks == nil { // gob sends an empty slice as none; a page with no text has no blocks, not null ones
		page.Blocks = []result.Block{}
	}
	return &page, nil
}

// transportError tells a caller's cancellation from a runner's death: a
// broken connection is a crash once the process is seen to have exited.
func (p *Process) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		return errcode.Wrap(errcode.EngineCrashed, err, "the %s engine crashed (%s)", p.spec.Model, exitStatus(p.exitErr))
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errcode.Wrap(errcode.EngineCrashed, err, "the %s engine stopped answering", p.spec.Model)
	}
}

// Health asks the runner how it is.
func (p *Process) Health(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://runner/health", nil)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("runner health: %s", resp.Status)
	}
	return nil
}

// Stop asks the runner to shut down, waits until it exits or ctx ends, then
// kills it. It returns when the process has exited; it is idempotent and
// safe to call concurrently.
func (p *Process) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://runner/shutdown", nil)
		if resp, err := p.client.Do(req); err == nil {
			resp.Body.Close()
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			p.log().Warn("runner did not stop in time; killing it")
			_ = p.cmd.Process.Kill()
		}
	})
	<-p.done
	return nil
}

// Kill ends the runner at once.
func (p *Process) Kill() { _ = p.cmd.Process.Kill() }

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

// lineWriter calls fn for each complete line written to it.
type lineWriter struct {
	mu  sync.Mutex // guards buf
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a runaway line without newline
		w.fn(string(w.buf))
		w.buf = nil
	}
	return len(b), nil
}

// lastLines keeps the last few lines of a stream, for error messages.
type lastLines struct {
	mu    sync.Mutex // guards lines
	max   int
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > l.max {
		l.lines = l.lines[1:]
	}
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "no output"
	}
	return strings.Join(l.lines, "; ")
}

func (p *Process) log() *slog.Logger { return p.logp.Load() }

// RunnerOOMScoreAdj is how much more a runner's oom_score_adj is than its
// server's (capped at 1000, the most): under a host-level OOM the kernel
// kills a runner — whose task is retried — before the server that keeps
// every task's state.
const RunnerOOMScoreAdj = 500

// raiseOOMScore sets pid's oom_score_adj to this process's plus
// RunnerOOMScoreAdj. Raising it needs no privilege.
func raiseOOMScore(pid int) error {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return err
	}
	own, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(min(own+RunnerOOMScoreAdj, 1000))), 0)
}
