// Package cli is Lector's command layer: it parses flags and LECTOR_*
// environment variables (flags win), builds a config.Config and hands off to
// the packages that do the work. It is the only package that reads either.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/errcode"
)

// Env is the process environment as a map, so tests pass their own.
type Env map[string]string

// NewEnv builds an Env from KEY=VALUE pairs.
func NewEnv(pairs []string) Env {
	e := make(Env, len(pairs))
	for _, p := range pairs {
		if k, v, ok := strings.Cut(p, "="); ok {
			e[k] = v
		}
	}
	return e
}

// UsageError is a bad command line; it exits with status 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// codedUsage is a usage error for err, which carries a stable code (the
// one the API answers for the same option): "CMD: CODE: message", the
// code first as the CLI prints its other errors ("invalid_argument:
// ...").
func codedUsage(cmd string, err error) *UsageError {
	return &UsageError{fmt.Sprintf("%s: %s: %s", cmd, errcode.Of(err), errcode.Message(err))}
}

// ExitCode maps an error from Run to a process exit status.
func ExitCode(err error) int {
	var ue *UsageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// IO bundles a command's streams and environment.
type IO struct {
	Env    Env
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	name, summary string
	run           func(ctx context.Context, io IO, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP service", runServe},
		{"ocr", "recognise files in-process: lector ocr FILE… [--model] [--format] [-o]", runOCR},
		{"tasks", "submit, get, list, fetch results of and cancel tasks on a server", runTasks},
		{"ps", "the model instances loaded on a server", runPs},
		{"token", "make an access token and its line for --auth-tokens: lector token SUBJECT", runToken},
		{"system", "show devices, memory and levels", runSystem},
		{"models", "the models a server (or, without one, this machine) can run", runModels},
		{"runner", "host one model instance (started by lector itself)", runRunner},
		{"eval", "measure quality: lector eval tables DIR (TEDS against PubTabNet annotations)", runEval},
		{"version", "print the version", runVersion},
	}
}

// Run executes the command line args (without the program name).
func Run(ctx context.Context, args []string, env Env, stdin io.Reader, stdout, stderr io.Writer) error {
	io := IO{Env: env, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return &UsageError{"no command given"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, io, args[1:])
		}
	}
	usage(stderr)
	return &UsageError{fmt.Sprintf("unknown command %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: lector COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set as LECTOR_<FLAG> (e.g. --data-dir → LECTOR_DATA_DIR); flags win.")
}

// parse parses args into fs, then fills every flag not given on the command
// line from its LECTOR_* variable.
func parse(fs *flag.FlagSet, io IO, args []string) error {
	fs.SetOutput(io.Stderr)
	if err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := EnvName(f.Name)
		if v, ok := io.Env[name]; ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, &UsageError{fmt.Sprintf("%s=%q: %v", name, v, err)})
			}
		}
	})
	return errors.Join(errs...)
}

// parseInterspersed parses flags wherever they stand among the arguments
// (`lector ocr img.png --format txt`), up to a "--"; fs.Args() is then the
// other arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		left := fs.Args()
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			pos = append(pos, left...)
			break
		}
		i := 0
		for i < len(left) && (len(left[i]) < 2 || left[i][0] != '-') {
			i++
		}
		pos = append(pos, left[:i]...)
		if i == len(left) {
			break
		}
		rest = left[i:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// EnvName is the environment variable of a flag: LECTOR_ + upper snake case.
func EnvName(flagName string) string {
	return "LECTOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig registers the config flags on fs, parses args and returns
// the validated config.
func parseConfig(fs *flag.FlagSet, io IO, args []string) (config.Config, error) {
	cfgFn := configFlags(fs, io.Env)
	if err := parse(fs, io, args); err != nil {
		return config.Config{}, err
	}
	return cfgFn()
}

// configFlags registers every Config field as a flag and returns a function
// that yields the validated config after parsing.
func configFlags(fs *flag.FlagSet, env Env) func() (config.Config, error) {
	var c config.Config
	var keepAlive time.Duration = config.DefaultKeepAlive
	ppocrDir := fs.String("ppocr-dir", "", "ONNX Runtime and the PP-OCR models for ppocr: models (default: where make setup installs them, ~/.cache/lector/ppocr)")
	fs.StringVar(&c.DataDir, "data-dir", "", "data directory (default $XDG_DATA_HOME/lector or ~/.local/share/lector)")
	fs.StringVar(&c.Database, "database", "", "task database: empty for SQLite in the data directory, a SQLite file path, or a postgres:// (postgresql://) URL, postgres://user:password@host:5432/db, to share one PostgreSQL between several nodes (key=value connection strings and other schemes are refused)")
	fs.StringVar(&c.ListenAddr, "listen", config.DefaultListenAddr, "HTTP listen address")
	fs.Float64Var(&c.Memory.WarningThreshold, "memory-warning", config.DefaultWarningThreshold, "used fraction at which a device is at warning")
	fs.Float64Var(&c.Memory.CriticalThreshold, "memory-critical", config.DefaultCriticalThreshold, "used fraction at which a device is critical")
	fs.Float64Var(&c.Memory.EmergencyThreshold, "memory-emergency", config.DefaultEmergencyThreshold, "used fraction at which idle instances are evicted at once")
	fs.Float64Var(&c.Memory.Hysteresis, "memory-hysteresis", config.DefaultHysteresis, "how far below a threshold usage must fall to leave its level")
	fs.DurationVar(&c.Memory.PollInterval, "memory-poll", config.DefaultPollInterval, "memory poll interval")
	fs.Var((*keepAliveFlag)(&keepAlive), "keep-alive", "how long an idle model stays loaded: a number of seconds or a duration (5m); 0 unloads at once, negative pins")
	fs.DurationVar(&c.Models.LoadTimeout, "load-timeout", config.DefaultLoadTimeout, "time limit of one model load")
	fs.DurationVar(&c.Models.StopTimeout, "stop-timeout", config.DefaultStopTimeout, "grace period of a runner asked to stop before it is killed")
	fs.BoolVar(&c.Models.EnableSynthetic, "enable-synthetic", false, "allow synthetic: models (tests and benchmarks only)")
	fs.IntVar(&c.Pool.CPULanes, "cpu-lanes", runtime.NumCPU(), "pages the CPU works on at once")
	fs.IntVar(&c.Pool.GPULanes, "gpu-lanes", config.DefaultGPULanes, "pages each GPU works on at once (0 turns GPUs off)")
	fs.IntVar(&c.Pool.QueueLength, "queue-length", config.DefaultQueueLength, "most waiters for lanes before queue_full")
	fs.IntVar(&c.Admission.StructureConcurrency, "structure-concurrency", config.DefaultStructureConcurrency, "most structure predictions at once")
	fs.DurationVar(&c.Admission.CriticalWait, "critical-wait", config.DefaultCriticalWait, "how long a queued task waits for memory")
	fs.IntVar(&c.Admission.MaxQueuedTasks, "max-queued-tasks", config.DefaultMaxQueuedTasks, "most tasks queued at once, in the whole cluster on PostgreSQL (every node counts the database's queued tasks)")
	fs.Int64Var(&c.Limits.MaxInputBytes, "max-input-bytes", config.DefaultMaxInputBytes, "largest accepted input in bytes")
	fs.IntVar(&c.Limits.MaxPages, "max-pages", config.DefaultMaxPages, "most pages in a document")
	fs.Int64Var(&c.Limits.MaxPixelsPerPage, "max-pixels", config.DefaultMaxPixelsPerPage, "most pixels in a page")
	fs.IntVar(&c.Limits.PDFDPI, "pdf-dpi", config.DefaultPDFDPI, "PDF rendering resolution")
	fs.DurationVar(&c.Limits.PageTimeout, "page-timeout", config.DefaultPageTimeout, "time limit of one page")
	fs.DurationVar(&c.Limits.RenderTimeout, "render-timeout", config.DefaultRenderTimeout, "time limit of rendering one PDF page")
	fs.Int64Var(&c.Limits.RenderMemory, "render-memory", config.DefaultRenderMemory, "address-space limit of the PDF renderer in bytes")
	fs.IntVar(&c.Tasks.Workers, "workers", 0, "tasks run at once by lector serve (default: twice the lanes)")
	fs.IntVar(&c.Tasks.MaxAttempts, "max-attempts", config.DefaultMaxAttempts, "most runs of a task that fails with a retryable code")
	fs.DurationVar(&c.Tasks.SyncTimeout, "sync-timeout", config.DefaultSyncTimeout, "time limit of a synchronous request (POST /v1/ocr)")
	fs.DurationVar(&c.Tasks.ShutdownTimeout, "shutdown-timeout", config.DefaultShutdownTimeout, "how long a stopping server lets running work finish before returning it to the queue")
	fs.StringVar(&c.AuthTokens, "auth-tokens", "", "token file (subject:token or subject:sha256:HEX per line); then every /v1 call needs a bearer token")
	fs.Func("operators", "comma-separated subjects of --auth-tokens that may load, pin and unload models (default: none; without tokens, every caller)", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Operators = append(c.Operators, s)
			}
		}
		return nil
	})
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", false, "allow listening on a non-loopback address without --auth-tokens")
	fs.IntVar(&c.Tasks.MaxQueuedPerSubject, "max-queued-per-subject", config.DefaultMaxQueuedPerSubject, "most tasks one subject may have queued")
	fs.DurationVar(&c.Tasks.Retention, "retention", config.DefaultRetention, "how long inputs and results are kept after a task ends")
	fs.DurationVar(&c.Tasks.RetentionInterval, "retention-interval", config.DefaultRetentionInterval, "how often expired inputs and results are deleted")
	fs.DurationVar(&c.Tasks.HeartbeatInterval, "heartbeat-interval", config.DefaultHeartbeatInterval, "how often a node records that it is alive in the database")
	fs.DurationVar(&c.Tasks.NodeTimeout, "node-timeout", config.DefaultNodeTimeout, "how long a silent node counts as alive; then, on PostgreSQL, its running tasks go back to the queue")
	return func() (config.Config, error) {
		if *ppocrDir != "" { // the registry and the runners read it from the environment
			env[ppocrDirEnv] = *ppocrDir
		}
		c.Models.KeepAlive = &keepAlive
		if c.DataDir == "" {
			c.DataDir = defaultDataDir(env)
		}
		c = c.WithDefaults(runtime.NumCPU())
		if err := c.Validate(); err != nil {
			return c, &UsageError{err.Error()}
		}
		return c, nil
	}
}

func defaultDataDir(env Env) string {
	if d := env["XDG_DATA_HOME"]; d != "" {
		return filepath.Join(d, "lector")
	}
	if h := env["HOME"]; h != "" {
		return filepath.Join(h, ".local", "share", "lector")
	}
	return filepath.Join(os.TempDir(), "lector")
}

// keepAliveFlag reads a keep-alive as the API does (lector.ParseDuration):
// a bare number is seconds, a Go duration is accepted, negative pins.
type keepAliveFlag time.Duration

func (k *keepAliveFlag) String() string { return time.Duration(*k).String() }

func (k *keepAliveFlag) Set(v string) error {
	d, err := lector.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (5m, 0, -1) or a number of seconds", v)
	}
	*k = keepAliveFlag(d)
	return nil
}
