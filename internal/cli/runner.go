package cli

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/ppocr"
	"github.com/lector-ocr/lector/internal/engine/structure"
	"github.com/lector-ocr/lector/internal/engine/synthetic"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/runner"
)

// newRegistry registers the engines this build has. The synthetic engine is
// a test instrument and is registered only when explicitly enabled.
func newRegistry(enableSynthetic bool, env Env, pageTimeout time.Duration) *engine.Registry {
	r := engine.NewRegistry()
	tess := tesseract.Engine{DataDir: env["TESSDATA_PREFIX"], PageTimeout: pageTimeout}
	r.Register("tesseract", tess)
	pp := ppocr.Engine{Dir: ppocrDir(env), PageTimeout: pageTimeout}
	r.Register("structure", structure.Engine{Tesseract: tess, PPOCR: pp, Reread: pp})
	r.Register("ppocr", pp)
	if enableSynthetic {
		r.Register("synthetic", synthetic.Engine{})
	} else {
		r.Register("synthetic", syntheticOff{})
	}
	return r
}

// syntheticOff stands for the synthetic engine when it is not enabled, so
// that asking for it says how to enable it rather than that it is missing.
type syntheticOff struct{}

func (syntheticOff) refuse() error {
	return errcode.New(errcode.UnknownModel, "the synthetic engine is a test and benchmark instrument, off unless lector runs with --enable-synthetic")
}

func (s syntheticOff) Load(context.Context, engine.Spec) (engine.Model, error) {
	return nil, s.refuse()
}

func (s syntheticOff) Estimate(string, device.Kind) (engine.Footprint, error) {
	return engine.Footprint{}, s.refuse()
}

// runRunner is the child side of a runner process; Lector starts it.
func runRunner(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	model := fs.String("model", "", "model to host")
	dev := fs.String("device", "cpu", "device to load it on")
	slots := fs.Int("slots", 1, "requests served at once, one engine handle each")
	dir := fs.String("socket-dir", "", "private directory for the socket")
	parent := fs.Int("parent-pid", 0, "exit when this process is no longer the parent")
	enableSynthetic := fs.Bool("enable-synthetic", false, "host synthetic: models")
	pageTimeout := fs.Duration("page-timeout", config.DefaultPageTimeout, "time limit of one page")
	if err := parse(fs, io, args); err != nil {
		return err
	}
	if *model == "" || *dir == "" {
		return &UsageError{"runner: --model and --socket-dir are required"}
	}
	log := slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return runner.Serve(ctx, runner.ChildOptions{
		Registry: newRegistry(*enableSynthetic, io.Env, *pageTimeout), Model: *model, Device: *dev, Slots: *slots,
		SocketDir: *dir, ParentPID: *parent, Stdout: io.Stdout, Log: log,
	})
}

// ppocrDirEnv names the ppocr directory (the --ppocr-dir flag sets it, so
// runners see it too).
const ppocrDirEnv = "LECTOR_PPOCR_DIR"

// ppocrDir is where the ppocr engine finds ONNX Runtime and its models:
// LECTOR_PPOCR_DIR, else where scripts/onnxruntime.sh installs.
func ppocrDir(env Env) string {
	if d := env[ppocrDirEnv]; d != "" {
		return d
	}
	return ppocr.DefaultDir(func(k string) string { return env[k] })
}
