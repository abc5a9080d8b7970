// Package cuda reaches NVIDIA's CUDA driver API (libcuda.so.1, installed
// with the driver) at run time through dlopen: Lector builds without the
// CUDA toolkit, and a binary built anywhere runs everywhere; where the
// driver is absent, Open fails with device_unavailable. It offers only what
// Lector's GPU instrument needs: device memory allocated and touched on a
// device's primary context, and freed. The entry points and their _v2
// names are those cuda.h maps the plain names to since CUDA 11 (CUDA
// Driver API reference, "Memory Management" and "Primary Context
// Management").
package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef unsigned long long CUdeviceptr;

typedef struct {
	void *lib;
	CUresult (*init)(unsigned int);
	CUresult (*deviceGet)(CUdevice *, int);
	CUresult (*primaryRetain)(CUcontext *, CUdevice);
	CUresult (*primaryRelease)(CUdevice);
	CUresult (*setCurrent)(CUcontext);
	CUresult (*memAlloc)(CUdeviceptr *, size_t);
	CUresult (*memFree)(CUdeviceptr);
	CUresult (*memsetD8)(CUdeviceptr, unsigned char, size_t);
	CUresult (*sync)(void);
	CUresult (*errorString)(CUresult, const char **);
} lector_cuda;

static const char *lector_cuda_dlerror(void) { return dlerror(); }

// lector_cuda_open loads the library and its entry points: 0, or -1 when
// the library cannot be loaded, or -2 when an entry point is missing.
static int lector_cuda_open(lector_cuda *c, const char *path) {
	c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (c->lib == NULL) return -1;
#define LECTOR_SYM(field, name) if ((*(void **)&c->field = dlsym(c->lib, name)) == NULL) return -2;
	LECTOR_SYM(init, "cuInit")
	LECTOR_SYM(deviceGet, "cuDeviceGet")
	LECTOR_SYM(primaryRetain, "cuDevicePrimaryCtxRetain")
	LECTOR_SYM(primaryRelease, "cuDevicePrimaryCtxRelease_v2")
	LECTOR_SYM(setCurrent, "cuCtxSetCurrent")
	LECTOR_SYM(memAlloc, "cuMemAlloc_v2")
	LECTOR_SYM(memFree, "cuMemFree_v2")
	LECTOR_SYM(memsetD8, "cuMemsetD8_v2")
	LECTOR_SYM(sync, "cuCtxSynchronize")
	LECTOR_SYM(errorString, "cuGetErrorString")
#undef LECTOR_SYM
	return 0;
}

static CUresult lector_cuda_init(lector_cuda *c) { return c->init(0); }

static CUresult lector_cuda_retain(lector_cuda *c, int ordinal, CUdevice *dev, CUcontext *ctx) {
	CUresult r = c->deviceGet(dev, ordinal);
	if (r != 0) return r;
	return c->primaryRetain(ctx, *dev);
}

static CUresult lector_cuda_release(lector_cuda *c, CUdevice dev) { return c->primaryRelease(dev); }

// lector_cuda_alloc allocates n bytes and writes every byte, so the memory
// is really in use (as NVML counts it), and waits for the write.
static CUresult lector_cuda_alloc(lector_cuda *c, CUcontext ctx, size_t n, CUdeviceptr *p) {
	CUresult r = c->setCurrent(ctx);
	if (r != 0) return r;
	if ((r = c->memAlloc(p, n)) != 0) return r;
	if ((r = c->memsetD8(*p, 1, n)) != 0 || (r = c->sync()) != 0) {
		c->memFree(*p);
		return r;
	}
	return 0;
}

static CUresult lector_cuda_free(lector_cuda *c, CUcontext ctx, CUdeviceptr p) {
	CUresult r = c->setCurrent(ctx);
	if (r != 0) return r;
	return c->memFree(p);
}

static const char *lector_cuda_error(lector_cuda *c, CUresult r) {
	const char *s = NULL;
	if (c->errorString(r, &s) != 0 || s == NULL) return "unknown CUDA error";
	return s;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/lector-ocr/lector/internal/errcode"
)

// Library is the driver library's name as the loader finds it.
const Library = "libcuda.so.1"

// Driver is the loaded driver library. It is never unloaded: the driver
// keeps state for the life of the process.
type Driver struct {
	c *C.lector_cuda
}

var (
	openOnce sync.Once
	driver   *Driver
	openErr  error
)

// Open loads the driver and initialises it once per process. Without the
// library (no NVIDIA driver) or when cuInit fails (no usable GPU), the
// error is device_unavailable and says which.
func Open() (*Driver, error) {
	openOnce.Do(func() { driver, openErr = open(Library) })
	return driver, openErr
}

func open(path string) (*Driver, error) {
	c := (*C.lector_cuda)(C.calloc(1, C.size_t(unsafe.Sizeof(C.lector_cuda{}))))
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	switch C.lector_cuda_open(c, cpath) {
	case -1:
		msg := C.GoString(C.lector_cuda_dlerror())
		C.free(unsafe.Pointer(c))
		return nil, errcode.New(errcode.DeviceUnavailable, "no NVIDIA driver here: %s cannot be loaded (%s)", path, msg)
	case -2:
		C.free(unsafe.Pointer(c))
		return nil, errcode.New(errcode.DeviceUnavailable, "%s lacks a CUDA entry point Lector needs (a driver older than CUDA 11?)", path)
	}
	d := &Driver{c: c}
	if r := C.lector_cuda_init(c); r != 0 {
		return nil, errcode.New(errcode.DeviceUnavailable, "cuInit failed: %s", d.errorString(r))
	}
	return d, nil
}

func (d *Driver) errorString(r C.CUresult) string {
	return fmt.Sprintf("%s (CUresult %d)", C.GoString(C.lector_cuda_error(d.c, r)), int(r))
}

// Context is a device's primary context, retained.
type Context struct {
	d       *Driver
	dev     C.CUdevice
	ctx     C.CUcontext
	ordinal int
}

// Retain retains the primary context of the device with CUDA ordinal
// ordinal. An ordinal with no device is device_unavailable.
func (d *Driver) Retain(ordinal int) (*Context, error) {
	c := &Context{d: d, ordinal: ordinal}
	if r := C.lector_cuda_retain(d.c, C.int(ordinal), &c.dev, &c.ctx); r != 0 {
		return nil, errcode.New(errcode.DeviceUnavailable, "CUDA device %d: %s", ordinal, d.errorString(r))
	}
	return c, nil
}

// Release releases the primary context; the driver destroys it (and every
// allocation left in it) when the last retain is released.
func (c *Context) Release() error {
	if r := C.lector_cuda_release(c.d.c, c.dev); r != 0 {
		return fmt.Errorf("cuda: releasing device %d's context: %s", c.ordinal, c.d.errorString(r))
	}
	return nil
}

// Alloc allocates n bytes of device memory and writes every byte of it,
// so that it is resident and counted by NVML. Out of memory is
// insufficient_memory.
func (c *Context) Alloc(n uint64) (Ptr, error) {
	if n == 0 {
		return 0, nil
	}
	var p C.CUdeviceptr
	if r := C.lector_cuda_alloc(c.d.c, c.ctx, C.size_t(n), &p); r != 0 {
		const outOfMemory = 2 // CUDA_ERROR_OUT_OF_MEMORY
		if r == outOfMemory {
			return 0, errcode.New(errcode.InsufficientMemory, "CUDA device %d: out of memory allocating %d MiB", c.ordinal, n>>20)
		}
		return 0, fmt.Errorf("cuda: allocating %d bytes on device %d: %s", n, c.ordinal, c.d.errorString(r))
	}
	return Ptr(p), nil
}

// Free frees memory from Alloc; a zero Ptr is a no-op.
func (c *Context) Free(p Ptr) error {
	if p == 0 {
		return nil
	}
	if r := C.lector_cuda_free(c.d.c, c.ctx, C.CUdeviceptr(p)); r != 0 {
		return fmt.Errorf("cuda: freeing on device %d: %s", c.ordinal, c.d.errorString(r))
	}
	return nil
}

// Ptr is a device address.
type Ptr uint64
