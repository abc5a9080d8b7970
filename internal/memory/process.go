package memory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcessMemory is a process's (or process tree's) resident memory in bytes.
type ProcessMemory struct {
	RSS  uint64 // VmRSS
	Peak uint64 // VmHWM: the high-water mark since start or the last reset
}

// ProcessProbe reads /proc/<pid>/status. Root prefixes /proc for tests; ""
// means "/".
type ProcessProbe struct {
	Root string
}

func (p ProcessProbe) proc(parts ...string) string {
	return filepath.Join(append([]string{p.root(), "proc"}, parts...)...)
}

func (p ProcessProbe) root() string {
	if p.Root == "" {
		return "/"
	}
	return p.Root
}

// Read returns the RSS and peak RSS of pid.
func (p ProcessProbe) Read(pid int) (ProcessMemory, error) {
	b, err := os.ReadFile(p.proc(strconv.Itoa(pid), "status"))
	if err != nil {
		return ProcessMemory{}, fmt.Errorf("memory: reading process %d: %w", pid, err)
	}
	return ParseStatus(b)
}

// ParseStatus reads VmRSS and VmHWM from /proc/<pid>/status text. A kernel
// thread or zombie has neither and reads as zero.
func ParseStatus(b []byte) (ProcessMemory, error) {
	var m ProcessMemory
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return ProcessMemory{}, fmt.Errorf("memory: parsing %s: %w", k, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		if k == "VmRSS" {
			m.RSS = n
		} else {
			m.Peak = n
		}
	}
	return m, nil
}

// Tree returns pid and all its descendants, pid first.
func (p ProcessProbe) Tree(pid int) ([]int, error) {
	entries, err := os.ReadDir(p.proc())
	if err != nil {
		return nil, err
	}
	children := make(map[int][]int)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(p.proc(e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		ppid, err := parseStatPPID(b)
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], child)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// parseStatPPID returns field 4 of /proc/<pid>/stat; the command name (field
// 2) is in parentheses and may hold spaces, so fields are counted after the
// last ')'.
func parseStatPPID(b []byte) (int, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("memory: malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, errors.New("memory: malformed stat")
	}
	return strconv.Atoi(f[1])
}

// ReadTree sums RSS and peak RSS over pid and its descendants. The summed
// peak is an upper bound of the tree's true peak: each process's high-water
// mark may have been reached at a different moment. Processes that exit
// while being read are skipped.
func (p ProcessProbe) ReadTree(pid int) (ProcessMemory, error) {
	pids, err := p.Tree(pid)
	if err != nil {
		return ProcessMemory{}, err
	}
	var sum ProcessMemory
	for i, q := range pids {
		m, err := p.Read(q)
		if err != nil {
			if i == 0 {
				return ProcessMemory{}, err
			}
			continue
		}
		sum.RSS += m.RSS
		sum.Peak += m.Peak
	}
	return sum, nil
}

// ResetPeak resets pid's VmHWM to its current RSS (clear_refs ← 5).
func (p ProcessProbe) ResetPeak(pid int) error {
	if err := os.WriteFile(p.proc(strconv.Itoa(pid), "clear_refs"), []byte("5"), 0); err != nil {
		return fmt.Errorf("memory: resetting peak of %d: %w", pid, err)
	}
	return nil
}
