package model

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/obs"
	"github.com/lector-ocr/lector/internal/result"
)

// Runner is what the manager needs of a runner process.
type Runner interface {
	Pid() int
	// Done is closed once the process has exited.
	Done() <-chan struct{}
	Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error)
	// Stop asks the process to exit and returns once it has, killing it
	// when ctx ends first.
	Stop(ctx context.Context) error
}

// Launcher starts runners.
type Launcher interface {
	Launch(ctx context.Context, model, device string) (Runner, error)
}

// State is an instance's state (the domain's).
type State = lector.InstanceState

// Instance states.
const (
	StateLoading  = lector.InstanceLoading
	StateReady    = lector.InstanceReady
	StateDraining = lector.InstanceDraining
	StateStopping = lector.InstanceStopping
)

// Reason says why an instance was unloaded.
type Reason string

// Unload reasons.
const (
	ReasonIdle     Reason = "idle"
	ReasonPressure Reason = "pressure"
	ReasonExplicit Reason = "explicit"
	ReasonCrash    Reason = "crash"
	ReasonShutdown Reason = "shutdown"
)

// UnloadRecord is one unload.
type UnloadRecord struct {
	Model, Device string
	Pid           int
	Reason        Reason
	At            time.Time
	LoadedFor     time.Duration
}

// Options configures a Manager. Zero durations take the config defaults.
type Options struct {
	Launcher Launcher
	Clock    clock.Clock
	Log      *slog.Logger
	// KeepAlive is the default keep-alive: 0 unloads at once when idle, a
	// negative value pins.
	KeepAlive       time.Duration
	LoadTimeout     time.Duration
	StopTimeout     time.Duration
	LoadCooldown    time.Duration
	MaxLoadCooldown time.Duration
	EvictWait       time.Duration
	// Validate rejects unknown model names before anything is launched.
	Validate func(model string) error
	// Estimate returns a model's expected resident size on a device (host
	// and device memory together).
	Estimate func(model, device string) uint64
	// Measure returns a runner's resident CPU and GPU memory.
	Measure func(pid int, device string) (cpu, gpu uint64)
	// OnLoad and OnUnload observe loads and unloads (metrics). They are
	// called without the manager's lock held.
	OnLoad   func(model, device string, took time.Duration, err error)
	OnUnload func(UnloadRecord)
}

// AcquireOptions are per-acquire settings.
type AcquireOptions struct {
	// KeepAlive, when set, becomes the instance's keep-alive from now on:
	// 0 unloads at once when idle, negative pins.
	KeepAlive *time.Duration
}

type key struct{ model, device string }

type instance struct {
	key
	state     State
	refs      int
	waiters   int // callers waiting for the load, handed a reference each when it succeeds
	keepAlive time.Duration
	runner    Runner
	estimate  uint64
	loadedAt  time.Time
	lastUsed  time.Time
	expiresAt time.Time // zero unless counting down
	timer     clock.Timer
	timerGen  int
	reason    Reason        // why it is stopping
	loaded    chan struct{} // closed when the load ends
	loadErr   error
	gone      chan struct{} // closed when it has left the map
}

type failure struct {
	count int
	until time.Time
	err   error
}

// Manager owns every model instance of a process.
type Manager struct {
	o    Options
	base context.Context // parent of loads and stops; cancelled by Stop
	kill context.CancelFunc

	mu        sync.Mutex // guards the fields below and every instance's fields
	instances map[key]*instance
	failures  map[key]*failure
	history   []UnloadRecord
	stopped   bool
	loads     sync.WaitGroup // loads in flight
	watchers  sync.WaitGroup // one per launched runner

	// testDraining, when set by a test, is called once Unload has marked an
	// instance draining: a signal instead of a sleep.
	testDraining func()
}

const historySize = 256

// Defaults of Options.
const (
	DefaultKeepAlive       = 5 * time.Minute // what `lector serve` gives an idle instance
	DefaultLoadTimeout     = 2 * time.Minute
	DefaultStopTimeout     = 10 * time.Second
	DefaultLoadCooldown    = 5 * time.Second // after a failed load, doubling
	DefaultMaxLoadCooldown = 5 * time.Minute
	DefaultEvictWait       = 10 * time.Second
)

// NewManager returns a manager with nothing loaded.
func NewManager(o Options) *Manager {
	o.Clock, o.Log = obs.Clock(o.Clock), obs.Log(o.Log)
	o.LoadTimeout = cmp.Or(o.LoadTimeout, DefaultLoadTimeout)
	o.StopTimeout = cmp.Or(o.StopTimeout, DefaultStopTimeout)
	o.LoadCooldown = cmp.Or(o.LoadCooldown, DefaultLoadCooldown)
	o.MaxLoadCooldown = cmp.Or(o.MaxLoadCooldown, DefaultMaxLoadCooldown)
	o.EvictWait = cmp.Or(o.EvictWait, DefaultEvictWait)
	base, kill := context.WithCancel(context.Background())
	return &Manager{o: o, base: base, kill: kill, instances: make(map[key]*instance), failures: make(map[key]*failure)}
}

// Lease is a counted reference to a ready instance.
type Lease struct {
	m        *Manager
	inst     *instance
	once     sync.Once
	LoadWait time.Duration // how long Acquire waited for a load (0 when resident)
}

// Runner returns the instance's runner.
func (l *Lease) Runner() Runner { return l.inst.runner }

// Model returns the leased model's name.
func (l *Lease) Model() string { return l.inst.model }

// Device returns the leased instance's device.
func (l *Lease) Device() string { return l.inst.device }

// Pid returns the runner's pid.
func (l *Lease) Pid() int { return l.inst.runner.Pid() }

// Release gives the reference back. It is idempotent.
func (l *Lease) Release() {
	l.once.Do(func() {
		l.m.mu.Lock()
		defer l.m.mu.Unlock()
		l.m.releaseLocked(l.inst)
	})
}

// Acquire returns a lease on model loaded on device, loading it if absent.
// Concurrent callers share one load. The load runs under the manager's own
// context and LoadTimeout: a caller whose ctx ends gets ctx's error but the
// load goes on for the others. A failed load is model_load_failed; after a
// failure the model is not tried again until its cooldown (doubling with each
// failure) has passed.
func (m *Manager) Acquire(ctx context.Context, model, device string, opts AcquireOptions) (*Lease, error) {
	if m.o.Validate != nil {
		if err := m.o.Validate(model); err != nil {
			return nil, err
		}
	}
	start := m.o.Clock.Now()
	k := key{model, device}
	for {
		m.mu.Lock()
		if m.stopped {
			m.mu.Unlock()
			return nil, errcode.New(errcode.Unavailable, "model manager is shutting down")
		}
		inst := m.instances[k]
		if inst == nil {
			if f := m.failures[k]; f != nil && m.o.Clock.Now().Before(f.until) {
				m.mu.Unlock()
				return nil, errcode.Wrap(errcode.ModelLoadFailed, f.err, "%s failed to load %d time(s); next try in %s",
					model, f.count, f.until.Sub(m.o.Clock.Now()).Round(time.Second))
			}
			inst = m.startLoadLocked(k)
		}
		switch inst.state {
		case StateReady:
			m.refLocked(inst, opts)
			m.mu.Unlock()
			return &Lease{m: m, inst: inst}, nil
		case StateLoading:
			inst.waiters++
			loaded := inst.loaded
			m.mu.Unlock()
			select {
			case <-loaded:
				m.mu.Lock()
				defer m.mu.Unlock()
				if inst.loadErr != nil {
					return nil, inst.loadErr
				}
				// The loader turned our wait into a reference.
				if opts.KeepAlive != nil {
					inst.keepAlive = *opts.KeepAlive
				}
				return &Lease{m: m, inst: inst, LoadWait: m.o.Clock.Now().Sub(start)}, nil
			case <-ctx.Done():
				m.mu.Lock()
				defer m.mu.Unlock()
				if inst.state == StateLoading {
					inst.waiters--
				} else if inst.loadErr == nil {
					m.releaseLocked(inst) // the load finished as we gave up
				}
				return nil, ctx.Err()
			}
		default: // draining or stopping: wait until it is gone, then load afresh
			gone := inst.gone
			m.mu.Unlock()
			select {
			case <-gone:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
}

// Load preloads model on device with keepAlive and holds no reference.
func (m *Manager) Load(ctx context.Context, model, device string, keepAlive time.Duration) error {
	l, err := m.Acquire(ctx, model, device, AcquireOptions{KeepAlive: &keepAlive})
	if err != nil {
		return err
	}
	l.Release()
	return nil
}

func (m *Manager) startLoadLocked(k key) *instance {
	inst := &instance{
		key: k, state: StateLoading, keepAlive: m.o.KeepAlive,
		loaded: make(chan struct{}), gone: make(chan struct{}),
	}
	if m.o.Estimate != nil {
		inst.estimate = m.o.Estimate(k.model, k.device)
	}
	m.instances[k] = inst
	m.loads.Add(1)
	go m.load(inst)
	return inst
}

func (m *Manager) load(inst *instance) {
	defer m.loads.Done()
	start := m.o.Clock.Now()
	ctx, cancel := context.WithTimeout(m.base, m.o.LoadTimeout)
	r, err := m.o.Launcher.Launch(ctx, inst.model, inst.device)
	cancel()
	took := m.o.Clock.Now().Sub(start)
	if err != nil && errcode.Of(err) != errcode.ModelLoadFailed {
		err = errcode.Wrap(errcode.ModelLoadFailed, err, "loading %s on %s", inst.model, inst.device)
	}
	if m.o.OnLoad != nil {
		m.o.OnLoad(inst.model, inst.device, took, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		f := m.failures[inst.key]
		if f == nil {
			f = &failure{}
			m.failures[inst.key] = f
		}
		f.count++
		f.err = err
		cool := m.o.LoadCooldown << min(f.count-1, 20)
		f.until = m.o.Clock.Now().Add(min(cool, m.o.MaxLoadCooldown))
		inst.loadErr = err
		delete(m.instances, inst.key)
		close(inst.loaded)
		close(inst.gone)
		m.o.Log.Warn("model load failed", "model", inst.model, "device", inst.device, "err", err, "retry_after", f.until.Sub(m.o.Clock.Now()))
		return
	}
	delete(m.failures, inst.key)
	inst.runner = r
	inst.state = StateReady
	inst.loadedAt = m.o.Clock.Now()
	inst.lastUsed = inst.loadedAt
	inst.refs += inst.waiters
	inst.waiters = 0
	m.o.Log.Info("model loaded", "model", inst.model, "device", inst.device, "pid", r.Pid(), "took", took)
	if m.stopped {
		m.beginStopLocked(inst, ReasonShutdown)
	} else if inst.refs == 0 {
		m.idleLocked(inst)
	}
	close(inst.loaded)
	m.watchers.Add(1)
	go m.watch(inst)
}

// watch waits for the runner to exit and removes the instance: the one place
// instances leave the map. An exit nobody asked for is a crash.
func (m *Manager) watch(inst *instance) {
	defer m.watchers.Done()
	<-inst.runner.Done()
	m.mu.Lock()
	reason := inst.reason
	if inst.state != StateStopping {
		reason = ReasonCrash
		m.o.Log.Warn("model runner crashed", "model", inst.model, "device", inst.device, "pid", inst.runner.Pid(), "refs", inst.refs)
	}
	m.stopTimerLocked(inst)
	inst.state = StateStopping
	if m.instances[inst.key] == inst {
		delete(m.instances, inst.key)
	}
	rec := UnloadRecord{Model: inst.model, Device: inst.device, Pid: inst.runner.Pid(), Reason: reason,
		At: m.o.Clock.Now(), LoadedFor: m.o.Clock.Now().Sub(inst.loadedAt)}
	m.history = append(m.history, rec)
	if len(m.history) > historySize {
		m.history = m.history[len(m.history)-historySize:]
	}
	close(inst.gone)
	m.mu.Unlock()
	m.o.Log.Info("model unloaded", "model", rec.Model, "device", rec.Device, "pid", rec.Pid, "reason", rec.Reason)
	if m.o.OnUnload != nil {
		m.o.OnUnload(rec)
	}
}

func (m *Manager) refLocked(inst *instance, opts AcquireOptions) {
	inst.refs++
	inst.lastUsed = m.o.Clock.Now()
	m.stopTimerLocked(inst)
	if opts.KeepAlive != nil {
		inst.keepAlive = *opts.KeepAlive
	}
}

func (m *Manager) releaseLocked(inst *instance) {
	if inst.refs <= 0 {
		panic("model: release of an instance without references")
	}
	inst.refs--
	inst.lastUsed = m.o.Clock.Now()
	if inst.refs > 0 {
		return
	}
	switch inst.state {
	case StateReady:
		m.idleLocked(inst)
	case StateDraining: // its last user is done: the unload asked for goes ahead
		m.beginStopLocked(inst, ReasonExplicit)
	}
}

// idleLocked starts an idle instance's keep-alive.
func (m *Manager) idleLocked(inst *instance) {
	switch ka := inst.keepAlive; {
	case ka < 0: // pinned
	case ka == 0:
		m.beginStopLocked(inst, ReasonIdle)
	default:
		inst.expiresAt = m.o.Clock.Now().Add(ka)
		inst.timerGen++
		gen := inst.timerGen
		inst.timer = m.o.Clock.AfterFunc(ka, func() { m.expire(inst, gen) })
	}
}

func (m *Manager) stopTimerLocked(inst *instance) {
	if inst.timer != nil {
		inst.timer.Stop()
		inst.timer = nil
	}
	inst.timerGen++ // a callback already running finds itself stale
	inst.expiresAt = time.Time{}
}

func (m *Manager) expire(inst *instance, gen int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if inst.timerGen != gen || inst.refs > 0 || inst.state != StateReady {
		return
	}
	m.beginStopLocked(inst, ReasonIdle)
}

// beginStopLocked marks inst stopping and stops its runner in the
// background; watch removes it when the process has exited.
func (m *Manager) beginStopLocked(inst *instance, reason Reason) {
	if inst.state == StateStopping {
		return
	}
	m.stopTimerLocked(inst)
	inst.state = StateStopping
	inst.reason = reason
	r := inst.runner
	m.watchers.Add(1)
	go func() {
		defer m.watchers.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(m.base), m.o.StopTimeout)
		defer cancel()
		_ = r.Stop(ctx)
	}()
}

// Unload drains model on device: the instance takes no new leases (callers
// wait and then load it afresh), stops as soon as its last reference is
// released — never under a task that holds it, however long its pages take —
// and Unload returns once the process has exited. If ctx ends first, Unload
// returns ctx's error and the drain goes on: the caller stops waiting, the
// instance still stops when its users are done. Unloading what is not loaded
// is not an error.
func (m *Manager) Unload(ctx context.Context, model, device string) error {
	k := key{model, device}
	m.mu.Lock()
	inst := m.instances[k]
	if inst == nil {
		m.mu.Unlock()
		return nil
	}
	if inst.state == StateLoading {
		loaded := inst.loaded
		m.mu.Unlock()
		select {
		case <-loaded:
		case <-ctx.Done():
			return ctx.Err()
		}
		return m.Unload(ctx, model, device)
	}
	draining := false
	if inst.state == StateReady {
		if inst.refs == 0 {
			m.beginStopLocked(inst, ReasonExplicit)
		} else {
			inst.state = StateDraining
			m.stopTimerLocked(inst)
			draining = true
		}
	}
	gone := inst.gone
	m.mu.Unlock()
	if draining && m.testDraining != nil {
		m.testDraining()
	}
	select {
	case <-gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EvictIdle unloads idle instances on device — least recently used first,
// larger first among equals, pinned ones last — until enough reports true,
// waiting for each runner to exit. If enough is still false after the last
// eviction it re-checks until EvictWait has passed (memory can take a moment
// to show as free). It returns how many instances it evicted. Instances with
// references are never evicted.
func (m *Manager) EvictIdle(ctx context.Context, device string, reason Reason, enough func() bool) (int, error) {
	evicted := 0
	for !enough() {
		m.mu.Lock()
		var cands []*instance
		for _, inst := range m.instances {
			if inst.device == device && inst.state == StateReady && inst.refs == 0 {
				cands = append(cands, inst)
			}
		}
		if len(cands) == 0 {
			m.mu.Unlock()
			break
		}
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if pa, pb := a.keepAlive < 0, b.keepAlive < 0; pa != pb {
				return !pa
			}
			if !a.lastUsed.Equal(b.lastUsed) {
				return a.lastUsed.Before(b.lastUsed)
			}
			return a.estimate > b.estimate
		})
		victim := cands[0]
		m.beginStopLocked(victim, reason)
		gone := victim.gone
		m.mu.Unlock()
		select {
		case <-gone:
			evicted++
		case <-ctx.Done():
			return evicted, ctx.Err()
		}
	}
	if evicted > 0 && !enough() {
		m.waitEnough(ctx, enough)
	}
	return evicted, ctx.Err()
}

// waitEnough re-checks enough every 50ms until EvictWait has passed.
func (m *Manager) waitEnough(ctx context.Context, enough func() bool) {
	deadline := make(chan struct{})
	t := m.o.Clock.AfterFunc(m.o.EvictWait, func() { close(deadline) })
	defer t.Stop()
	tick := m.o.Clock.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !enough() {
		select {
		case <-tick.C():
		case <-deadline:
			return
		case <-ctx.Done():
			return
		}
	}
}

// InstanceInfo describes an instance (the domain's shape).
type InstanceInfo = lector.Instance

// List describes every instance, sorted by model then device.
func (m *Manager) List() []InstanceInfo {
	m.mu.Lock()
	out := make([]InstanceInfo, 0, len(m.instances))
	for _, inst := range m.instances {
		info := InstanceInfo{
			Model: inst.model, Device: inst.device, State: inst.state, Refs: inst.refs, Pinned: inst.keepAlive < 0,
			LoadedAt: inst.loadedAt, LastUsed: inst.lastUsed, ExpiresAt: inst.expiresAt, Estimated: inst.estimate,
		}
		if inst.runner != nil {
			info.Pid = inst.runner.Pid()
		}
		out = append(out, info)
	}
	m.mu.Unlock()
	if m.o.Measure != nil {
		for i := range out {
			if out[i].Pid != 0 {
				out[i].CPUBytes, out[i].GPUBytes = m.o.Measure(out[i].Pid, out[i].Device)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].Device < out[j].Device
	})
	return out
}

// Resident reports whether model is loaded (or loading) on device.
func (m *Manager) Resident(model, device string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	inst := m.instances[key{model, device}]
	return inst != nil && (inst.state == StateReady || inst.state == StateLoading)
}

// Unloads returns the most recent unloads, oldest first.
func (m *Manager) Unloads() []UnloadRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]UnloadRecord(nil), m.history...)
}

// Stop unloads every instance (reason shutdown) and returns once every
// runner has exited and every goroutine of the manager has ended, or ctx
// ends. New Acquires fail with unavailable. It is idempotent.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.kill() // aborts loads in flight
	done := make(chan struct{})
	go func() {
		m.loads.Wait()
		m.mu.Lock()
		for _, inst := range m.instances {
			if inst.state != StateLoading {
				m.beginStopLocked(inst, ReasonShutdown)
			}
		}
		m.mu.Unlock()
		m.watchers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("model: stopping: %w", ctx.Err())
	}
}
