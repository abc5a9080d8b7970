package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/metrics"
	"github.com/lector-ocr/lector/internal/server"
	"github.com/lector-ocr/lector/internal/service"
	"github.com/lector-ocr/lector/internal/store"
	"github.com/lector-ocr/lector/internal/web"
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

// runServe is `lector serve`: it starts the node's parts in order — data
// directory lock, runtime (monitor, runners, admission), database, task
// service, HTTP — each registered with its stop, and on ctx's end stops
// them in reverse (lifecycle): HTTP and the task service first and
// together, within --shutdown-timeout (no new work; running tasks finish or
// return to the queue), then the database, the runtime (every runner
// stopped) and the lock. Every long-lived part runs under its own Stop, not
// under ctx: the signal starts the shutdown, the order is lifecycle's.
func runServe(ctx context.Context, io IO, args []string) (err error) {
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
	lc := &lifecycle{log: log}
	defer func() { err = errors.Join(err, lc.stop(ctx)) }()

	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	lc.add("data directory lock", 0, func(context.Context) error { return lock.Close() })
	mx := metrics.New()
	st, err := buildStack(ctx, cfg, io, *nvmlPath, cfg.DataDir, log, mx)
	if err != nil {
		return err
	}
	lc.add("runtime", stopTimeout, st.stop)
	db, err := store.Open(ctx, cfg.Database, cfg.DataDir)
	if errcode.IsStorage(err) && !store.IsPostgres(cfg.Database) {
		// The disk is full or read-only: serve what is stored, take nothing new.
		log.Error("the database cannot be written: starting read-only", "err", err)
		db, err = openReadOnly(ctx, cfg.Database, cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	lc.add("database", 0, func(context.Context) error { return db.Close() })
	if pg, ok := db.(*store.Postgres); ok {
		switch from, to := pg.Migrated(); {
		case from == 0:
			log.Info("database schema created", "database", db.Describe(), "version", to)
		case from < to:
			log.Info("database schema upgraded", "database", db.Describe(), "from", from, "to", to)
		}
	}
	if p, ok := db.(admission.Persister); ok {
		if err := st.learner.Restore(ctx, p); err != nil {
			log.Warn("reading the learned memory figures", "err", err)
		}
	}
	var srv *server.Server
	var devIDs []string
	gpus := 0
	for _, d := range st.node.devices {
		devIDs = append(devIDs, d.ID)
		if d.IsGPU() {
			gpus++
		}
	}
	cfg = cfg.WithGPUs(gpus)
	svc, err := service.New(service.Config{
		Store: db, Runtime: st.rt, Devices: devIDs, Limits: docLimits(cfg), WorkDir: cfg.DataDir,
		Validate: st.registry.Validate, Formats: st.registry.Formats,
		Workers: cfg.Tasks.Workers, MaxAttempts: cfg.Tasks.MaxAttempts, SyncTimeout: cfg.Tasks.SyncTimeout,
		MaxQueued: cfg.Admission.MaxQueuedTasks, MaxQueuedPerSubject: cfg.Tasks.MaxQueuedPerSubject,
		Retention: cfg.Tasks.Retention, RetentionInterval: cfg.Tasks.RetentionInterval,
		HeartbeatInterval: cfg.Tasks.HeartbeatInterval, NodeTimeout: cfg.Tasks.NodeTimeout,
		OnTaskEnd: endedSignal(mx.OnTaskEndFunc(), signalsOf(ctx).ended.Send), OnWorking: signalsOf(ctx).working.Send, OnRetention: signalsOf(ctx).retained.Send, Log: log,
		NodeInfo: func() []byte { return srv.NodeInfo() },
	})
	if err != nil {
		return err
	}
	mx.Watch(metrics.Sources{Monitor: st.node.monitor, Models: st.models, Pool: st.pool, Semaphores: st.sems, Admission: st.adm,
		Queued: func() (int, error) { return db.Count(context.Background(), lector.Queued) }})
	srv = server.New(server.Deps{
		Devices: st.node.devices, Monitor: st.node.monitor, Models: st.models, Pool: st.pool, Semaphores: st.sems, Admission: st.adm,
		Runtime: st.rt, Service: svc, Catalog: func() []api.ModelInfo { return withLearned(catalog(st.registry), st.estimator, st.learner) },
		DefaultKeepAlive: cfg.Models.KeepAliveOrDefault(), Log: log,
		Auth: tokens, Operators: cfg.Operators, Metrics: mx, Web: web.New(web.Options{Auth: tokens, Log: log}), Ready: readiness(cfg.DataDir, st, svc),
	})
	if err := svc.Start(ctx); err != nil {
		return err
	}
	addr, err := srv.Start(cfg.ListenAddr)
	if err != nil {
		lc.add("task service", cfg.Tasks.ShutdownTimeout, svc.Stop)
		return err
	}
	// Requests and running tasks finish together until the shutdown
	// timeout; then requests are closed and tasks go back to the queue.
	lc.add("HTTP and task service", cfg.Tasks.ShutdownTimeout, func(c context.Context) error {
		var wg sync.WaitGroup
		var httpErr, svcErr error
		wg.Go(func() { httpErr = srv.Stop(c) })
		wg.Go(func() { svcErr = svc.Stop(c) })
		wg.Wait()
		if errors.Is(httpErr, context.DeadlineExceeded) {
			httpErr = nil // requests still open at the deadline are closed: that is the shutdown timeout's meaning
		}
		if svcErr != nil {
			log.Warn("stopping the task service", "err", svcErr)
		}
		return httpErr
	})
	svc.SetAddr(addr.String())
	log.Info("lector serving", "addr", addr.String(), "node", svc.NodeID(), "database", db.Describe(), "data_dir", cfg.DataDir, "devices", len(st.node.devices), "workers", cfg.Tasks.Workers, "auth", tokens != nil)
	fmt.Fprintf(io.Stdout, "listening on http://%s\n", addr)
	// What starting left on the heap (migrations, the web page's files
	// compressed at their best level, the engines' catalogues: ~10 MiB)
	// goes back now rather than at Go's periodic collection two minutes
	// on, so the server idles at its idle size (docs/BENCHMARKS.md, "The
	// server's own memory").
	debug.FreeOSMemory()
	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.Tasks.ShutdownTimeout)
	return nil
}

// readiness is GET /readyz's question: the node takes work when its data
// directory can be written, its memory monitor has polled every device,
// and its task service runs (its database writable, River started).
func readiness(dataDir string, st *stack, svc *service.Service) func() error {
	return func() error {
		for _, d := range st.node.devices {
			if _, ok := st.node.monitor.State(d.ID); !ok {
				return errcode.New(errcode.Unavailable, "memory of %s not measured yet", d.ID)
			}
		}
		if err := service.CheckWritable(dataDir); err != nil {
			return err
		}
		return svc.Ready()
	}
}

// lifecycle stops a node's parts in the reverse of their start, once.
type lifecycle struct {
	log   *slog.Logger
	parts []part
}

// part is one started part: its name (for the log), how long its stop may
// take (0: as long as it takes) and its stop.
type part struct {
	name    string
	timeout time.Duration
	stop    func(context.Context) error
}

func (l *lifecycle) add(name string, timeout time.Duration, stop func(context.Context) error) {
	l.parts = append(l.parts, part{name, timeout, stop})
}

// stop stops every part, last started first, each under its own timeout
// whatever ctx says (ctx's end is what starts a shutdown). Every error is
// logged; the first is returned.
func (l *lifecycle) stop(ctx context.Context) error {
	var first error
	for i := len(l.parts) - 1; i >= 0; i-- {
		p := l.parts[i]
		c, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
		if p.timeout > 0 {
			c, cancel = context.WithTimeout(c, p.timeout)
		}
		err := p.stop(c)
		cancel()
		if err != nil {
			l.log.Warn("stopping", "part", p.name, "err", err)
			first = cmp.Or(first, err)
		}
	}
	l.parts = nil
	if first == nil {
		l.log.Info("stopped")
	}
	return first
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

// openReadOnly opens the SQLite database of database (default
// dataDir/lector.db) read-only.
func openReadOnly(ctx context.Context, database, dataDir string) (store.Store, error) {
	path := database
	if path == "" {
		path = filepath.Join(dataDir, "lector.db")
	}
	return store.OpenSQLiteReadOnly(ctx, path)
}
