package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/memory/memtest"
)

func TestSystemJSONOnThisMachine(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, nil, "system", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep SystemReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Devices) == 0 || rep.Devices[0].ID != "cpu" || rep.Thresholds.Critical != 0.95 {
		t.Fatalf("report = %+v", rep)
	}
	cpu := rep.Devices[0]
	if !(cpu.Memory.Used > 0 && cpu.Memory.Used < cpu.Memory.Total) {
		t.Fatalf("implausible CPU memory %+v", cpu.Memory)
	}
}

func TestSystemTextShowsThresholdsInForce(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, map[string]string{"LECTOR_MEMORY_WARNING": "0.7"}, "system", "--memory-critical", "0.9")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "warning 70%") || !strings.Contains(out, "critical 90%") || !strings.Contains(out, "cpu") {
		t.Fatalf("output lacks the thresholds from env and flag:\n%s", out)
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, map[string]string{"LECTOR_MEMORY_WARNING": "0.7"}, "system", "--json", "--memory-warning", "0.6")
	if err != nil {
		t.Fatal(err)
	}
	var rep SystemReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Thresholds.Warning != 0.6 {
		t.Fatalf("warning = %v (%v), want the flag's 0.6", rep.Thresholds.Warning, err)
	}
}

func TestBadConfigIsAUsageErrorNamingTheField(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, map[string]string{"LECTOR_MEMORY_CRITICAL": "0.5"}, "system")
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "Memory.CriticalThreshold") {
		t.Fatalf("err = %v (exit %d), want a usage error naming Memory.CriticalThreshold", err, ExitCode(err))
	}
	if _, _, err := run(t, nil, "nonsense"); err == nil || ExitCode(err) != 2 {
		t.Fatalf("unknown command: err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "lector ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

// TestSystemInsideMemoryCgroup runs `lector system --json` inside a cgroup
// limited to 1 GiB, with a holder process filling the cgroup so that, with
// `lector system` itself (measured first, alone in the cgroup: its size
// differs with -race), 0.875 and then 0.965 of it is used: the CPU device's
// total is the limit, and the level follows (warning from 0.80, critical
// from 0.95, emergency from 0.98).
func TestSystemInsideMemoryCgroup(t *testing.T) {
	t.Parallel()
	system := func(t *testing.T, cg *memtest.Cgroup) SystemReport {
		t.Helper()
		sys := cg.Command(os.Args[0], "system", "--json")
		sys.Env = append(sys.Env, cliMainEnv+"=1")
		out, err := sys.Output()
		if err != nil {
			t.Fatalf("lector system: %v", err)
		}
		var rep SystemReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		return rep
	}
	for _, tc := range []struct {
		fraction float64
		want     string
	}{{0.875, "warning"}, {0.965, "critical"}} {
		t.Run(tc.want, func(t *testing.T) {
			cg := memtest.New(t, 1<<30)
			own := system(t, cg).Devices[0].Memory.Used
			fill := uint64(tc.fraction*(1<<30)) - own
			holder := cg.Command(os.Args[0], "-test.run=^$")
			holder.Env = append(holder.Env, memtest.HolderEnv+"="+strconv.FormatUint(fill, 10))
			stdin, _ := holder.StdinPipe()
			stdout, _ := holder.StdoutPipe()
			if err := holder.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stdin.Close(); _ = holder.Wait() })
			if sc := bufio.NewScanner(stdout); !sc.Scan() || sc.Text() != "ready" {
				t.Fatalf("holder said %q", sc.Text())
			}

			rep := system(t, cg)
			cpu := rep.Devices[0]
			if cpu.Memory.Total != 1<<30 {
				t.Fatalf("CPU total = %d, want the cgroup's 1 GiB (cgroup %q)", cpu.Memory.Total, cpu.Cgroup)
			}
			t.Logf("lector system alone: %d MiB; with the holder: %.3f used", own>>20, cpu.Memory.Fraction())
			if cpu.Level.String() != tc.want {
				t.Fatalf("level = %s at %.3f used, want %s", cpu.Level, cpu.Memory.Fraction(), tc.want)
			}
		})
	}
}
