package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lector-ocr/lector/internal/server"
)

func newLogger(io IO) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// lockDataDir takes an exclusive lock on the data directory, so that two
// servers never share (and sweep) one directory. The lock dies with the
// process.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lector.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another lector: %w", dir, err)
	}
	return f, nil
}

// runServe starts the node — monitor, runtime, HTTP server — and on ctx's
// end stops them in reverse order: HTTP first (no new work), then the
// runtime (every runner stopped).
func runServe(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	nvmlPath := fs.String("nvml-library", "", "path of libnvidia-ml.so.1 (default: the loader's search path)")
	cfg, err := parseConfig(fs, io, args)
	if err != nil {
		return err
	}
	log := newLogger(io)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	st, err := buildStack(ctx, cfg, io, *nvmlPath, cfg.DataDir, log)
	if err != nil {
		return err
	}
	srv := server.New(server.Deps{Devices: st.node.devices, Monitor: st.node.monitor, Models: st.models, Pool: st.pool, Semaphores: st.sems, Log: log})
	stopCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	addr, err := srv.Start(cfg.ListenAddr)
	if err != nil {
		c, cancel := stopCtx()
		defer cancel()
		_ = st.stop(c)
		return err
	}
	log.Info("lector serving", "addr", addr.String(), "data_dir", cfg.DataDir, "devices", len(st.node.devices))
	fmt.Fprintf(io.Stdout, "listening on http://%s\n", addr)
	<-ctx.Done()
	log.Info("shutting down")
	c, cancel := stopCtx()
	defer cancel()
	err = srv.Stop(c)
	if serr := st.stop(c); err == nil {
		err = serr
	}
	return err
}
