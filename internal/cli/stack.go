package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/metrics"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/runner"
	"github.com/lector-ocr/lector/internal/task"
)

// stack is the whole runtime of one process: devices and monitor, model
// manager, service pool, admission, semaphores and the task runtime.
type stack struct {
	node     *node
	registry *engine.Registry
	models   *model.Manager
	pool     *pool.Pool
	adm      *admission.Controller
	sems     *admission.Semaphores
	rt       *task.Runtime
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
		return cfg.Pool.GPULanes
	}
	var services []pool.Service
	for _, d := range n.devices {
		services = append(services, pool.Service{Device: d.ID, Lanes: lanes(d.ID)})
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
			Launcher: &runner.Launcher{Exe: exe, Env: childEnv(io.Env), Dir: filepath.Join(workDir, "runners"), Log: log, RunnerArgs: runnerArgs},
			Slots:    lanes,
		},
		Log: log, KeepAlive: cfg.Models.KeepAliveOrDefault(), LoadTimeout: cfg.Models.LoadTimeout,
		StopTimeout: cfg.Models.StopTimeout, LoadCooldown: cfg.Models.LoadCooldown,
		MaxLoadCooldown: cfg.Models.MaxLoadCooldown, EvictWait: cfg.Models.EvictWait,
		Validate: func(m string) error { _, _, err := reg.Estimate(m); return err },
		OnLoad:   mx.OnLoadFunc(),
		OnUnload: mx.OnUnloadFunc(),
		Estimate: func(m string) uint64 { l, _, _ := reg.Estimate(m); return l },
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
	limits := map[string]int64{"structure": int64(cfg.Admission.StructureConcurrency)}
	if cfg.Admission.OCRConcurrency > 0 {
		limits["ocr"] = int64(cfg.Admission.OCRConcurrency)
	}
	s.sems = admission.NewSemaphores(limits)
	learner := &admission.EWMA{}
	s.rt = task.New(task.Config{
		Models: s.models, Pool: s.pool, Admission: s.adm, Semaphores: s.sems,
		Estimator: admission.Estimator{Documented: func(m string) (admission.Coefficients, error) {
			l, p, err := reg.Estimate(m)
			return admission.Coefficients{Load: float64(l), PerMegapixel: float64(p)}, err
		}, Learner: learner},
		Learner: learner, Devices: n.devices, GPUs: n.gpus, WorkDir: workDir, Log: log,
		OnLaneWait: mx.OnLaneWaitFunc(),
	})
	mx.Watch(metrics.Sources{Monitor: n.monitor, Models: s.models, Pool: s.pool, Semaphores: s.sems, Admission: s.adm})
	if _, err := s.rt.Sweep(); err != nil {
		log.Warn("sweeping leftovers", "err", err)
	}
	n.monitor.Start(ctx)
	return s, nil
}

// stop shuts the runtime down: no new admissions, every runner stopped.
func (s *stack) stop(ctx context.Context) error {
	err := s.models.Stop(ctx)
	s.adm.Stop()
	err = errors.Join(err, s.node.monitor.Stop(ctx))
	s.node.close()
	return err
}

// childEnv is the runners' environment: the process's own plus
// OMP_THREAD_LIMIT=1, which OpenMP engines read only at start-up.
func childEnv(env Env) []string {
	out := make([]string, 0, len(env)+1)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "OMP_THREAD_LIMIT" {
			out = append(out, k+"="+env[k])
		}
	}
	return append(out, "OMP_THREAD_LIMIT=1")
}
