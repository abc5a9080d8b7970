package synthetic

import (
	"context"
	"sync"
	"testing"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
)

// fakeGPU counts device bytes held, and the most held at once.
type fakeGPU struct {
	mu           sync.Mutex
	held, peak   uint64
	closed       bool
	ordinalAsked int
}

func (g *fakeGPU) Alloc(n uint64) (func() error, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held += n
	g.peak = max(g.peak, g.held)
	return func() error {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.held -= n
		return nil
	}, nil
}

func (g *fakeGPU) Close() error { g.closed = true; return nil }

// On a GPU the instrument holds exactly its configured device bytes while
// loaded, adds the page's working set per megapixel while a page runs, and
// gives everything back (and its context) when closed.
func TestGPUInstrumentHoldsExactDeviceBytes(t *testing.T) {
	t.Parallel()
	g := &fakeGPU{}
	e := Engine{OpenGPU: func(ordinal int) (GPU, error) { g.ordinalAsked = ordinal; return g, nil }}
	m, err := e.Load(context.Background(), engine.Spec{Model: "synthetic:1MiB,gpu=64MiB,gws=8MiB", Config: "1MiB,gpu=64MiB,gws=8MiB", Device: "cuda:3", CUDAOrdinal: 0})
	if err != nil {
		t.Fatal(err)
	}
	if g.held != 64<<20 || g.ordinalAsked != 0 {
		t.Fatalf("after load: %d bytes held on ordinal %d, want 64 MiB on 0 (the runner sees its GPU alone)", g.held, g.ordinalAsked)
	}
	h, err := m.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Process(context.Background(), engine.Image{Number: 1, Width: 2000, Height: 1000}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if g.peak != 64<<20+16<<20 || g.held != 64<<20 {
		t.Fatalf("a 2 MP page: peak %d MiB, held after %d MiB; want 80 and 64", g.peak>>20, g.held>>20)
	}
	_ = h.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if g.held != 0 || !g.closed {
		t.Fatalf("after close: %d bytes held, context closed %v", g.held, g.closed)
	}
	kinds := e.DeviceKinds("1MiB,gpu=64MiB")
	if len(kinds) != 2 || kinds[0] != device.CUDA {
		t.Fatalf("device kinds %v, want cuda first", kinds)
	}
	if k := e.DeviceKinds("1MiB"); len(k) != 1 || k[0] != device.CPU {
		t.Fatalf("a model without GPU sizes runs on %v, want the CPU only", k)
	}
	f, _ := e.Estimate("1MiB,ws=2MiB,gpu=64MiB,gws=8MiB", device.CUDA)
	if f.Device.Load != 64<<20+contextDeviceBytes || f.Device.PerMegapixel != 8<<20 || f.Host.Load != 1<<20+contextHostBytes || f.Host.PerMegapixel != 2<<20 {
		t.Fatalf("GPU footprint %+v", f)
	}
}
