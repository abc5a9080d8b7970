package model

import (
	"context"

	"github.com/lector-ocr/lector/internal/runner"
)

// ProcessLauncher launches real `lector runner` processes.
type ProcessLauncher struct {
	Launcher *runner.Launcher
	// Slots returns how many requests a runner on device serves at once; it
	// matches the device's lanes in the service pool, so a lane never waits
	// for a slot.
	Slots func(device string) int
}

var _ Launcher = ProcessLauncher{}

// Launch starts a runner for model on device.
func (p ProcessLauncher) Launch(ctx context.Context, model, device string) (Runner, error) {
	slots := 1
	if p.Slots != nil {
		slots = p.Slots(device)
	}
	proc, err := p.Launcher.Launch(ctx, runner.Spec{Model: model, Device: device, Slots: slots})
	if err != nil {
		return nil, err
	}
	return proc, nil
}
