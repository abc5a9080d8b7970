package model

import (
	"context"
	"testing"
	"time"
)

func benchManager(b *testing.B) *Manager {
	m := NewManager(Options{Launcher: &fakeLauncher{}, KeepAlive: time.Hour})
	b.Cleanup(func() { _ = m.Stop(context.Background()) })
	if err := m.Load(context.Background(), "m:a", "cpu", time.Hour); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkAcquireRelease is one Acquire and Release of a loaded instance,
// including the keep-alive timer they stop and restart.
func BenchmarkAcquireRelease(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	for b.Loop() {
		l, err := m.Acquire(ctx, "m:a", "cpu", AcquireOptions{})
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l, err := m.Acquire(ctx, "m:a", "cpu", AcquireOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			l.Release()
		}
	})
}
