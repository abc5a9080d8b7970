package cli

import (
	"context"
	"errors"
)

func runRunner(ctx context.Context, io IO, args []string) error {
	return errors.New("runner: not built yet")
}
