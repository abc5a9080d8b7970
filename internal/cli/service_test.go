package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	pdfapi "github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/lector-ocr/lector/internal/api"
	modelpkg "github.com/lector-ocr/lector/internal/model"
)

// logWatch collects a server's log lines and lets a test wait for one: the
// server's own report is the signal, never a sleep.
type logWatch struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// waitFor returns the first line (from line from on) that matches re, and
// the index after it.
func (l *logWatch) waitFor(t *testing.T, from int, re string) (string, int) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for {
		l.mu.Lock()
		for i := from; i < len(l.lines); i++ {
			if line := l.lines[i]; rx.MatchString(line) {
				l.mu.Unlock()
				return line, i + 1
			}
		}
		from = len(l.lines)
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatalf("the server never logged %q", re)
		}
	}
}

func (l *logWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// testServer is `lector serve` started through cli.Run, as the binary
// starts it, on :0 with a temporary data directory.
type testServer struct {
	base    string
	client  *api.Client
	dataDir string
	logs    *logWatch
	sig     *nodeSignals // what the test waits for (not the log)
	stop    func() error
}

func startServer(t *testing.T, args ...string) *testServer {
	t.Helper()
	return startServerIn(t, t.TempDir(), args...)
}

// startServerIn is startServer on the data directory dataDir.
func startServerIn(t *testing.T, dataDir string, args ...string) *testServer {
	t.Helper()
	ts := &testServer{dataDir: dataDir, logs: newLogWatch(), sig: &nodeSignals{}}
	ts.sig.unloaded.Init()
	ts.sig.working.Init()
	ts.sig.retained.Init()
	ts.sig.ended.Init()
	ctx, cancel := context.WithCancel(withSignals(context.Background(), ts.sig))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		argv := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", ts.dataDir}, args...)
		done <- Run(ctx, argv, testEnv(), strings.NewReader(""), pw, ts.logs)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("serve printed nothing: %v\n%s", <-done, ts.logs)
	}
	ts.base = strings.TrimPrefix(sc.Text(), "listening on ")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	ts.client = api.NewClient(ts.base)
	var once sync.Once
	var stopErr error
	ts.stop = func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	})
	return ts
}

// assertQuiescent checks from outside that nothing is held: no lane busy or
// queued, no reservation, no semaphore slot, no reference, no workspace.
func (ts *testServer) assertQuiescent(t *testing.T) {
	t.Helper()
	var sys struct {
		Devices []struct {
			ID       string `json:"id"`
			Reserved uint64 `json:"reserved_bytes"`
			Service  struct {
				Busy   int `json:"busy"`
				Queued int `json:"queued"`
			} `json:"service"`
		} `json:"devices"`
		Semaphores []struct {
			Pipeline string `json:"pipeline"`
			InUse    int    `json:"in_use"`
			Waiting  int    `json:"waiting"`
		} `json:"semaphores"`
	}
	if err := ts.client.System(t.Context(), &sys); err != nil {
		t.Fatal(err)
	}
	for _, d := range sys.Devices {
		if d.Service.Busy != 0 || d.Service.Queued != 0 || d.Reserved != 0 {
			t.Errorf("%s: %d lanes busy, %d queued, %d bytes reserved", d.ID, d.Service.Busy, d.Service.Queued, d.Reserved)
		}
	}
	for _, s := range sys.Semaphores {
		if s.InUse != 0 || s.Waiting != 0 {
			t.Errorf("semaphore %s: %d in use, %d waiting", s.Pipeline, s.InUse, s.Waiting)
		}
	}
	m, err := ts.client.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range m.Loaded {
		if in.Refs != 0 {
			t.Errorf("%s on %s has %d references", in.Model, in.Device, in.Refs)
		}
	}
	for _, dir := range []string{"workspaces", "uploads"} {
		entries, _ := os.ReadDir(filepath.Join(ts.dataDir, dir))
		if len(entries) > 0 {
			names := []string{}
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%d entries left in %s: %v", len(entries), dir, names)
		}
	}
}

// twoPagePDF makes a PDF of two text-line images from the evaluation set.
func twoPagePDF(t *testing.T) (string, []string) {
	t.Helper()
	dir := filepath.Join(evalDir(t), "lines")
	var imgs []io.Reader
	var want []string
	for _, n := range []string{"010001", "010003"} {
		b, err := os.ReadFile(filepath.Join(dir, n+".bin.png"))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, bytes.NewReader(b))
		gt, _ := os.ReadFile(filepath.Join(dir, n+".gt.txt"))
		want = append(want, strings.TrimSpace(string(gt)))
	}
	imp, err := pdfapi.Import("form:A5L, pos:c, sc:0.9 rel", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pdfapi.ImportImages(nil, &out, imgs, imp, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "two-lines.pdf")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, want
}

// words is how many of want's words appear in got.
func wordsFound(got, want string) (int, int) {
	have := map[string]bool{}
	for _, w := range strings.Fields(got) {
		have[w] = true
	}
	n := 0
	for _, w := range strings.Fields(want) {
		if have[w] {
			n++
		}
	}
	return n, len(strings.Fields(want))
}

// TestServeTasksEndToEnd submits a two-page PDF and an image to the real
// server, follows the PDF's events from start to finish, and fetches both
// results in every format.
func TestServeTasksEndToEnd(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	ts := startServer(t)
	ctx := t.Context()

	m, err := ts.client.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Loaded) != 0 {
		t.Fatalf("right after start %d instances are loaded; models load on first use", len(m.Loaded))
	}

	pdfPath, pdfWant := twoPagePDF(t)
	pdfTask, err := ts.client.SubmitFile(ctx, pdfPath, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pdfTask.Status != "queued" || pdfTask.Pages.Total != 2 || pdfTask.MediaType != "pdf" {
		t.Fatalf("submitted PDF: %+v", pdfTask)
	}
	var events []api.Event
	if err := ts.client.Events(ctx, pdfTask.ID, func(ev api.Event) bool { events = append(events, ev); return true }); err != nil {
		t.Fatal(err)
	}
	// From start to finish: a first status, page progress up to 2/2, and
	// the final status last.
	if len(events) < 2 || events[0].Type != "status" {
		t.Fatalf("events: %+v", events)
	}
	last := events[len(events)-1]
	if last.Type != "status" || last.Task.Status != "succeeded" {
		t.Fatalf("last event %+v, want status succeeded", last)
	}
	var progress []api.Progress
	sawRunning := events[0].Task.Status == "running"
	for _, ev := range events[1 : len(events)-1] {
		switch {
		case ev.Progress != nil:
			progress = append(progress, *ev.Progress)
		case ev.Task != nil && ev.Task.Status == "running":
			sawRunning = true
		}
	}
	if !sawRunning || len(progress) == 0 || progress[len(progress)-1].Done != 2 || progress[len(progress)-1].Total != 2 {
		t.Fatalf("between start and end: running %v, progress %+v", sawRunning, progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Done <= progress[i-1].Done {
			t.Fatalf("progress went backwards: %+v", progress)
		}
	}
	done := last.Task
	if done.Resources == nil || done.Resources.Device != "cpu" || done.Resources.PeakBytes == 0 || done.Resources.EstimatedBytes == 0 {
		t.Fatalf("resources: %+v", done.Resources)
	}
	if !slicesEqual(done.Formats, []string{"json", "txt", "md", "hocr", "pdf"}) {
		t.Fatalf("formats of a PDF by default: %v", done.Formats)
	}

	img := filepath.Join(evalDir(t), "lines", "010005.bin.png")
	imgWant, _ := os.ReadFile(filepath.Join(evalDir(t), "lines", "010005.gt.txt"))
	imgTask, err := ts.client.SubmitFile(ctx, img, api.Options{Formats: "json,txt,md,hocr,pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if imgTask, err = ts.client.Wait(ctx, imgTask.ID); err != nil || imgTask.Status != "succeeded" {
		t.Fatalf("image task: %+v %v", imgTask, err)
	}

	for _, c := range []struct {
		id   string
		want []string
	}{{pdfTask.ID, pdfWant}, {imgTask.ID, []string{string(imgWant)}}} {
		results := map[string][]byte{}
		for _, f := range []string{"json", "txt", "md", "hocr", "pdf"} {
			resp, err := http.Get(ts.base + "/v1/tasks/" + c.id + "/result?format=" + f)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s result %s: %d %s", c.id, f, resp.StatusCode, b)
			}
			wantType := map[string]string{"json": "application/json", "txt": "text/plain", "md": "text/markdown", "hocr": "application/xhtml+xml", "pdf": "application/pdf"}[f]
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
				t.Fatalf("%s: content type %q, want %s", f, ct, wantType)
			}
			results[f] = b
		}
		txt := string(results["txt"])
		pages := strings.Split(txt, "\f")
		if len(pages) != len(c.want) {
			t.Fatalf("txt has %d pages, want %d:\n%s", len(pages), len(c.want), txt)
		}
		for i, w := range c.want {
			if n, of := wordsFound(pages[i], w); float64(n) < 0.8*float64(of) {
				t.Fatalf("page %d: %d of %d words found in %q", i+1, n, of, pages[i])
			}
		}
		var doc struct {
			Schema string            `json:"schema"`
			Pages  []json.RawMessage `json:"pages"`
		}
		if err := json.Unmarshal(results["json"], &doc); err != nil || doc.Schema != "lector.ocr/v1" || len(doc.Pages) != len(c.want) {
			t.Fatalf("json: %v %s %d", err, doc.Schema, len(doc.Pages))
		}
		if !bytes.Contains(results["hocr"], []byte("ocr_page")) || !bytes.HasPrefix(results["pdf"], []byte("%PDF-")) {
			t.Fatal("hocr or pdf is not what it says")
		}
		if n, of := wordsFound(string(results["md"]), c.want[0]); float64(n) < 0.8*float64(of) {
			t.Fatalf("md lacks the text: %s", results["md"])
		}
	}

	// Newest first, paginated.
	l, err := ts.client.List(ctx, 1, "")
	if err != nil || len(l.Tasks) != 1 || l.Tasks[0].ID != imgTask.ID || l.Next == "" {
		t.Fatalf("first page: %+v %v", l, err)
	}
	l, err = ts.client.List(ctx, 1, l.Next)
	if err != nil || len(l.Tasks) != 1 || l.Tasks[0].ID != pdfTask.ID || l.Next != "" {
		t.Fatalf("second page: %+v %v", l, err)
	}

	// After a task the instance stays, idle, until its keep-alive ends.
	m, err = ts.client.Models(ctx)
	if err != nil || len(m.Loaded) != 1 || m.Loaded[0].Model != "tesseract:eng" || m.Loaded[0].Refs != 0 || m.Loaded[0].ExpiresAt.IsZero() {
		t.Fatalf("after the tasks: %+v %v", m, err)
	}
	ts.assertQuiescent(t)

	// A finished task is deleted by DELETE; its result is then not found.
	if t2, err := ts.client.Cancel(ctx, imgTask.ID); err != nil || t2 != nil {
		t.Fatalf("delete finished: %+v %v", t2, err)
	}
	var se *api.StatusError
	if _, err := ts.client.Get(ctx, imgTask.ID); !errors.As(err, &se) || se.Status != 404 || se.Code != "not_found" {
		t.Fatalf("deleted task: %v", err)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func grayPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestServeCancelRunningTask cancels a task mid-page: it ends canceled, and
// everything it held is free.
func TestServeCancelRunningTask(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic")
	ctx := t.Context()
	task, err := ts.client.Submit(ctx, "page.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:8MiB,t=1h"})
	if err != nil {
		t.Fatal(err)
	}
	var final *api.Task
	canceled := false
	err = ts.client.Events(ctx, task.ID, func(ev api.Event) bool {
		if ev.Task == nil {
			return true
		}
		if ev.Task.Status == "running" && !canceled {
			// Running is not yet working: wait for its page to have a lane
			// (the task's resources are all held then).
			ts.sig.working.Wait(t, func(id string) bool { return id == task.ID })
			got, err := ts.client.Cancel(ctx, task.ID)
			if err != nil || got == nil || !got.CancelRequested {
				t.Errorf("cancel: %+v %v", got, err)
				return false
			}
			canceled = true
		}
		final = ev.Task
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if final == nil || final.Status != "canceled" || final.Error == nil || final.Error.Code != "canceled" {
		t.Fatalf("final: %+v", final)
	}
	ts.assertQuiescent(t)
	// Its result is not there.
	var se *api.StatusError
	if err := ts.client.Result(ctx, task.ID, "txt", io.Discard); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("result of a canceled task: %v", err)
	}
}

// TestCanceledTaskKeepsItsPagesDone cancels a two-page task once its first
// page is done: it ends canceled with 1 of 2 pages done (they were reset
// to 0), and no event goes back to 0 pages.
func TestCanceledTaskKeepsItsPagesDone(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--cpu-lanes", "1")
	ctx := t.Context()
	pdf, _ := twoPagePDF(t)
	in, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	// Pages run one at a time (one lane); the second is still reading when
	// the cancel arrives, 5 s after the first ended.
	task, err := ts.client.Submit(ctx, "two.pdf", bytes.NewReader(in), api.Options{Model: "synthetic:8MiB,t=5s", Formats: "json", PDFText: "force"})
	if err != nil {
		t.Fatal(err)
	}
	var final *api.Task
	canceled := false
	err = ts.client.Events(ctx, task.ID, func(ev api.Event) bool {
		if p := ev.Progress; p != nil {
			if canceled && p.Done == 0 {
				t.Errorf("a progress event back to 0 pages after the cancel: %+v", p)
			}
			if p.Done == 1 && !canceled {
				if _, err := ts.client.Cancel(ctx, task.ID); err != nil {
					t.Errorf("cancel: %v", err)
					return false
				}
				canceled = true
			}
		}
		if ev.Task != nil {
			final = ev.Task
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if !canceled || final == nil || final.Status != "canceled" || final.Pages.Done != 1 || final.Pages.Total != 2 {
		t.Fatalf("final: %+v (canceled %v), want canceled with 1 of 2 pages done", final, canceled)
	}
	got, err := ts.client.Get(ctx, task.ID)
	if err != nil || got.Pages.Done != 1 {
		t.Fatalf("the stored task: %+v %v, want 1 page done", got, err)
	}
	ts.assertQuiescent(t)
}

// TestServeCancelQueuedTask cancels a task that waits behind another: it
// never runs.
func TestServeCancelQueuedTask(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--workers", "1")
	ctx := t.Context()
	slow, err := ts.client.Submit(ctx, "a.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:8MiB,t=1h"})
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := ts.client.Submit(ctx, "b.png", bytes.NewReader(grayPNG(t, 100, 100)), api.Options{Model: "synthetic:8MiB"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ts.client.Cancel(ctx, waiting.ID)
	if err != nil || got.Status != "canceled" || got.Attempts != 0 {
		t.Fatalf("cancel queued: %+v %v", got, err)
	}
	if _, err := ts.client.Cancel(ctx, slow.ID); err != nil {
		t.Fatal(err)
	}
	if fin, err := ts.client.Wait(ctx, slow.ID); err != nil || fin.Status != "canceled" {
		t.Fatalf("slow: %+v %v", fin, err)
	}
	if fin, err := ts.client.Get(ctx, waiting.ID); err != nil || fin.Status != "canceled" || fin.StartedAt != nil {
		t.Fatalf("the canceled queued task ran: %+v %v", fin, err)
	}
	ts.assertQuiescent(t)
}

// TestServeSync runs the synchronous endpoint on a small image, then lets
// a slow one run past its timeout: 504, and everything freed.
func TestServeSync(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	ts := startServer(t, "--enable-synthetic")
	ctx := t.Context()
	img := filepath.Join(evalDir(t), "lines", "010001.bin.png")
	want, _ := os.ReadFile(filepath.Join(evalDir(t), "lines", "010001.gt.txt"))
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body, id, err := ts.client.OCR(ctx, "line.png", f, api.Options{Format: "txt"})
	if err != nil {
		t.Fatal(err)
	}
	if n, of := wordsFound(string(body), string(want)); n < of-1 {
		t.Fatalf("sync txt %q, want %q", body, want)
	}
	rec, err := ts.client.Get(ctx, id)
	if err != nil || rec.Status != "succeeded" || !rec.Sync || rec.Resources == nil || rec.Resources.PeakBytes == 0 {
		t.Fatalf("the synchronous task's record: %+v %v", rec, err)
	}
	var se *api.StatusError
	if err := ts.client.Result(ctx, id, "txt", io.Discard); !errors.As(err, &se) || se.Status != 410 {
		t.Fatalf("result of a synchronous task: %v, want 410 (returned once, not stored)", err)
	}

	// A request that starts and runs out of time is 504 (one that gets no
	// lane in time is 503: the model is loaded first, so the 300 ms are
	// the page's, not the load's).
	if _, err := ts.client.Load(ctx, "synthetic:8MiB,t=1h", api.LoadRequest{Device: "cpu", KeepAlive: "1m"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = ts.client.OCR(ctx, "slow.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:8MiB,t=1h", Timeout: "300ms"})
	if !errors.As(err, &se) || se.Status != http.StatusGatewayTimeout || se.Code != "timeout" {
		t.Fatalf("slow sync: %v, want 504 timeout", err)
	}
	ts.assertQuiescent(t)
}

// TestServeModelsLoadLazilyAndExpire: nothing is loaded at start; a task
// loads its model, which stays idle (0 references, an expiry) and is
// unloaded when its keep-alive ends.
func TestServeModelsLoadLazilyAndExpire(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic")
	ctx := t.Context()
	const model = "synthetic:16MiB"
	m, err := ts.client.Models(ctx)
	if err != nil || len(m.Loaded) != 0 {
		t.Fatalf("at start: %+v %v", m.Loaded, err)
	}
	task, err := ts.client.Submit(ctx, "p.png", bytes.NewReader(grayPNG(t, 200, 200)), api.Options{Model: model, KeepAlive: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if task, err = ts.client.Wait(ctx, task.ID); err != nil || task.Status != "succeeded" {
		t.Fatalf("%+v %v", task, err)
	}
	m, err = ts.client.Models(ctx)
	if err != nil || len(m.Loaded) != 1 {
		t.Fatalf("after a task: %+v %v", m.Loaded, err)
	}
	in := m.Loaded[0]
	if in.Model != model || in.Refs != 0 || in.State != "ready" || in.CPUBytes < 16<<20 || time.Until(in.ExpiresAt) < 50*time.Minute {
		t.Fatalf("instance after a task: %+v", in)
	}
	// A second task asks for a one-second keep-alive; when it passes the
	// server unloads the instance (reason idle) and lists nothing.
	task, err = ts.client.Submit(ctx, "p.png", bytes.NewReader(grayPNG(t, 200, 200)), api.Options{Model: model, KeepAlive: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if task, err = ts.client.Wait(ctx, task.ID); err != nil || task.Status != "succeeded" {
		t.Fatalf("%+v %v", task, err)
	}
	ts.sig.unloaded.Wait(t, func(r modelpkg.UnloadRecord) bool { return r.Model == model && r.Reason == modelpkg.ReasonIdle })
	m, err = ts.client.Models(ctx)
	if err != nil || len(m.Loaded) != 0 {
		t.Fatalf("after the keep-alive: %+v %v", m.Loaded, err)
	}
}

// TestServeRejectsBadRequests: every bad request gets its status and code.
func TestServeRejectsBadRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--max-input-bytes", "100000")
	ctx := t.Context()
	small := grayPNG(t, 10, 10)
	cases := []struct {
		name   string
		file   []byte
		opts   api.Options
		status int
		code   string
	}{
		{"text named .png", []byte("hello, I am text"), api.Options{}, 415, "unsupported_media_type"},
		{"empty", nil, api.Options{}, 400, "invalid_document"},
		{"truncated png", small[:30], api.Options{}, 400, "invalid_document"},
		{"too large", make([]byte, 200000), api.Options{}, 413, "too_large"},
		{"huge header", pngClaiming(50000, 50000), api.Options{}, 400, "too_many_pixels"},
		{"unknown model", small, api.Options{Model: "tesseract:klingon"}, 400, "unknown_model"},
		{"bad format", small, api.Options{Formats: "docx"}, 400, "invalid_argument"},
		{"bad priority", small, api.Options{Priority: "urgent"}, 400, "invalid_argument"},
		{"bad device", small, api.Options{Device: "gpu"}, 400, "invalid_argument"},
		{"absent device", small, api.Options{Device: "cuda:7"}, 400, "device_unavailable"},
		{"structure with an OCR model", small, api.Options{Pipeline: "structure", Model: "tesseract:eng"}, 400, "invalid_argument"},
		{"bad keep_alive", small, api.Options{KeepAlive: "forever"}, 400, "invalid_argument"},
	}
	for _, c := range cases {
		_, err := ts.client.Submit(ctx, "x.png", bytes.NewReader(c.file), c.opts)
		var se *api.StatusError
		if !errors.As(err, &se) || se.Status != c.status || se.Code != c.code {
			t.Errorf("%s: %v, want %d %s", c.name, err, c.status, c.code)
		}
	}
	// An unknown field is named, not ignored.
	resp, err := http.Post(ts.base+"/v1/tasks?fromats=txt", "image/png", bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "fromats") {
		t.Errorf("unknown field: %d %s", resp.StatusCode, b)
	}
	// A raw body with options in the query is a task too.
	resp, err = http.Post(ts.base+"/v1/tasks?model=synthetic:1MiB&formats=txt", "image/png", bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	var raw api.Task
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("Location") != "/v1/tasks/"+raw.ID {
		t.Fatalf("raw body: %d %+v", resp.StatusCode, raw)
	}
	// Unknown tasks are 404; results of unfinished tasks 409.
	var se *api.StatusError
	if _, err := ts.client.Get(ctx, "nope"); !errors.As(err, &se) || se.Status != 404 {
		t.Errorf("unknown task: %v", err)
	}
	slow, err := ts.client.Submit(ctx, "s.png", bytes.NewReader(small), api.Options{Model: "synthetic:1MiB,t=1000h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.client.Result(ctx, slow.ID, "txt", io.Discard); !errors.As(err, &se) || se.Status != 409 || se.Code != "not_finished" {
		t.Errorf("result while queued or running: %v", err)
	}
	if _, err := ts.client.Cancel(ctx, slow.ID); err != nil {
		t.Fatal(err)
	}
	if fin, err := ts.client.Wait(ctx, raw.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("raw task: %+v %v", fin, err)
	}
	if fin, err := ts.client.Wait(ctx, slow.ID); err != nil || fin.Status != "canceled" {
		t.Fatalf("slow: %+v %v", fin, err)
	}
	if err := ts.client.Result(ctx, raw.ID, "pdf", io.Discard); !errors.As(err, &se) || se.Status != 404 || !strings.Contains(se.Message, "formats=pdf") {
		t.Errorf("a format not asked for: %v", err)
	}
	ts.assertQuiescent(t)
}

// TestClientCommands drives a server with the CLI: tasks submit --wait,
// list, get, result, ps and models.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic")
	dir := t.TempDir()
	img := writePNG(t, dir, "page.png", 300, 200)
	env := map[string]string{"LECTOR_SERVER": ts.base}
	out, stderr, err := run(t, env, "tasks", "submit", "--wait", "--model", "synthetic:4MiB", "--keep-alive", "1h", img)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	id := strings.TrimSpace(out)
	if !strings.Contains(stderr, id+": succeeded") {
		t.Fatalf("submit --wait did not follow the task: %s", stderr)
	}
	out, _, err = run(t, env, "tasks", "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "succeeded") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = run(t, env, "tasks", "get", id)
	var got api.Task
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.ID != id {
		t.Fatalf("get: %v\n%s", err, out)
	}
	res := filepath.Join(dir, "page.txt")
	if _, stderr, err := run(t, env, "tasks", "result", "-o", res, id); err != nil {
		t.Fatalf("result: %v %s", err, stderr)
	}
	if b, _ := os.ReadFile(res); len(bytes.TrimSpace(b)) == 0 {
		t.Fatal("result file is empty")
	}
	out, _, err = run(t, env, "ps")
	if err != nil || !strings.Contains(out, "synthetic:4MiB") || !strings.Contains(out, "from now") {
		t.Fatalf("ps: %v\n%s", err, out)
	}
	out, _, err = run(t, env, "models")
	if err != nil || !strings.Contains(out, "synthetic:") {
		t.Fatalf("models from the server: %v\n%s", err, out)
	}
	_, stderr, err = run(t, env, "tasks", "get", "nope")
	if err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("get of an unknown task: %v %s", err, stderr)
	}
	fmt.Fprint(io.Discard, stderr)
}

// TestServeRetriesOnlyRetryableFailures: a task whose engine crashes on
// every page is run again, up to --max-attempts, then fails with
// engine_crashed; a task its engine rejects fails at once.
func TestServeRetriesOnlyRetryableFailures(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--max-attempts", "2")
	ctx := t.Context()
	crash, err := ts.client.Submit(ctx, "c.png", bytes.NewReader(grayPNG(t, 100, 100)), api.Options{Model: "synthetic:1MiB,crash=1"})
	if err != nil {
		t.Fatal(err)
	}
	reject, err := ts.client.Submit(ctx, "r.png", bytes.NewReader(grayPNG(t, 100, 100)), api.Options{Model: "synthetic:1MiB,fail=1"})
	if err != nil {
		t.Fatal(err)
	}
	fin, err := ts.client.Wait(ctx, reject.ID)
	if err != nil || fin.Status != "failed" || fin.Error.Code != "invalid_document" || fin.Attempts != 1 {
		t.Fatalf("rejected task: %+v %v", fin, err)
	}
	fin, err = ts.client.Wait(ctx, crash.ID)
	if err != nil || fin.Status != "failed" || fin.Error.Code != "engine_crashed" || fin.Attempts != 2 {
		t.Fatalf("crashing task: %+v %v", fin, err)
	}
	ts.assertQuiescent(t)
}

// TestServeExplicitLoadAndUnload: a model preloaded over HTTP is listed
// with its keep-alive; an unload drains it and it is gone; an unknown model
// is refused.
func TestServeExplicitLoadAndUnload(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic")
	ctx := t.Context()
	const model = "synthetic:8MiB"
	m, err := ts.client.Load(ctx, model, api.LoadRequest{KeepAlive: "-1s"})
	if err != nil || len(m.Loaded) != 1 || m.Loaded[0].Model != model || !m.Loaded[0].Pinned || m.Loaded[0].Pid == 0 {
		t.Fatalf("after load: %+v %v", m, err)
	}
	m, err = ts.client.Unload(ctx, model, "")
	if err != nil || len(m.Loaded) != 0 {
		t.Fatalf("after unload: %+v %v", m, err)
	}
	ts.sig.unloaded.Wait(t, func(r modelpkg.UnloadRecord) bool { return r.Model == model && r.Reason == modelpkg.ReasonExplicit })
	var se *api.StatusError
	if _, err := ts.client.Load(ctx, "tesseract:klingon", api.LoadRequest{}); !errors.As(err, &se) || se.Status != 400 || se.Code != "unknown_model" {
		t.Fatalf("unknown model: %v", err)
	}
}
