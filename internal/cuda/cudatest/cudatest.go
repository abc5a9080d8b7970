// Package cudatest builds a stand-in NVIDIA driver for tests on machines
// without a GPU: a libcuda.so.1 with the CUDA driver entry points Lector's
// GPU instrument calls (internal/cuda) and a libnvidia-ml.so.1 with the
// NVML calls Lector's GPU probe makes (internal/memory). Device memory is
// host memory; what each process holds is written to a file named by its
// pid in a state directory, and the NVML side reads those files back
// (counting only processes still alive, as NVML forgets a process that
// exited), so the runtime sees one GPU whose memory really comes and goes
// with its runners. It is a fake for the runtime's own tests, never a
// replacement for a GPU: bench/gpu-check.sh runs the real thing.
package cudatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ContextBytes is what a retained primary context holds on the fake GPU.
const ContextBytes = 64 << 20

// UUID is the fake GPU's UUID.
const UUID = "GPU-00000000-fake-4ec7-0000-000000000000"

const driver = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
typedef unsigned long long ptr;
static unsigned long long held = 0;
static int current = 0;
static void record(void) {
	const char *dir = getenv("LECTOR_FAKE_GPU_DIR");
	if (dir == NULL) return;
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/%d", dir, (int)getpid());
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) return;
	fprintf(f, "%llu\n", held);
	fclose(f);
	rename(tmp, path);
}
int cuInit(unsigned f) { return 0; }
int cuDeviceGet(int *d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
int cuDevicePrimaryCtxRetain(void **c, int d) { *c = (void *)0x1; held += CONTEXT; record(); return 0; }
int cuDevicePrimaryCtxRelease_v2(int d) { held -= CONTEXT; record(); return 0; }
int cuCtxSetCurrent(void *c) { current = c != 0; return 0; }
int cuMemAlloc_v2(ptr *p, size_t n) {
	if (!current) return 201;
	const char *t = getenv("LECTOR_FAKE_GPU_TOTAL");
	if (t != NULL && held + n > strtoull(t, NULL, 10)) return 2;
	*p = (ptr)malloc(n + sizeof(size_t));
	if (*p == 0) return 2;
	*(size_t *)*p = n;
	*p += sizeof(size_t);
	held += n; record();
	return 0;
}
int cuMemsetD8_v2(ptr p, unsigned char v, size_t n) { memset((void *)p, v, n); return 0; }
int cuMemFree_v2(ptr p) { p -= sizeof(size_t); held -= *(size_t *)p; free((void *)p); record(); return 0; }
int cuCtxSynchronize(void) { return 0; }
int cuGetErrorString(int r, const char **s) { *s = r == 2 ? "out of memory" : "invalid device"; return 0; }
`

const nvml = `
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct { unsigned long long total, free, used; } mem_t;
typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; } proc_t;
static unsigned long long total(void) { const char *t = getenv("LECTOR_FAKE_GPU_TOTAL"); return t ? strtoull(t, NULL, 10) : 0; }
// scan fills out with each live process's bytes and returns how many
// processes hold any.
static int scan(proc_t *out, unsigned int max) {
	const char *dir = getenv("LECTOR_FAKE_GPU_DIR");
	DIR *d = dir ? opendir(dir) : NULL;
	if (d == NULL) return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int pid = atoi(e->d_name);
		if (pid <= 0 || strchr(e->d_name, '.') != NULL || kill(pid, 0) != 0) continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		unsigned long long b = 0;
		if (f == NULL) continue;
		if (fscanf(f, "%llu", &b) != 1) b = 0;
		fclose(f);
		if (b == 0) continue;
		if ((unsigned)n < max) { out[n].pid = pid; out[n].used = b; out[n].gi = out[n].ci = 0xffffffff; }
		n++;
	}
	closedir(d);
	return n;
}
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) { return "fake NVML error"; }
int nvmlDeviceGetCount_v2(unsigned int *n) { *n = 1; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) { if (i != 0) return 2; *h = (void *)0x1; return 0; }
int nvmlDeviceGetName(void *h, char *name, unsigned int len) { snprintf(name, len, "Fake GPU"); return 0; }
int nvmlDeviceGetUUID(void *h, char *uuid, unsigned int len) { snprintf(uuid, len, "%s", UUIDSTR); return 0; }
int nvmlDeviceGetMemoryInfo(void *h, mem_t *m) {
	proc_t p[256];
	int n = scan(p, 256);
	unsigned long long used = 0;
	for (int i = 0; i < n && i < 256; i++) used += p[i].used;
	m->total = total(); m->used = used; m->free = m->total > used ? m->total - used : 0;
	return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void *h, unsigned int *count, proc_t *infos) {
	proc_t p[256];
	int n = scan(p, 256);
	if ((unsigned)n > *count) { *count = n; return 7; }
	for (int i = 0; i < n; i++) infos[i] = p[i];
	*count = n;
	return 0;
}
`

// Fake is a built stand-in driver.
type Fake struct {
	LibDir string // holds libcuda.so.1: put it first on LD_LIBRARY_PATH
	NVML   string // path of the fake libnvidia-ml.so.1
	State  string // one file per process holding device memory
	Total  uint64 // the fake GPU's memory, bytes
}

// Build compiles both libraries with gcc (cgo's compiler, there wherever
// Lector builds) into a temporary directory.
func Build(t testing.TB, total uint64) *Fake {
	t.Helper()
	dir := t.TempDir()
	f := &Fake{LibDir: filepath.Join(dir, "lib"), NVML: filepath.Join(dir, "lib", "libnvidia-ml.so.1"), State: filepath.Join(dir, "state"), Total: total}
	for _, d := range []string{f.LibDir, f.State} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, lib := range []struct{ name, src string }{{"libcuda.so.1", driver}, {"libnvidia-ml.so.1", nvml}} {
		src := filepath.Join(dir, lib.name+".c")
		if err := os.WriteFile(src, []byte(lib.src), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("gcc", "-shared", "-fPIC", "-O1", "-DCONTEXT="+strconv.Itoa(ContextBytes)+"ULL",
			`-DUUIDSTR="`+UUID+`"`, "-o", filepath.Join(f.LibDir, lib.name), src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the fake %s: %v\n%s", lib.name, err, out)
		}
	}
	return f
}

// Used returns the fake GPU's memory in use per live process, as the fake
// NVML reports it.
func (f *Fake) Used() map[int]uint64 {
	out := map[int]uint64{}
	entries, _ := os.ReadDir(f.State)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || syscall.Kill(pid, 0) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(f.State, e.Name()))
		if err != nil {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			out[pid] = n
		}
	}
	return out
}

// Env is what a process needs to use the fake: the state directory, the
// total, and the library directory first on the loader's path.
func (f *Fake) Env() map[string]string {
	path := f.LibDir
	if old := os.Getenv("LD_LIBRARY_PATH"); old != "" {
		path += ":" + old
	}
	return map[string]string{"LECTOR_FAKE_GPU_DIR": f.State, "LECTOR_FAKE_GPU_TOTAL": strconv.FormatUint(f.Total, 10), "LD_LIBRARY_PATH": path}
}
