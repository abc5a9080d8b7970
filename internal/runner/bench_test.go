package runner_test

import (
	"context"
	"testing"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/runner"
)

// BenchmarkRoundTrip1MP is the IPC cost of one page: a 1-megapixel 8-bit
// image (1 MB of body) through the socket to a zero-time synthetic engine
// and its result back.
func BenchmarkRoundTrip1MP(b *testing.B) {
	p, _ := launch(b, "synthetic:1MiB", 1)
	im := engine.Image{Number: 1, Width: 1000, Height: 1000, Format: "gray8", Data: make([]byte, 1000*1000)}
	b.SetBytes(int64(len(im.Data)))
	for b.Loop() {
		if _, err := p.Process(context.Background(), im, engine.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartToReady is a runner's start-up: exec, load of a 1 MiB
// synthetic model, socket listening, ready line read.
func BenchmarkStartToReady(b *testing.B) {
	l := launcher(b.TempDir())
	for b.Loop() {
		p, err := l.Launch(context.Background(), runner.Spec{Model: "synthetic:1MiB", Device: "cpu", Slots: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = p.Stop(context.Background())
		b.StartTimer()
	}
}
