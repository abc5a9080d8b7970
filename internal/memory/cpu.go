package memory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// CPUProbe reads the memory available to this process's CPU device. Inside a
// memory cgroup with a limit below the host's memory, Total is the limit and
// Used the cgroup's working set (usage minus inactive file cache, as the
// kubelet counts it — the page cache the kernel reclaims before OOM-killing).
// With no limit ("max", v1's huge number, or a limit above the host's memory)
// it reads /proc/meminfo: MemTotal and MemTotal−MemAvailable.
//
// Root prefixes every path it reads, so tests can point it at a fixture tree;
// "" means "/". The cgroup is located once, at construction.
type CPUProbe struct {
	root      string
	cgroup    cgroupFiles // zero when no memory cgroup was found
	hostTotal uint64      // MemTotal at construction, to spot limits above the host

	mu    sync.Mutex // guards files; one Read at a time reuses open files and buffers
	files map[string]*heldFile
}

// CgroupInfo says where the CPU probe found its limit.
type CgroupInfo struct {
	Version int    // 1 or 2; 0 when no memory cgroup was found
	Dir     string // the cgroup directory read
}

type cgroupFiles struct {
	version int
	dir     string   // the process's cgroup directory
	parents []string // v2: ancestors up to the mount, nearest first
}

// NewCPUProbe locates this process's memory cgroup under root.
func NewCPUProbe(root string) *CPUProbe {
	if root == "" {
		root = "/"
	}
	p := &CPUProbe{root: root, files: make(map[string]*heldFile)}
	p.cgroup, _ = findMemoryCgroup(root)
	if host, err := readMeminfo(filepath.Join(root, "proc/meminfo")); err == nil {
		p.hostTotal = host.Total
	}
	return p
}

// NewCgroupProbe reads the given memory cgroup (version 1 or 2, its
// directory) instead of this process's: what a process inside it would see.
func NewCgroupProbe(version int, dir string) *CPUProbe {
	p := &CPUProbe{root: "/", cgroup: cgroupFiles{version: version, dir: dir}, files: make(map[string]*heldFile)}
	if host, err := readMeminfo("/proc/meminfo"); err == nil {
		p.hostTotal = host.Total
	}
	return p
}

// Cgroup reports the cgroup the probe reads, if any.
func (p *CPUProbe) Cgroup() CgroupInfo {
	return CgroupInfo{Version: p.cgroup.version, Dir: p.cgroup.dir}
}

// Read returns the current usage. Files stay open between reads (procfs and
// cgroupfs regenerate their contents on every read from offset 0), which
// keeps a read to a few microseconds.
func (p *CPUProbe) Read() (Usage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cgroup.version != 0 {
		cg, limited, err := p.readCgroupLocked()
		if err != nil {
			return Usage{}, err
		}
		if limited && (p.hostTotal == 0 || cg.Total < p.hostTotal) {
			return cg, nil
		}
	}
	b, err := p.readLocked(filepath.Join(p.root, "proc/meminfo"))
	if err != nil {
		return Usage{}, fmt.Errorf("memory: reading meminfo: %w", err)
	}
	return ParseMeminfo(b)
}

func (p *CPUProbe) readLocked(path string) ([]byte, error) {
	h := p.files[path]
	if h == nil {
		h = &heldFile{path: path}
		p.files[path] = h
	}
	return h.read()
}

func (p *CPUProbe) limitLocked(path string) (uint64, bool, error) {
	b, err := p.readLocked(path)
	if err != nil {
		return 0, false, err
	}
	return parseLimit(path, b)
}

func (p *CPUProbe) uintLocked(path string) (uint64, error) {
	b, err := p.readLocked(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory: parsing %s: %w", path, err)
	}
	return v, nil
}

func (p *CPUProbe) readCgroupLocked() (u Usage, limited bool, err error) {
	dir := p.cgroup.dir
	switch p.cgroup.version {
	case 2:
		limit, ok, err := p.limitLocked(filepath.Join(dir, "memory.max"))
		if err != nil {
			return Usage{}, false, err
		}
		for _, d := range p.cgroup.parents {
			pl, pok, err := p.limitLocked(filepath.Join(d, "memory.max"))
			if err != nil || !pok {
				continue // the root cgroup has no memory.max
			}
			if !ok || pl < limit {
				limit, ok = pl, true
			}
		}
		if !ok {
			return Usage{}, false, nil
		}
		cur, err := p.uintLocked(filepath.Join(dir, "memory.current"))
		if err != nil {
			return Usage{}, false, err
		}
		stat, err := p.readLocked(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return Usage{}, false, err
		}
		inactive, _ := statValue(stat, "inactive_file")
		return Usage{Total: limit, Used: sub(cur, inactive)}, true, nil
	default:
		limit, ok, err := p.limitLocked(filepath.Join(dir, "memory.limit_in_bytes"))
		if err != nil {
			return Usage{}, false, err
		}
		stat, err := p.readLocked(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return Usage{}, false, err
		}
		// hierarchical_memory_limit is the tightest limit of the cgroup and its
		// ancestors, which is what the OOM killer enforces.
		if h, found := statValue(stat, "hierarchical_memory_limit"); found && !v1Unlimited(h) && (!ok || h < limit) {
			limit, ok = h, true
		}
		if !ok {
			return Usage{}, false, nil
		}
		inactive, found := statValue(stat, "total_inactive_file")
		if !found {
			inactive, _ = statValue(stat, "inactive_file")
		}
		usage, err := p.uintLocked(filepath.Join(dir, "memory.usage_in_bytes"))
		if err != nil {
			return Usage{}, false, err
		}
		return Usage{Total: limit, Used: sub(usage, inactive)}, true, nil
	}
}

// heldFile is a file kept open and re-read from offset 0.
type heldFile struct {
	path string
	f    *os.File
	buf  []byte
}

func (h *heldFile) read() ([]byte, error) {
	if h.f == nil {
		f, err := os.Open(h.path)
		if err != nil {
			return nil, err
		}
		h.f, h.buf = f, make([]byte, 4096)
	}
	for {
		n, err := h.f.ReadAt(h.buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			h.f.Close()
			h.f = nil
			return nil, err
		}
		if n < len(h.buf) {
			return h.buf[:n], nil
		}
		h.buf = make([]byte, 2*len(h.buf))
	}
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// v1Unlimited recognises v1's "no limit": PAGE_COUNTER_MAX rounded to pages,
// which is near 2^63 on 64-bit kernels.
func v1Unlimited(v uint64) bool { return v >= 1<<62 }

// parseLimit reads a limit file: "max" (v2) or a huge number (v1) mean none.
func parseLimit(path string, b []byte) (uint64, bool, error) {
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("memory: parsing %s: %w", path, err)
	}
	if v1Unlimited(v) {
		return 0, false, nil
	}
	return v, true, nil
}

// statValue finds "key value" in memory.stat text without allocating.
func statValue(b []byte, key string) (uint64, bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > len(key) && line[len(key)] == ' ' && string(line[:len(key)]) == key {
			v, err := strconv.ParseUint(string(bytes.TrimSpace(line[len(key)+1:])), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// ParseMeminfo reads MemTotal and MemAvailable (kB) from /proc/meminfo text.
func ParseMeminfo(b []byte) (Usage, error) {
	total, haveTotal := meminfoValue(b, "MemTotal:")
	avail, haveAvail := meminfoValue(b, "MemAvailable:")
	if !haveTotal || !haveAvail {
		return Usage{}, errors.New("memory: meminfo lacks MemTotal or MemAvailable")
	}
	return Usage{Total: total, Used: sub(total, avail)}, nil
}

func meminfoValue(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 || (i > 0 && b[i-1] != '\n') {
		return 0, false
	}
	rest := b[i+len(key):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	rest = bytes.TrimSpace(rest)
	kb := bytes.HasSuffix(rest, []byte("kB"))
	rest = bytes.TrimSpace(bytes.TrimSuffix(rest, []byte("kB")))
	v, err := strconv.ParseUint(string(rest), 10, 64)
	if err != nil {
		return 0, false
	}
	if kb {
		v *= 1024
	}
	return v, true
}

func readMeminfo(path string) (Usage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Usage{}, fmt.Errorf("memory: reading meminfo: %w", err)
	}
	return ParseMeminfo(b)
}

type mount struct {
	root, point, fstype string
	options             []string
}

// findMemoryCgroup locates this process's memory cgroup directory from
// /proc/self/cgroup and /proc/self/mountinfo. A v1 memory controller wins
// over the v2 unified hierarchy (on hybrid hosts v2 then has no memory
// controller).
func findMemoryCgroup(root string) (cgroupFiles, error) {
	cgText, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return cgroupFiles{}, err
	}
	mounts, err := readMountinfo(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return cgroupFiles{}, err
	}
	var v1Path, v2Path string
	var haveV1, haveV2 bool
	for line := range strings.Lines(string(cgText)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path, haveV2 = parts[2], true
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "memory" {
				v1Path, haveV1 = parts[2], true
			}
		}
	}
	if haveV1 {
		for _, m := range mounts {
			if m.fstype == "cgroup" && contains(m.options, "memory") {
				if dir, ok := resolve(root, m, v1Path, "memory.limit_in_bytes"); ok {
					return cgroupFiles{version: 1, dir: dir}, nil
				}
			}
		}
	}
	if haveV2 {
		for _, m := range mounts {
			if m.fstype == "cgroup2" {
				if dir, ok := resolve(root, m, v2Path, "memory.current"); ok {
					var parents []string
					top := filepath.Join(root, m.point)
					for d := filepath.Dir(dir); strings.HasPrefix(d, top) && d != dir; d = filepath.Dir(d) {
						parents = append(parents, d)
						if d == top {
							break
						}
					}
					return cgroupFiles{version: 2, dir: dir, parents: parents}, nil
				}
			}
		}
	}
	return cgroupFiles{}, errors.New("memory: no memory cgroup")
}

// resolve maps a cgroup path to a directory under the mount. Inside a
// container the mount's root is often the container's own cgroup, so the
// mount root is stripped from the path first; the directory must hold probe.
func resolve(root string, m mount, cgPath, probe string) (string, bool) {
	rel := cgPath
	if m.root != "/" {
		if r, ok := strings.CutPrefix(cgPath, m.root); ok {
			rel = r
		}
	}
	for _, cand := range []string{filepath.Join(root, m.point, rel), filepath.Join(root, m.point)} {
		if _, err := os.Stat(filepath.Join(cand, probe)); err == nil {
			return cand, true
		}
	}
	return "", false
}

func readMountinfo(path string) ([]mount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []mount
	for line := range strings.Lines(string(b)) {
		pre, post, ok := strings.Cut(strings.TrimSpace(line), " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, mount{root: f[3], point: f[4], fstype: g[0], options: strings.Split(g[2], ",")})
	}
	return out, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// CgroupMount finds the hierarchy that holds memory cgroups: the v1 memory
// controller's mount (version 1) or the unified cgroup2 mount (version 2).
// Root prefixes /proc as in NewCPUProbe.
func CgroupMount(root string) (version int, mountpoint string, err error) {
	if root == "" {
		root = "/"
	}
	mounts, err := readMountinfo(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return 0, "", err
	}
	for _, m := range mounts {
		if m.fstype == "cgroup" && contains(m.options, "memory") {
			return 1, m.point, nil
		}
	}
	for _, m := range mounts {
		if m.fstype == "cgroup2" {
			return 2, m.point, nil
		}
	}
	return 0, "", errors.New("memory: no cgroup hierarchy mounted")
}
