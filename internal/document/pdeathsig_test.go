package document

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes this test binary the parent of a renderer (run), for
// TestRendererDiesWithItsParent: it starts `sh`, which writes its pid to
// the named FIFO and then waits, as a renderer busy with a page would.
const childEnv = "LECTOR_DOCUMENT_TEST_RENDER_PARENT"

func TestMain(m *testing.M) {
	if fifo := os.Getenv(childEnv); fifo != "" {
		_, err := run(context.Background(), Limits{RenderTimeout: time.Hour, RenderMemory: 1 << 30},
			"sh", "-c", `echo $$ > "$0"; exec sleep 3600`, fifo)
		fmt.Fprintln(os.Stderr, "renderer returned:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestRendererDiesWithItsParent: a renderer started by run is killed by
// the kernel when its parent dies from SIGKILL (Pdeathsig), as runners are:
// a server killed mid-render leaves no pdftoppm behind.
func TestRendererDiesWithItsParent(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "pid")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), childEnv+"="+fifo)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Wait()
	f, err := os.Open(fifo) // blocks until the renderer opens it to write
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	n, _ := f.Read(b)
	f.Close()
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		t.Fatalf("renderer pid %q: %v", b[:n], err)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd of the renderer %d: %v", pid, err)
	}
	defer unix.Close(fd)
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 30_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n != 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the renderer %d outlived its parent by 30 s (%v)", pid, err)
		}
		return
	}
}
