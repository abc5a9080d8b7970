package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/lector-ocr/lector"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/metrics"
	"github.com/lector-ocr/lector/internal/server"
	"github.com/lector-ocr/lector/internal/service"
	"github.com/lector-ocr/lector/internal/store"
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
	var tokens *auth.Tokens
	if cfg.AuthTokens != "" {
		if tokens, err = auth.Load(cfg.AuthTokens); err != nil {
			return err
		}
	} else if !cfg.InsecureNoAuth && !loopback(cfg.ListenAddr) {
		return &UsageError{fmt.Sprintf("refusing to listen on %s, which is not a loopback address, without --auth-tokens; "+
			"pass --insecure-no-auth if anyone who can reach it may use it", cfg.ListenAddr)}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	mx := metrics.New()
	st, err := buildStack(ctx, cfg, io, *nvmlPath, cfg.DataDir, log, mx)
	if err != nil {
		return err
	}
	stopCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	defer func() {
		c, cancel := stopCtx()
		defer cancel()
		if err := st.stop(c); err != nil {
			log.Warn("stopping the runtime", "err", err)
		}
	}()
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, "lector.db"))
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer db.Close()
	var devIDs []string
	for _, d := range st.node.devices {
		devIDs = append(devIDs, d.ID)
	}
	svc, err := service.New(service.Config{
		Store: db, Runtime: st.rt, Devices: devIDs, Limits: docLimits(cfg), WorkDir: cfg.DataDir,
		Validate: st.registry.Validate, Formats: st.registry.Formats,
		Workers: cfg.Tasks.Workers, MaxAttempts: cfg.Tasks.MaxAttempts, SyncTimeout: cfg.Tasks.SyncTimeout,
		MaxQueued: cfg.Admission.MaxQueuedTasks, MaxQueuedPerSubject: cfg.Tasks.MaxQueuedPerSubject,
		Retention: cfg.Tasks.Retention, RetentionInterval: cfg.Tasks.RetentionInterval,
		OnTaskEnd: mx.OnTaskEndFunc(), Log: log,
	})
	if err != nil {
		return err
	}
	mx.Watch(metrics.Sources{Monitor: st.node.monitor, Models: st.models, Pool: st.pool, Semaphores: st.sems, Admission: st.adm,
		Queued: func() (int, error) { return db.Count(context.Background(), lector.Queued) }})
	if err := svc.Start(ctx); err != nil {
		return err
	}
	stopped := false
	defer func() { // after a failed start; a clean stop has already stopped it
		if stopped {
			return
		}
		c, cancel := stopCtx()
		defer cancel()
		_ = svc.Stop(c)
	}()
	srv := server.New(server.Deps{
		Devices: st.node.devices, Monitor: st.node.monitor, Models: st.models, Pool: st.pool, Semaphores: st.sems, Admission: st.adm,
		Runtime: st.rt, Service: svc, Catalog: func() []api.ModelInfo { return catalog(st.registry) },
		DefaultKeepAlive: cfg.Models.KeepAliveOrDefault(), Log: log,
		Auth: tokens, Metrics: mx,
	})
	addr, err := srv.Start(cfg.ListenAddr)
	if err != nil {
		return err
	}
	log.Info("lector serving", "addr", addr.String(), "data_dir", cfg.DataDir, "devices", len(st.node.devices), "workers", cfg.Tasks.Workers, "auth", tokens != nil)
	fmt.Fprintf(io.Stdout, "listening on http://%s\n", addr)
	<-ctx.Done()
	// Stop accepting, and let requests and running tasks finish together
	// until the shutdown timeout; then requests are closed and tasks go back
	// to the queue. The deferred stops then close the database and stop
	// every runner.
	log.Info("shutting down", "timeout", cfg.Tasks.ShutdownTimeout)
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Tasks.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, svcErr error
	wg.Go(func() { httpErr = srv.Stop(c) })
	wg.Go(func() { svcErr = svc.Stop(c) })
	wg.Wait()
	stopped = true
	if svcErr != nil {
		log.Warn("stopping the task service", "err", svcErr)
	}
	if httpErr != nil && !errors.Is(httpErr, context.DeadlineExceeded) {
		return httpErr
	}
	log.Info("stopped")
	return nil
}

// loopback reports whether a listen address binds only loopback
// interfaces ("localhost", 127.0.0.0/8, ::1).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
