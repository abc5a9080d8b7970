package model_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lector-ocr/lector/internal/cli"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/runner"
)

// A model loads on first use in a runner process of its own, is shared by
// reference, and is unloaded — its process gone — when asked (or when idle,
// or under memory pressure).
func ExampleManager() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	m := model.NewManager(model.Options{
		Launcher: model.ProcessLauncher{Launcher: &runner.Launcher{
			// This test binary stands in for lector (TestMain); the synthetic
			// engine allocates the memory its name says.
			Exe: os.Args[0], Env: append(os.Environ(), cli.TestMainEnv+"=1", "LECTOR_ENABLE_SYNTHETIC=1"), Dir: dir,
		}},
		KeepAlive: model.DefaultKeepAlive, // an idle instance stays this long (0 would unload it at once)
	})
	ctx := context.Background()
	defer m.Stop(ctx)

	lease, err := m.Acquire(ctx, "synthetic:4MiB", "cpu", model.AcquireOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	page, err := lease.Runner().Process(ctx, engine.Image{Number: 1, Width: 640, Height: 480}, engine.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(page.Text())
	fmt.Println(len(m.List()), "instance,", m.List()[0].Refs, "reference")
	lease.Release()

	if err := m.Unload(ctx, "synthetic:4MiB", "cpu"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(len(m.List()), "instances; unloaded:", m.Unloads()[0].Reason)
	// Output:
	// synthetic page 1
	// 640x480
	// 1 instance, 1 reference
	// 0 instances; unloaded: explicit
}
