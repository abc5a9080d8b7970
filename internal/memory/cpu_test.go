package memory

import (
	"os"
	"path/filepath"
	"testing"
)

// Real file contents, trimmed, from a Debian host and from containers.
const (
	meminfo16G = `MemTotal:       16384000 kB
MemFree:         1000000 kB
MemAvailable:   12288000 kB
Buffers:          100000 kB
Cached:          2000000 kB
`
	mountinfoV1 = `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	mountinfoV2 = `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	// A container whose cgroup namespace mount root is its own cgroup.
	mountinfoV2Container = `600 500 0:26 /kubepods/pod1/ctr /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw
`
	statV2 = `anon 700000000
file 300000000
active_file 100000000
inactive_file 200000000
`
	statV1 = `cache 300000000
rss 700000000
inactive_file 200000000
hierarchical_memory_limit 9223372036854771712
total_inactive_file 250000000
`
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const gib = 1 << 30

func TestCPUProbe(t *testing.T) {
	t.Parallel()
	host := Usage{Total: 16384000 * 1024, Used: (16384000 - 12288000) * 1024}
	tests := []struct {
		name    string
		files   map[string]string
		want    Usage
		version int
	}{
		{
			name: "v2 limited nested path",
			files: map[string]string{
				"proc/self/cgroup":    "0::/system.slice/lector.service/worker\n",
				"proc/self/mountinfo": mountinfoV2,
				"sys/fs/cgroup/system.slice/lector.service/worker/memory.max":     "1073741824\n",
				"sys/fs/cgroup/system.slice/lector.service/worker/memory.current": "1000000000\n",
				"sys/fs/cgroup/system.slice/lector.service/worker/memory.stat":    statV2,
			},
			want:    Usage{Total: gib, Used: 800000000},
			version: 2,
		},
		{
			name: "v2 max with a tighter parent",
			files: map[string]string{
				"proc/self/cgroup":                 "0::/a/b\n",
				"proc/self/mountinfo":              mountinfoV2,
				"sys/fs/cgroup/a/memory.max":       "2147483648\n",
				"sys/fs/cgroup/a/b/memory.max":     "max\n",
				"sys/fs/cgroup/a/b/memory.current": "1000000000\n",
				"sys/fs/cgroup/a/b/memory.stat":    statV2,
			},
			want:    Usage{Total: 2 * gib, Used: 800000000},
			version: 2,
		},
		{
			name: "v2 max everywhere falls back to meminfo",
			files: map[string]string{
				"proc/self/cgroup":                        "0::/user.slice\n",
				"proc/self/mountinfo":                     mountinfoV2,
				"sys/fs/cgroup/user.slice/memory.max":     "max\n",
				"sys/fs/cgroup/user.slice/memory.current": "1000000000\n",
				"sys/fs/cgroup/user.slice/memory.stat":    statV2,
			},
			want:    host,
			version: 2,
		},
		{
			name: "v2 container namespace root",
			files: map[string]string{
				"proc/self/cgroup":             "0::/\n",
				"proc/self/mountinfo":          mountinfoV2Container,
				"sys/fs/cgroup/memory.max":     "536870912\n",
				"sys/fs/cgroup/memory.current": "300000000\n",
				"sys/fs/cgroup/memory.stat":    statV2,
			},
			want:    Usage{Total: 512 << 20, Used: 100000000},
			version: 2,
		},
		{
			name: "v2 limit larger than the host uses meminfo",
			files: map[string]string{
				"proc/self/cgroup":                 "0::/big\n",
				"proc/self/mountinfo":              mountinfoV2,
				"sys/fs/cgroup/big/memory.max":     "68719476736\n",
				"sys/fs/cgroup/big/memory.current": "1000000000\n",
				"sys/fs/cgroup/big/memory.stat":    statV2,
			},
			want:    host,
			version: 2,
		},
		{
			name: "v1 limited nested path on a hybrid host",
			files: map[string]string{
				"proc/self/cgroup":    "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n",
				"proc/self/mountinfo": mountinfoV1,
				"sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": "1073741824\n",
				"sys/fs/cgroup/memory/process_api/abc/memory.usage_in_bytes": "1000000000\n",
				"sys/fs/cgroup/memory/process_api/abc/memory.stat":           statV1,
			},
			want:    Usage{Total: gib, Used: 750000000},
			version: 1,
		},
		{
			name: "v1 unlimited uses meminfo",
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/\n",
				"proc/self/mountinfo":                        mountinfoV1,
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
				"sys/fs/cgroup/memory/memory.usage_in_bytes": "1000000000\n",
				"sys/fs/cgroup/memory/memory.stat":           statV1,
			},
			want:    host,
			version: 1,
		},
		{
			name: "v1 parent limit through hierarchical_memory_limit",
			files: map[string]string{
				"proc/self/cgroup":                               "4:memory:/a/b\n",
				"proc/self/mountinfo":                            mountinfoV1,
				"sys/fs/cgroup/memory/a/b/memory.limit_in_bytes": "9223372036854771712\n",
				"sys/fs/cgroup/memory/a/b/memory.usage_in_bytes": "1000000000\n",
				"sys/fs/cgroup/memory/a/b/memory.stat":           "hierarchical_memory_limit 2147483648\ntotal_inactive_file 0\n",
			},
			want:    Usage{Total: 2 * gib, Used: 1000000000},
			version: 1,
		},
		{
			name: "no cgroup files at all",
			files: map[string]string{
				"proc/self/cgroup":    "",
				"proc/self/mountinfo": "",
			},
			want:    host,
			version: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["proc/meminfo"] = meminfo16G
			root := writeTree(t, tt.files)
			p := NewCPUProbe(root)
			if got := p.Cgroup().Version; got != tt.version {
				t.Errorf("cgroup version = %d, want %d", got, tt.version)
			}
			got, err := p.Read()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Read() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	t.Parallel()
	u, err := ParseMeminfo([]byte(meminfo16G))
	if err != nil {
		t.Fatal(err)
	}
	if u.Total != 16384000*1024 || u.Used != 4096000*1024 {
		t.Fatalf("got %+v", u)
	}
	if _, err := ParseMeminfo([]byte("MemTotal: 100 kB\n")); err == nil {
		t.Fatal("meminfo without MemAvailable parsed without error")
	}
}

func TestCPUProbeOnThisMachine(t *testing.T) {
	t.Parallel()
	u, err := NewCPUProbe("").Read()
	if err != nil {
		t.Fatal(err)
	}
	if !(u.Used > 0 && u.Used < u.Total) {
		t.Fatalf("implausible reading %+v", u)
	}
}

func BenchmarkCPUProbeRead(b *testing.B) {
	p := NewCPUProbe("")
	for b.Loop() {
		if _, err := p.Read(); err != nil {
			b.Fatal(err)
		}
	}
}
