//go:build !cgo || !linux

package runner

// trimCHeap does nothing without cgo on Linux (no C heap to trim).
func trimCHeap() {}

// holdCHeapWhileBusy does nothing without cgo on Linux.
func holdCHeapWhileBusy() {}
