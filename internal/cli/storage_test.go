package cli

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
)

// smallDisk mounts a tmpfs of sizeMiB at a new directory: a real
// filesystem that fills, as the data directory's disk does, so that a full
// disk is the kernel's ENOSPC and SQLite's "database or disk is full", not
// a fault injected in Lector. Mounting needs root (CI runs as root); the
// test is skipped, saying so, elsewhere.
func smallDisk(t *testing.T, sizeMiB int) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("filling a real disk needs a small tmpfs, and mounting one needs root")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(sizeMiB)+"m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v)", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file in dir until the disk is full and returns a function
// that removes it.
func fill(t *testing.T, dir string) (free func()) {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	// The last bytes: smaller writes until not even one fits.
	for n := 4096; n > 0; n /= 2 {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

func statusOf(t *testing.T, err error) *api.StatusError {
	t.Helper()
	var se *api.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("want an HTTP error, got %v", err)
	}
	return se
}

// TestDiskFullIsRetryableNotInvalid: with the data directory's disk full,
// both submit endpoints answer 503 unavailable with Retry-After (not 400);
// a task whose result cannot be stored because the disk filled while it
// ran is stored once there is space again (the write tried again, or the
// task put back in the queue), without spending an attempt.
func TestDiskFullIsRetryableNotInvalid(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, 48)
	ts := startServerIn(t, dir, "--enable-synthetic", "--max-attempts", "1")
	ctx := t.Context()
	img := grayPNG(t, 200, 200)

	free := fill(t, dir)
	_, err := ts.client.Submit(ctx, "a.png", bytes.NewReader(img), api.Options{Model: "synthetic:1MiB"})
	if se := statusOf(t, err); se.Status != http.StatusServiceUnavailable || se.Code != "unavailable" || se.RetryAfter == "" {
		t.Fatalf("POST /v1/tasks on a full disk: %+v", se)
	}
	_, _, err = ts.client.OCR(ctx, "a.png", bytes.NewReader(img), api.Options{Model: "synthetic:1MiB"})
	if se := statusOf(t, err); se.Status != http.StatusServiceUnavailable || se.Code != "unavailable" || se.RetryAfter == "" {
		t.Fatalf("POST /v1/ocr on a full disk: %+v", se)
	}
	free()

	// A page of 1 MP that takes a second: the disk fills while it runs.
	task, err := ts.client.Submit(ctx, "b.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:1MiB,t=1s"})
	if err != nil {
		t.Fatal(err)
	}
	ts.sig.working.Wait(t, func(id string) bool { return id == task.ID })
	free = fill(t, dir)
	// The result cannot be stored: the write is tried again, or the task
	// put back in the queue — either way no attempt is spent.
	ts.logs.waitFor(t, 0, `(task returned to the queue: storage cannot be written|recording a task's end: the database is unreachable; trying again).*task=`+task.ID)
	free()
	fin, err := ts.client.Wait(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fin.Status != "succeeded" || fin.Attempts != 1 {
		t.Fatalf("after the disk had space again: %s after %d attempts (%+v), want succeeded after 1 (max attempts 1)", fin.Status, fin.Attempts, fin.Error)
	}
}

// TestDeleteWorksOnFullDisk: with the disk full, deleting a finished task
// answers 204 (the reserve file beside the database gives the journal
// room), and the space it held comes back: a submission that was refused
// for want of space is then accepted.
func TestDeleteWorksOnFullDisk(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, 48)
	ts := startServerIn(t, dir, "--enable-synthetic")
	ctx := t.Context()
	// A large input (4 MiB of noise in a PNG-named body that synthetic
	// reads as a page) makes a task that holds space.
	big := noisePNG(t, 1400, 1400)
	task, err := ts.client.Submit(ctx, "big.png", bytes.NewReader(big), api.Options{Model: "synthetic:1MiB"})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := ts.client.Wait(ctx, task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("%+v %v", fin, err)
	}
	free := fill(t, dir)
	defer free()
	if _, err := ts.client.Submit(ctx, "big.png", bytes.NewReader(big), api.Options{Model: "synthetic:1MiB"}); statusOf(t, err).Status != http.StatusServiceUnavailable {
		t.Fatalf("a submission on a full disk: %v", err)
	}
	if _, err := ts.client.Cancel(ctx, task.ID); err != nil {
		t.Fatalf("DELETE of a finished task on a full disk: %v", err)
	}
	if _, err := ts.client.Get(ctx, task.ID); statusOf(t, err).Status != http.StatusNotFound {
		t.Fatalf("the deleted task is still there: %v", err)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if freeBytes := fs.Bavail * uint64(fs.Bsize); freeBytes < uint64(len(big)) {
		t.Fatalf("after deleting a task of %d KiB, %d KiB free: its space did not come back", len(big)>>10, freeBytes>>10)
	}
}

// noisePNG is a w×h gray PNG of pseudo-random pixels (it does not
// compress: it holds about w×h bytes).
func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	b := image.NewGray(image.Rect(0, 0, w, h))
	x := uint32(2463534242)
	for i := range b.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.Pix[i] = byte(x)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestReadyzNotReadyWhenDataDirUnwritable: /readyz answers 503 with the
// reason while the data directory's disk is full, and 200 again once it
// has room.
func TestReadyzNotReadyWhenDataDirUnwritable(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, 32)
	ts := startServerIn(t, dir)
	ready := func() (int, string) {
		resp, err := http.Get(ts.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := ready(); code != 200 {
		t.Fatalf("a fresh server: %d %s", code, body)
	}
	free := fill(t, dir)
	if code, body := ready(); code != http.StatusServiceUnavailable || !bytes.Contains([]byte(body), []byte("data directory")) {
		t.Fatalf("with the disk full: %d %s", code, body)
	}
	free()
	if code, body := ready(); code != 200 {
		t.Fatalf("with room again: %d %s", code, body)
	}
}

// TestLearnedCoefficientsSurviveRestart: what a server learned of a
// model's memory from a task is shown by GET /v1/models with the tasks
// behind it, and a server restarted on the same data directory shows the
// same figures before it has run anything.
func TestLearnedCoefficientsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const model = "synthetic:8MiB,ws=40MiB"
	learned := func(ts *testServer) *api.Learned {
		t.Helper()
		m, err := ts.client.Models(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, mi := range m.Catalog {
			if mi.Name == model && len(mi.Learned) == 1 {
				return &mi.Learned[0]
			}
		}
		return nil
	}
	ts := startServerIn(t, dir, "--enable-synthetic")
	if l := learned(ts); l != nil {
		t.Fatalf("a fresh server has learned %+v", l)
	}
	task, err := ts.client.Submit(t.Context(), "p.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := ts.client.Wait(t.Context(), task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("%+v %v", fin, err)
	}
	before := learned(ts)
	if before == nil || before.Device != "cpu" || before.Tasks != 1 || before.Observations != 1 || before.LoadBytes == 0 {
		t.Fatalf("after one task: %+v", before)
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts2 := startServerIn(t, dir, "--enable-synthetic")
	after := learned(ts2)
	if after == nil || *after != *before {
		t.Fatalf("after a restart: %+v, before it %+v", after, before)
	}
}

// TestShutdownAnswersSyncRequestsWith503: a synchronous request still
// running when the shutdown's time is up is answered 503 unavailable (not
// an empty reply), and its task is recorded: a server started again on the
// same data directory lists it.
func TestShutdownAnswersSyncRequestsWith503(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServerIn(t, dir, "--enable-synthetic", "--shutdown-timeout", "200ms")
	answered := make(chan error, 1)
	go func() {
		_, _, err := ts.client.OCR(t.Context(), "slow.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:1MiB,t=30s"})
		answered <- err
	}()
	ts.logs.waitFor(t, 0, `msg="model loaded"`) // the run has passed admission; its page takes 30 s
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	se := statusOf(t, <-answered)
	if se.Status != http.StatusServiceUnavailable || se.Code != "unavailable" || se.RetryAfter == "" {
		t.Fatalf("a synchronous request cut off by shutdown: %+v", se)
	}
	ts2 := startServerIn(t, dir, "--enable-synthetic")
	list, err := ts2.client.List(t.Context(), 10, "")
	if err != nil || len(list.Tasks) != 1 {
		t.Fatalf("the synchronous task's record was lost: %+v %v", list, err)
	}
	task := list.Tasks[0]
	if !task.Sync || task.Error == nil || task.Error.Code != "unavailable" {
		t.Fatalf("recorded as %+v (error %+v)", task, task.Error)
	}
}
