//go:build !cgo || !linux

package runner

// trimCHeap does nothing without cgo on Linux (no C heap to trim).
func trimCHeap() {}

// holdCHeapWhileBusy does nothing without cgo on Linux.
func holdCHeapWhileBusy() {}

// churnCHeap does nothing without cgo on Linux.
func churnCHeap(n, size int) {}

// haveCHeap: trimCHeap and churnCHeap do nothing here.
const haveCHeap = false
