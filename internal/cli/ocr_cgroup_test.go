package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lector-ocr/lector/internal/memory/memtest"
)

// TestRuntimeInsideMemoryCgroup runs `lector ocr` inside a 1 GiB memory
// cgroup on twenty documents at once whose total demand (a 300 MiB model
// and twenty 2-megapixel pages of 400 MiB working set each, 8.1 GiB) is far
// over the limit. Even the two pages the CPU's two lanes would run at once
// need 1.1 GiB with the model, so without admission the kernel would
// OOM-kill a runner. Admission must keep it inside: nothing is OOM-killed,
// and every task either succeeds or ends with insufficient_memory.
func TestRuntimeInsideMemoryCgroup(t *testing.T) {
	t.Parallel()
	cg := memtest.New(t, 1<<30)
	dir := t.TempDir()
	args := []string{"ocr", "--enable-synthetic", "--model", "synthetic:300MiB,ws=200MiB,t=50ms", "--cpu-lanes", "2",
		"--jobs", "20", "--critical-wait", "60s", "--format", "json"}
	for i := range 20 {
		args = append(args, writePNG(t, dir, fmt.Sprintf("p%02d.png", i), 2000, 1000))
	}
	cmd := cg.Command(os.Args[0], args...)
	cmd.Env = append(cmd.Env, cliMainEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	defer func() {
		if n := cg.OOMKills(); n != 0 {
			t.Fatalf("%d processes OOM-killed in the cgroup\n%s", n, stderr.String())
		}
	}()
	succeeded, rejected := 0, 0
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r ocrOutput
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		switch {
		case r.Error == nil && len(r.Pages) == 1:
			succeeded++
			t.Logf("%s: estimated %d MiB, peak %d MiB, waited %v", filepath.Base(r.File), r.Resources.EstimatedBytes>>20, r.Resources.PeakBytes>>20, r.Resources.QueueWait)
			if r.Resources.PeakBytes == 0 || r.Resources.EstimatedBytes == 0 {
				t.Errorf("%s: resources not recorded: %+v", r.File, r.Resources)
			}
		case r.Error != nil && r.Error.Code == "insufficient_memory":
			rejected++
		default:
			t.Errorf("%s ended with %+v", r.File, r.Error)
		}
	}
	if succeeded+rejected != 20 {
		t.Fatalf("%d succeeded + %d rejected, want all 20 accounted for (exit %v)\n%s", succeeded, rejected, runErr, stderr.String())
	}
	if succeeded == 0 {
		t.Fatalf("nothing succeeded\n%s", stderr.String())
	}
	t.Logf("%d succeeded, %d insufficient_memory", succeeded, rejected)
}
