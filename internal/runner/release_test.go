package runner

import (
	"runtime/metrics"
	"testing"
)

// sink keeps an allocation alive until the test drops it.
var sink []byte

// TestReleaseMemoryReturnsTheGoHeap: the garbage pages leave on the Go heap
// (the structure pipeline's page copies, PP-OCR's tensors) goes back to the
// OS when the runner is idle, not at Go's next collection: after a 64 MiB
// page buffer is dropped and releaseMemory runs, the heap holds neither
// the object nor its free span resident.
func TestReleaseMemoryReturnsTheGoHeap(t *testing.T) {
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = 1
	}
	sink = nil
	releaseMemory()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(s)
	var resident uint64
	for _, x := range s {
		resident += x.Value.Uint64()
	}
	if resident > 32<<20 {
		t.Fatalf("the Go heap keeps %d MiB resident after a 64 MiB page was dropped and memory released", resident>>20)
	}
}
