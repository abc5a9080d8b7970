package runner

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// sink keeps an allocation alive until the test drops it.
var sink []byte

// TestReleaseMemoryReturnsTheGoHeap: the garbage pages leave on the Go heap
// (the structure pipeline's page copies, PP-OCR's tensors) goes back to the
// OS when the runner is idle, not at Go's next collection: after a 64 MiB
// page buffer is dropped and releaseMemory runs, the heap holds neither
// the object nor its free span resident.
func TestReleaseMemoryReturnsTheGoHeap(t *testing.T) {
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = 1
	}
	sink = nil
	releaseMemory()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(s)
	var resident uint64
	for _, x := range s {
		resident += x.Value.Uint64()
	}
	if resident > 32<<20 {
		t.Fatalf("the Go heap keeps %d MiB resident after a 64 MiB page was dropped and memory released", resident>>20)
	}
}

// TestFreedCMemoryComesBackFromEveryThread: C memory a page freed goes
// back to the OS at idle whichever thread allocated it. Four threads each
// allocate and free 16 MiB in 64 KiB blocks (as ONNX Runtime's and
// Tesseract's buffers are, below the 32 MiB mmap threshold); after
// releaseMemory the process holds no more than a few MiB of them. With a
// glibc arena per thread each thread's top stayed resident (malloc_trim
// trims the main arena's top only). It runs in a process of its own,
// started with the environment a PP-OCR runner gets (one arena).
func TestFreedCMemoryComesBackFromEveryThread(t *testing.T) {
	if !haveCHeap {
		t.Skip("no C heap: built without cgo or not on Linux")
	}
	if os.Getenv("LECTOR_TEST_CHEAP_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFreedCMemoryComesBackFromEveryThread$", "-test.count=1")
		// As the parent starts a PP-OCR runner (ppocr.Engine.RunnerEnv).
		cmd.Env = mergeEnv(append(os.Environ(), "LECTOR_TEST_CHEAP_CHILD=1"), []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=1"})
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	holdCHeapWhileBusy()
	rss := func() int64 {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				return kb << 10
			}
		}
		t.Fatal("no VmRSS")
		return 0
	}
	releaseMemory()
	before := rss()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // a thread of its own, as ONNX Runtime's are
			churnCHeap(256, 64<<10)
		}()
	}
	wg.Wait()
	releaseMemory()
	if grew := rss() - before; grew > 8<<20 {
		t.Fatalf("the runner kept %d MiB of the 64 MiB its threads freed", grew>>20)
	}
}

// TestEngineTunablesJoinTheOperators: an engine's GLIBC_TUNABLES are
// added to the ones the operator set, and the operator's setting of a
// tunable wins.
func TestEngineTunablesJoinTheOperators(t *testing.T) {
	engine := []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=1"}
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"A=1"}, "glibc.malloc.arena_max=1"},
		{[]string{"GLIBC_TUNABLES="}, "glibc.malloc.arena_max=1"},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.tcache_count=0"}, "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1"},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=4"}, "glibc.malloc.arena_max=4"},
	} {
		var got []string
		for _, kv := range mergeEnv(c.in, engine) {
			if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
				got = append(got, v)
			}
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("mergeEnv(%q, %q): GLIBC_TUNABLES %q, want one, %q", c.in, engine, got, c.want)
		}
	}
}

// TestRunnerHeapStaysCloseToLive: collectSooner sets the runner's GC
// target to runnerGCPercent (25) unless the operator set GOGC, whose
// setting is then left as it is; and with that target the heap grows less
// before a collection — with 64 MiB live and a page's worth of 4 MiB
// garbage buffers, the heap goal over the live heap is lower than at
// Go's default (in a quiet process about 1.3–1.6 against 2.25; the test
// compares the two rather than a fixed figure, since other tests' memory
// in the same process moves both).
func TestRunnerHeapStaysCloseToLive(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	gogc := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	over := func() float64 { // the highest heap goal over the live heap
		live := make([]byte, 64<<20)
		for i := range live {
			live[i] = 1
		}
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		base := float64(s[0].Value.Uint64())
		var most float64
		for range 64 {
			sink = make([]byte, 4<<20)
			metrics.Read(s)
			most = max(most, float64(s[1].Value.Uint64()))
		}
		sink = nil
		runtime.KeepAlive(live)
		return most / base
	}
	t.Setenv("GOGC", "100") // the operator's
	collectSooner()
	if got := gogc(); got != 100 {
		t.Fatalf("with the operator's GOGC=100 the runner set GOGC=%d", got)
	}
	theirs := over()
	t.Setenv("GOGC", "")
	collectSooner()
	if got := gogc(); got != runnerGCPercent {
		t.Fatalf("with no GOGC set the runner's GC target is %d, want %d", got, runnerGCPercent)
	}
	ours := over()
	t.Logf("heap goal over the live heap (64 MiB and the test's): %.2f at the operator's GOGC=100, %.2f as the runner sets it", theirs, ours)
	if ours >= theirs {
		t.Errorf("heap goal %.2f times the live heap at GOGC=%d, %.2f at 100: the lower target did not keep the heap closer to live", ours, runnerGCPercent, theirs)
	}
}
