//go:build cgo && linux

package runner

/*
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

// lector_churn allocates n blocks of size bytes, touches them and frees
// them newest first (so they merge into the arena's top).
static void lector_churn(int n, size_t size) {
	void **p = malloc(n * sizeof(void *));
	if (p == NULL) return;
	for (int i = 0; i < n; i++) {
		p[i] = malloc(size);
		if (p[i] != NULL) memset(p[i], 1, size);
	}
	for (int i = n - 1; i >= 0; i--) free(p[i]);
	free(p);
}
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
//
// malloc_trim gives back only the main arena's top: a runner whose engine
// allocates from threads of its own keeps what a page freed in their
// arenas unless it runs with one (ppocr.Engine.RunnerEnv).
func holdCHeapWhileBusy() {
	C.mallopt(C.M_MMAP_THRESHOLD, 32<<20)
	C.mallopt(C.M_TRIM_THRESHOLD, 1<<30)
}

// churnCHeap allocates, touches and frees n C blocks of size bytes on the
// calling thread (tests: what a page's buffers do to glibc's heap).
func churnCHeap(n, size int) { C.lector_churn(C.int(n), C.size_t(size)) }

// haveCHeap: trimCHeap and churnCHeap work on glibc's heap.
const haveCHeap = true
