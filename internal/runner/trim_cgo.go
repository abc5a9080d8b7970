//go:build cgo && linux

package runner

/*
#include <malloc.h>
*/
import "C"

// trimCHeap gives the C heap's free memory back to the OS (glibc's
// malloc_trim): an engine's page buffers (Tesseract's, ONNX Runtime's)
// are freed to malloc, which otherwise keeps them resident.
func trimCHeap() { C.malloc_trim(0) }

// holdCHeapWhileBusy makes glibc keep freed memory while pages run and
// give it back only when trimCHeap asks, at idle: buffers up to 32 MiB
// (M_MMAP_THRESHOLD's upper bound on 64-bit) come from the heap rather than
// a fresh mmap each, and a free at the heap's top does not shrink it
// (M_TRIM_THRESHOLD). With ONNX Runtime's arena off, it halved the system
// time of PP-OCR's pages (docs/BENCHMARKS.md); Tesseract's buffers are
// held and returned the same way.
func holdCHeapWhileBusy() {
	C.mallopt(C.M_MMAP_THRESHOLD, 32<<20)
	C.mallopt(C.M_TRIM_THRESHOLD, 1<<30)
}
