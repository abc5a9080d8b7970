package memory

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

const allocHelperEnv = "LECTOR_MEMORY_TEST_ALLOC_MIB"

// TestMain turns the test binary into an allocating child when asked: it maps
// and touches N MiB, says "allocated", frees it on the next input line, says
// "freed", and exits when stdin closes.
func TestMain(m *testing.M) {
	if v := os.Getenv(allocHelperEnv); v != "" {
		mib, _ := strconv.Atoi(v)
		buf, err := syscall.Mmap(-1, 0, mib<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		fmt.Println("allocated")
		in := bufio.NewScanner(os.Stdin)
		in.Scan()
		_ = syscall.Munmap(buf)
		fmt.Println("freed")
		for in.Scan() {
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m) // and no test leaves a goroutine running
}

// Not parallel: it measures this process's whole tree.
func TestProcessProbeSeesChildRSSAndResetsPeak(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), allocHelperEnv+"=200")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	out := bufio.NewScanner(stdout)
	expect := func(line string) {
		t.Helper()
		if !out.Scan() || out.Text() != line {
			t.Fatalf("child said %q, want %q (%v)", out.Text(), line, out.Err())
		}
	}
	probe := ProcessProbe{}
	self, err := probe.Read(os.Getpid())
	if err != nil || self.RSS == 0 {
		t.Fatalf("reading own RSS: %+v %v", self, err)
	}

	treeBefore, err := probe.ReadTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	expect("allocated")
	child, err := probe.Read(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if child.RSS < 180<<20 {
		t.Fatalf("child RSS %d MiB, want at least 180 MiB", child.RSS>>20)
	}
	treeAfter, err := probe.ReadTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rise := int64(treeAfter.RSS) - int64(treeBefore.RSS); rise < 180<<20 {
		t.Fatalf("tree RSS rose by %d MiB, want at least 180 MiB", rise>>20)
	}

	fmt.Fprintln(stdin, "free")
	expect("freed")
	freed, err := probe.Read(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if freed.Peak < 180<<20 || freed.RSS > 100<<20 {
		t.Fatalf("after free: RSS %d MiB, peak %d MiB; want RSS low and peak kept", freed.RSS>>20, freed.Peak>>20)
	}
	if err := probe.ResetPeak(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	reset, err := probe.Read(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if reset.Peak > 100<<20 {
		t.Fatalf("peak after reset %d MiB, want it back near RSS %d MiB", reset.Peak>>20, reset.RSS>>20)
	}
}

func TestParseStatusAndStat(t *testing.T) {
	t.Parallel()
	m, err := ParseStatus([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	if err != nil || m.RSS != 1024*1024 || m.Peak != 2048*1024 {
		t.Fatalf("ParseStatus = %+v, %v", m, err)
	}
	ppid, err := parseStatPPID([]byte("123 (a b) c) S 77 123 123 0 -1"))
	if err != nil || ppid != 77 {
		t.Fatalf("parseStatPPID = %d, %v", ppid, err)
	}
}
