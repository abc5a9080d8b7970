package ppocr

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ONNX Runtime's C API (onnxruntime_c_api.h) reached by its ABI:
// OrtGetApiBase returns {GetApi, GetVersionString}; GetApi(version)
// returns the OrtApi, a table of function pointers that only ever grows at
// its end, so a function's index in it is fixed for good.
typedef struct { const void *(*GetApi)(uint32_t); const char *(*GetVersionString)(void); } lectorOrtApiBase;
typedef const lectorOrtApiBase *(*lectorGetApiBase)(void);
typedef void *(*lectorAddRunConfigEntry)(void *options, const char *key, const char *value);
typedef const char *(*lectorGetErrorMessage)(const void *status);
typedef void (*lectorReleaseStatus)(void *status);

// Indices in the OrtApi table (offsetof(OrtApi, X) / sizeof(void *) in
// onnxruntime_c_api.h; the same in every version that has them).
enum { lectorGetErrorMessageIdx = 2, lectorReleaseStatusIdx = 93, lectorAddRunConfigEntryIdx = 165 };

// lectorOrtApi returns the OrtApi of the library lib (already loaded by
// the binding: RTLD_NOLOAD finds it and loads nothing) at C API version
// 24, or NULL.
static const void *const *lectorOrtApi(const char *lib) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL) return NULL;
	lectorGetApiBase base = (lectorGetApiBase)dlsym(h, "OrtGetApiBase");
	dlclose(h);
	if (base == NULL) return NULL;
	return (const void *const *)base()->GetApi(24);
}

// lectorAddRunConfigEntry calls OrtApi::AddRunConfigEntry; it returns NULL
// or the error's message (to be freed).
static char *lectorAddRunConfig(const void *const *api, void *options, const char *key, const char *value) {
	void *st = ((lectorAddRunConfigEntry)api[lectorAddRunConfigEntryIdx])(options, key, value);
	if (st == NULL) return NULL;
	const char *msg = ((lectorGetErrorMessage)api[lectorGetErrorMessageIdx])(st);
	char *out = msg ? strdup(msg) : strdup("unknown error");
	((lectorReleaseStatus)api[lectorReleaseStatusIdx])(st);
	return out;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// The OrtApi table of the loaded library, found once.
var (
	ortAPIOnce sync.Once
	ortAPI     *unsafe.Pointer
	ortAPIErr  error
)

func loadedOrtAPI() (*unsafe.Pointer, error) {
	ortAPIOnce.Do(func() {
		ortMu.Lock()
		lib := ortLib
		ortMu.Unlock()
		if lib == "" {
			ortAPIErr = errors.New("ONNX Runtime is not loaded")
			return
		}
		cs := C.CString(lib)
		defer C.free(unsafe.Pointer(cs))
		api := C.lectorOrtApi(cs)
		if api == nil {
			ortAPIErr = fmt.Errorf("ONNX Runtime's C API (version 24) not found in %s", lib)
			return
		}
		ortAPI = (*unsafe.Pointer)(unsafe.Pointer(api))
	})
	return ortAPI, ortAPIErr
}

// addRunConfigEntry sets a run's configuration entry (ONNX Runtime's
// OrtApi::AddRunConfigEntry, keys in onnxruntime_run_options_config_keys.h),
// which github.com/yalue/onnxruntime_go v1.27.0 does not wrap. It reads the
// binding's OrtRunOptions pointer, the only field of its RunOptions
// (TestRunConfigEntry checks the pair works: an unknown value is refused).
func addRunConfigEntry(ro *ort.RunOptions, key, value string) error {
	api, err := loadedOrtAPI()
	if err != nil {
		return err
	}
	p := *(*unsafe.Pointer)(unsafe.Pointer(ro))
	if p == nil {
		return errors.New("run options not initialised")
	}
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	if msg := C.lectorAddRunConfig(api, p, ck, cv); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return fmt.Errorf("ONNX Runtime run option %s=%s: %s", key, value, C.GoString(msg))
	}
	return nil
}

// trimCHeap returns glibc's free memory to the OS (malloc_trim), as a
// runner does between pages (runner.releaseMemory): between a page's
// readings (readPage), and in the tests that measure what a run leaves
// resident.
func trimCHeap() { C.malloc_trim(0) }
