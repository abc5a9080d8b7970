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
