package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/errcode"
)

// A library that is not there is device_unavailable naming it, not a crash.
func TestOpenWithoutDriverIsDeviceUnavailable(t *testing.T) {
	t.Parallel()
	_, err := open("libcuda-not-installed.so.1")
	if errcode.Of(err) != errcode.DeviceUnavailable {
		t.Fatalf("err = %v (%s), want device_unavailable", err, errcode.Of(err))
	}
	if got := errcode.Message(err); got == "" || !strings.Contains(got, "libcuda-not-installed.so.1") {
		t.Fatalf("message %q does not name the library", got)
	}
}

// fakeDriver is a stand-in libcuda.so.1 with the entry points Lector uses:
// host memory behind device pointers, device 0 only, out of memory beyond
// 1 GiB. It proves the dlopen glue (names, calling convention, error
// mapping) on machines without a GPU; bench/gpu-check.sh runs the real one.
const fakeDriver = `
#include <stdlib.h>
#include <string.h>
typedef unsigned long long ptr;
static int current = 0;
int cuInit(unsigned f) { return 0; }
int cuDeviceGet(int *d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
int cuDevicePrimaryCtxRetain(void **c, int d) { *c = (void *)0x1; return 0; }
int cuDevicePrimaryCtxRelease_v2(int d) { return 0; }
int cuCtxSetCurrent(void *c) { current = c != 0; return 0; }
int cuMemAlloc_v2(ptr *p, size_t n) { if (!current) return 201; if (n > (1u << 30)) return 2; *p = (ptr)malloc(n); return *p ? 0 : 2; }
int cuMemsetD8_v2(ptr p, unsigned char v, size_t n) { memset((void *)p, v, n); return 0; }
int cuMemFree_v2(ptr p) { free((void *)p); return 0; }
int cuCtxSynchronize(void) { return 0; }
int cuGetErrorString(int r, const char **s) { *s = r == 2 ? "out of memory" : "invalid device"; return 0; }
`

func TestDriverCallsThroughDlopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, lib := filepath.Join(dir, "fake.c"), filepath.Join(dir, "libcuda.so.1")
	if err := os.WriteFile(src, []byte(fakeDriver), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("building the fake driver: %v\n%s", err, out)
	}
	d, err := open(lib)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Retain(3); errcode.Of(err) != errcode.DeviceUnavailable || !strings.Contains(err.Error(), "invalid device") {
		t.Fatalf("ordinal 3: %v, want device_unavailable with the driver's words", err)
	}
	ctx, err := d.Retain(0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ctx.Alloc(1 << 20)
	if err != nil || p == 0 {
		t.Fatalf("Alloc = %v, %v", p, err)
	}
	if _, err := ctx.Alloc(2 << 30); errcode.Of(err) != errcode.InsufficientMemory {
		t.Fatalf("an allocation over the device's memory: %v, want insufficient_memory", err)
	}
	if err := ctx.Free(p); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Release(); err != nil {
		t.Fatal(err)
	}
}
