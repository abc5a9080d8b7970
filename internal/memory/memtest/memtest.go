// Package memtest makes real memory cgroups for tests, runs commands inside
// them, and provides a holder process that fills a cgroup to a given size.
// It is used by tests only.
package memtest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/memory"
)

// Cgroup is a memory cgroup made for one test and removed after it.
type Cgroup struct {
	Version int
	Dir     string
}

// New creates a memory cgroup limited to limit bytes, or skips the test
// saying why it cannot (not root, no writable memory hierarchy).
func New(t testing.TB, limit uint64) *Cgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating a memory cgroup needs root")
	}
	version, mount, err := memory.CgroupMount("")
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(mount, "lector-test-"+hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("skipping: cannot create a cgroup under %s: %v", mount, err)
	}
	c := &Cgroup{Version: version, Dir: dir}
	t.Cleanup(c.remove)
	limitFile := "memory.limit_in_bytes"
	if version == 2 {
		limitFile = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(strconv.FormatUint(limit, 10)), 0); err != nil {
		t.Skipf("skipping: cannot set a memory limit in %s (on cgroup v2 the parent must delegate the memory controller): %v", dir, err)
	}
	return c
}

// Command returns a command that runs name inside the cgroup: a shell moves
// itself into the cgroup, then execs name, so name starts there.
func (c *Cgroup) Command(name string, args ...string) *exec.Cmd {
	script := `echo $$ > "$LECTOR_MEMTEST_PROCS" && exec "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh", name}, args...)...)
	cmd.Env = append(os.Environ(), "LECTOR_MEMTEST_PROCS="+filepath.Join(c.Dir, "cgroup.procs"))
	return cmd
}

// Usage is the cgroup's memory as Lector's CPU probe counts it inside it.
func (c *Cgroup) Usage() (memory.Usage, error) {
	return memory.NewCgroupProbe(c.Version, c.Dir).Read()
}

// Pids lists the processes in the cgroup.
func (c *Cgroup) Pids() []int {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "cgroup.procs"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// OOMKills returns how many processes the kernel OOM-killed in the cgroup.
func (c *Cgroup) OOMKills() int {
	file := "memory.oom_control"
	if c.Version == 2 {
		file = "memory.events"
	}
	b, _ := os.ReadFile(filepath.Join(c.Dir, file))
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == "oom_kill" {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func (c *Cgroup) remove() {
	for range 100 {
		pids := c.Pids()
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if err := os.Remove(c.Dir); err == nil || os.IsNotExist(err) {
			return
		}
		// The kernel frees a killed process's cgroup membership
		// asynchronously; rmdir fails with EBUSY until it has.
		time.Sleep(10 * time.Millisecond)
	}
}

// HolderEnv, when set to a byte count, turns a test binary that calls
// MaybeRunHolder from TestMain into a holder: it allocates and touches memory
// in 1 MiB steps until its cgroup's working set reaches that count, prints
// "ready", and holds it until stdin closes.
const HolderEnv = "LECTOR_MEMTEST_FILL_TO"

// MaybeRunHolder runs the holder and exits when HolderEnv is set; otherwise
// it returns at once.
func MaybeRunHolder() {
	v := os.Getenv(HolderEnv)
	if v == "" {
		return
	}
	target, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	probe := memory.NewCPUProbe("")
	var held [][]byte
	for {
		u, err := probe.Read()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		if u.Used >= target {
			break
		}
		chunk, err := syscall.Mmap(-1, 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		for i := 0; i < len(chunk); i += 4096 {
			chunk[i] = 1
		}
		held = append(held, chunk)
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
	}
	_ = len(held)
	os.Exit(0)
}
