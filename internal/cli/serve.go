package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lector-ocr/lector/internal/server"
)

func newLogger(io IO) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// runServe starts the node: monitor, then the HTTP server; on ctx's end it
// stops them in reverse order.
func runServe(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	nvmlPath := fs.String("nvml-library", "", "path of libnvidia-ml.so.1 (default: the loader's search path)")
	cfgFn := configFlags(fs, io.Env)
	if err := parse(fs, io, args); err != nil {
		return err
	}
	cfg, err := cfgFn()
	if err != nil {
		return err
	}
	log := newLogger(io)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	n, err := openNode(cfg, *nvmlPath, log)
	if err != nil {
		return err
	}
	defer n.close()
	n.monitor.Start(ctx)
	srv := server.New(n.devices, n.monitor, log)
	addr, err := srv.Start(cfg.ListenAddr)
	if err != nil {
		_ = n.monitor.Stop(context.Background())
		return err
	}
	log.Info("lector serving", "addr", addr.String(), "data_dir", cfg.DataDir, "devices", len(n.devices))
	fmt.Fprintf(io.Stdout, "listening on http://%s\n", addr)
	<-ctx.Done()
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = srv.Stop(stopCtx)
	_ = n.monitor.Stop(stopCtx)
	return err
}
