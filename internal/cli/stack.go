package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/layout"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/metrics"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/runner"
	"github.com/lector-ocr/lector/internal/task"
)

// stack is the whole runtime of one process: devices and monitor, model
// manager, service pool, admission, semaphores and the task runtime.
type stack struct {
	node      *node
	registry  *engine.Registry
	models    *model.Manager
	pool      *pool.Pool
	adm       *admission.Controller
	sems      *admission.Semaphores
	learner   *admission.Fitter
	estimator admission.Estimator
	rt        *task.Runtime
}

// buildStack wires the runtime. workDir holds workspaces and runner sockets;
// leftovers of a crashed run there are swept first.
func buildStack(ctx context.Context, cfg config.Config, io IO, nvmlPath, workDir string, log *slog.Logger, mx *metrics.Metrics) (*stack, error) {
	n, err := openNode(cfg, nvmlPath, log)
	if err != nil {
		return nil, err
	}
	reg := newRegistry(cfg.Models.EnableSynthetic, io.Env, cfg.Limits.PageTimeout)
	lanes := func(dev string) int {
		if dev == string(device.CPU) {
			return cfg.Pool.CPULanes
		}
		return max(cfg.Pool.GPULanes, 0) // 0: GPUs turned off
	}
	var services []pool.Service
	for _, d := range n.devices {
		services = append(services, pool.Service{Device: d.ID, Lanes: lanes(d.ID)})
	}
	documented := func(m string, k device.Kind) (admission.Footprint, error) {
		f, err := reg.Estimate(m, k)
		return admission.FootprintOf(f), err
	}
	documentedClass := func(m, c string, k device.Kind) (admission.Footprint, error) {
		f, err := reg.EstimateClass(m, c, k)
		return admission.FootprintOf(f), err
	}
	exe, err := os.Executable()
	if err != nil {
		n.close()
		return nil, err
	}
	runnerArgs := []string{"--page-timeout", cfg.Limits.PageTimeout.String()}
	if cfg.Models.EnableSynthetic {
		runnerArgs = append(runnerArgs, "--enable-synthetic")
	}
	s := &stack{node: n, registry: reg, pool: pool.New(services, cfg.Pool.QueueLength, nil)}
	probe := memory.ProcessProbe{}
	s.models = model.NewManager(model.Options{
		Launcher: model.ProcessLauncher{
			Launcher: &runner.Launcher{Exe: exe, Env: baseEnv(io.Env), EnvFor: runnerEnv(reg, n.devices),
				Dir: filepath.Join(workDir, "runners"), Log: log, RunnerArgs: runnerArgs},
			Slots: lanes,
		},
		Log: log, KeepAlive: cfg.Models.KeepAliveOrDefault(), LoadTimeout: cfg.Models.LoadTimeout,
		StopTimeout: cfg.Models.StopTimeout, LoadCooldown: cfg.Models.LoadCooldown,
		MaxLoadCooldown: cfg.Models.MaxLoadCooldown, EvictWait: cfg.Models.EvictWait,
		Validate: reg.Validate,
		OnLoad:   mx.OnLoadFunc(),
		OnUnload: signalsOf(ctx).onUnload(func(r model.UnloadRecord) {
			if f := mx.OnUnloadFunc(); f != nil {
				f(r)
			}
			if s.adm != nil { // tasks waiting for memory look again at once
				s.adm.Freed()
			}
		}),
		Estimate: func(m, dev string) uint64 {
			k, _, _ := device.ParseID(dev)
			f, _ := reg.Estimate(m, k)
			return f.Host.Load + f.Device.Load
		},
		Measure: func(pid int, dev string) (uint64, uint64) {
			pm, _ := probe.ReadTree(pid)
			var gpu uint64
			if idx, ok := device.GPUIndex(dev); ok {
				if used, err := n.gpus.ProcessUsed(idx); err == nil {
					gpu = used[pid]
				}
			}
			return pm.RSS, gpu
		},
	})
	s.adm = admission.New(admission.Options{
		Monitor: n.monitor, Evictor: s.models, Log: log,
		Critical: cfg.Memory.CriticalThreshold, Wait: cfg.Admission.CriticalWait, Recheck: cfg.Memory.PollInterval,
		OnDecision: mx.OnDecisionFunc(),
	})
	limits := map[string]int64{string(lector.PipelineStructure): int64(cfg.Admission.StructureConcurrency)}
	if cfg.Admission.OCRConcurrency > 0 {
		limits[string(lector.PipelineOCR)] = int64(cfg.Admission.OCRConcurrency)
	}
	s.sems = admission.NewSemaphores(limits)
	s.learner = &admission.Fitter{Log: log}
	s.estimator = admission.Estimator{Documented: documented, Work: reg.WorkMegapixels, Print: reg.PrintHeight,
		Class: reg.PageClass, DocumentedClass: documentedClass, Learner: s.learner}
	s.rt = task.New(task.Config{
		Models: s.models, Pool: s.pool, Admission: s.adm, Semaphores: s.sems,
		Estimator: s.estimator,
		Learner:   s.learner, Devices: n.devices, GPUs: n.gpus, DeviceKinds: reg.DeviceKinds, WorkDir: workDir, Log: log,
		// Headers and footers repeated across pages; figure names.
		AfterPages: map[lector.Pipeline]func([]*result.Page){lector.PipelineStructure: layout.Pages},
		OnLaneWait: mx.OnLaneWaitFunc(),
	})
	mx.Watch(metrics.Sources{Monitor: n.monitor, Models: s.models, Pool: s.pool, Semaphores: s.sems, Admission: s.adm})
	if _, err := s.rt.Sweep(); err != nil {
		log.Warn("sweeping leftovers", "err", err)
	}
	if err := n.monitor.Start(ctx); err != nil {
		n.close()
		return nil, err
	}
	return s, nil
}

// stopTimeout bounds stopping the runtime: every runner asked to exit
// (each killed after model.DefaultStopTimeout) and the monitor stopped.
const stopTimeout = 30 * time.Second

// close stops the runtime within stopTimeout, whether or not ctx has ended.
func (s *stack) close(ctx context.Context) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return s.stop(c)
}

// stop shuts the runtime down: no new admissions, every runner stopped.
func (s *stack) stop(ctx context.Context) error {
	err := s.models.Stop(ctx)
	err = errors.Join(err, s.adm.Stop(ctx), s.node.monitor.Stop(ctx))
	s.node.close()
	return err
}

// baseEnv is every runner's environment: the process's own, sorted, less
// the variables Lector sets per runner (runnerEnv).
func baseEnv(env Env) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		if k != "OMP_THREAD_LIMIT" && k != "CUDA_VISIBLE_DEVICES" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// runnerEnv returns the variables of one runner: its engine's own
// (OMP_THREAD_LIMIT=1 for Tesseract, read by OpenMP only at start) and the
// GPU it may see. A GPU runner sees its GPU alone, named by UUID, so NVML's
// index (Lector's cuda:N) and the CUDA ordinal inside the runner (0) can
// never disagree, whatever CUDA_DEVICE_ORDER says; a CPU runner sees no GPU
// and so never makes a CUDA context.
func runnerEnv(reg *engine.Registry, devs []device.Device) func(runner.Spec) []string {
	return func(spec runner.Spec) []string {
		kind, _, _ := device.ParseID(spec.Device)
		out := reg.RunnerEnv(spec.Model, kind)
		visible := ""
		for _, d := range devs {
			if d.ID == spec.Device && d.IsGPU() {
				visible = d.UUID
			}
		}
		return append(out, "CUDA_VISIBLE_DEVICES="+visible)
	}
}
