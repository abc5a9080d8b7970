package admission

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/obs"
)

// Monitor is what admission needs of the memory monitor.
type Monitor interface {
	Poll() error
	State(device string) (memory.DeviceState, bool)
	Subscribe(func(memory.LevelChange)) (unsubscribe func())
}

// Evictor is what admission needs of the model manager.
type Evictor interface {
	EvictIdle(ctx context.Context, device string, reason model.Reason, enough func() bool) (int, error)
}

// Priority orders work under pressure (the domain's).
type Priority = lector.Priority

// Priorities.
const (
	Interactive = lector.Interactive
	Normal      = lector.Normal
	Batch       = lector.Batch
)

// Decision names an admission outcome, for metrics.
type Decision string

// Decisions.
const (
	Admitted Decision = "admitted"
	Deferred Decision = "deferred"
	Fallback Decision = "fallback"
	Rejected Decision = "rejected"
)

// Request asks to admit one task.
type Request struct {
	Task string
	// Device is where the task is bound.
	Device string
	// FallbackDevice, when set, is where the task may run instead when
	// Device does not admit it — its use would cross the critical line
	// there (a GPU task whose model also runs on the CPU: "cpu").
	FallbackDevice string
	// Estimate returns the task's demand when placed on a device (on a GPU
	// it has a host part, reserved on the CPU at the same time).
	Estimate func(device string) Demand
	// Serial, when set, returns the task's demand with its pages run one
	// at a time. A task whose Estimate does not fit is admitted this way
	// when Serial does; a task "can never hold" only when Serial (or,
	// without it, Estimate) does not fit.
	Serial   func(device string) Demand
	Priority Priority
	// Sync callers are answered at once rather than kept waiting for memory.
	Sync bool
}

// Reservation holds a task's estimated memory until Release: Bytes on
// Device and, for a GPU, HostBytes on the CPU.
type Reservation struct {
	Device    string
	Bytes     uint64        // the task's estimate on Device, as admitted
	HostBytes uint64        // and on the CPU, for a GPU task
	Fallback  bool          // placed on the fallback device
	Serial    bool          // admitted for one page at a time (Request.Serial)
	Waited    time.Duration // time spent deferred or waiting for memory

	c *Controller
	// held and heldHost are what the reservation still holds: Bytes and
	// HostBytes less the model's load once Loaded. Guarded by c.mu.
	held, heldHost uint64
	load, hostLoad uint64 // Demand.Load and HostLoad
	loaded         bool   // Loaded ran; guarded by c.mu
	released       bool   // Release ran; guarded by c.mu
}

// Loaded tells admission that the task holds its model, loaded: the
// model's load, which the estimate counted because the model was not
// resident (Demand.Load, HostLoad), is now in the device's used memory,
// so the reservation stops holding it — otherwise it would be counted
// twice, in use and reserved, for the task's whole life, and tasks that
// fit would wait. Waiting tasks look again at once. Loaded is idempotent
// and does nothing after Release.
func (r *Reservation) Loaded() {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.loaded || r.released || (r.load == 0 && r.hostLoad == 0) {
		return
	}
	r.loaded = true
	r.held -= r.load
	r.heldHost -= r.hostLoad
	c.reserved[r.Device] -= r.load
	c.reserved[hostDevice] -= r.hostLoad
	// A decision that read used memory before the load was complete must
	// not meet the reservation without it: it reads again (reserveIfFits).
	c.gen++
	c.signalLocked()
}

// Release returns the reservation. It is idempotent.
func (r *Reservation) Release() {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	c.reserved[r.Device] -= r.held
	c.reserved[hostDevice] -= r.heldHost
	for _, on := range r.devices() {
		c.holders[on]--
	}
	c.signalLocked()
}

// devices lists the devices the reservation holds memory on, as
// Demand.devices.
func (r *Reservation) devices() []string {
	return Demand{Device: r.Device, Bytes: r.Bytes, Host: r.HostBytes}.devices()
}

// hostDevice is where the host part of a GPU task's demand is reserved.
const hostDevice = string(device.CPU)

// Defaults.
const (
	// DefaultCriticalWait bounds a queued task's wait for memory.
	DefaultCriticalWait = time.Minute
	// DefaultRecheck is how often waiting tasks look again unprompted.
	DefaultRecheck = time.Second
	// DefaultStructureConcurrency caps structure predictions at once.
	DefaultStructureConcurrency = 2
)

// Options configures a Controller.
type Options struct {
	Monitor  Monitor
	Evictor  Evictor
	Clock    clock.Clock
	Log      *slog.Logger
	Critical float64 // the critical threshold: used+reserved+estimate stays under it
	// Wait bounds how long a non-synchronous task waits for memory (or, at
	// batch priority, for the level to fall) before insufficient_memory.
	Wait time.Duration
	// Recheck is how often waiting tasks look at memory again even when
	// nothing signalled a change. Default 1s.
	Recheck time.Duration
	// OnDecision observes each decision (metrics); reason is a short word.
	OnDecision func(d Decision, device, reason string)
}

// Controller admits tasks.
type Controller struct {
	o        Options
	unsub    func()
	stopOnce sync.Once
	bg       sync.WaitGroup // emergency evictions

	mu       sync.Mutex // guards reserved, holders, gen and changed
	reserved map[string]uint64
	// holders counts the reservations on each device: a task whose
	// reservation dropped its model's load may hold few or no bytes, and
	// still holds memory that is released when it ends.
	holders map[string]int
	// gen counts reservations that stopped holding a model's load
	// (Reservation.Loaded).
	gen     uint64
	changed chan struct{} // closed and replaced when reservations or levels change
}

// New returns a controller subscribed to the monitor's level changes. Call
// Stop to unsubscribe and wait for background evictions.
func New(o Options) *Controller {
	o.Clock, o.Log = obs.Clock(o.Clock), obs.Log(o.Log)
	if o.Recheck <= 0 {
		o.Recheck = DefaultRecheck
	}
	c := &Controller{o: o, reserved: map[string]uint64{}, holders: map[string]int{}, changed: make(chan struct{})}
	c.unsub = o.Monitor.Subscribe(c.onLevel)
	return c
}

// Stop unsubscribes and waits for background evictions, or until ctx
// ends. It is idempotent.
func (c *Controller) Stop(ctx context.Context) error {
	c.stopOnce.Do(c.unsub)
	done := make(chan struct{})
	go func() {
		c.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Controller) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// onLevel runs in the monitor's poll: it logs once per change and, at
// emergency, evicts every idle instance on the device in the background.
func (c *Controller) onLevel(ch memory.LevelChange) {
	switch {
	case ch.To == memory.LevelEmergency:
		c.o.Log.Warn("memory emergency: evicting every idle model", "device", ch.Device)
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			_, _ = c.o.Evictor.EvictIdle(context.Background(), ch.Device, model.ReasonPressure, func() bool { return false })
		}()
	case ch.To == memory.LevelWarning && ch.From < ch.To:
		c.o.Log.Warn("memory warning: deferring batch work and refusing preloads", "device", ch.Device)
	}
	c.mu.Lock()
	c.signalLocked()
	c.mu.Unlock()
}

// Reserved returns the outstanding reservation on device.
func (c *Controller) Reserved(device string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reserved[device]
}

// AllowPreload refuses explicit preloads at warning and above.
func (c *Controller) AllowPreload(device string) error {
	_ = c.o.Monitor.Poll()
	if st, ok := c.o.Monitor.State(device); ok && st.Level >= memory.LevelWarning {
		return errcode.New(errcode.InsufficientMemory, "memory on %s is at %s: preloads are refused", device, st.Level)
	}
	return nil
}

func (c *Controller) decide(d Decision, device, reason string) {
	if c.o.OnDecision != nil {
		c.o.OnDecision(d, device, reason)
	}
}

// devices lists the devices a demand puts bytes on: its own, and the CPU
// for a GPU's host part.
func (d Demand) devices() []string {
	if d.Device != hostDevice && d.Host > 0 {
		return []string{d.Device, hostDevice}
	}
	return []string{d.Device}
}

// tryReserve reserves the task's demand on dev (and its host part on the
// CPU) if, on each device, used+reserved+demand stays under the critical
// threshold, evicting idle instances first on each device where it does
// not fit. The demand is taken again after an eviction: what is resident
// may have changed. It reports the level seen on dev and the demand
// reserved.
func (c *Controller) tryReserve(ctx context.Context, dev string, estimate func(string) Demand) (bool, memory.Level, Demand) {
	d := estimate(dev)
	_ = c.o.Monitor.Poll()
	st, ok := c.o.Monitor.State(dev)
	if !ok {
		return false, memory.LevelOK, Demand{}
	}
	for _, on := range d.devices() {
		if s, ok := c.o.Monitor.State(on); !ok || s.Level == memory.LevelEmergency {
			return false, st.Level, Demand{}
		}
	}
	if c.reserveIfFits(d) {
		return true, st.Level, d
	}
	evicted := 0
	for _, on := range d.devices() {
		fits := func() bool {
			_ = c.o.Monitor.Poll()
			s, _ := c.o.Monitor.State(on)
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.fitsLocked(s, d.On(on))
		}
		if fits() {
			continue
		}
		n, _ := c.o.Evictor.EvictIdle(ctx, on, model.ReasonPressure, fits)
		evicted += n
	}
	if evicted > 0 {
		_ = c.o.Monitor.Poll()
		st, _ = c.o.Monitor.State(dev)
		d = estimate(dev)
		if c.reserveIfFits(d) {
			return true, st.Level, d
		}
	}
	return false, st.Level, Demand{}
}

func (c *Controller) fitsLocked(s memory.DeviceState, est uint64) bool {
	limit := c.o.Critical * float64(s.Usage.Total)
	return float64(s.Usage.Used)+float64(c.reserved[s.Device])+float64(est) <= limit
}

// reserveIfFits reserves d on every device it uses, or nothing, under one
// lock. Where a reservation dropped a model's load (Reservation.Loaded)
// after the used figures were read, they are read again: those figures may
// predate the load, and the reservation no longer counts it.
func (c *Controller) reserveIfFits(d Demand) bool {
	devs := d.devices()
	states := make([]memory.DeviceState, len(devs))
	for {
		c.mu.Lock()
		gen := c.gen
		c.mu.Unlock()
		for i, on := range devs {
			states[i], _ = c.o.Monitor.State(on)
		}
		if fits, current := c.reserveLocked(d, devs, states, gen); current {
			return fits
		}
		_ = c.o.Monitor.Poll()
	}
}

// reserveLocked reserves d if it fits on states, read when c.gen was gen;
// current is false, and nothing is reserved, when gen has moved since.
func (c *Controller) reserveLocked(d Demand, devs []string, states []memory.DeviceState, gen uint64) (fits, current bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false, false
	}
	for i, on := range devs {
		if !c.fitsLocked(states[i], d.On(on)) {
			return false, true
		}
	}
	for _, on := range devs {
		c.reserved[on] += d.On(on)
		c.holders[on]++
	}
	c.signalLocked()
	return true, true
}

// neverFits reports a device of d's that could never hold its part, even
// empty.
func (c *Controller) neverFits(d Demand) (string, uint64, bool) {
	for _, on := range d.devices() {
		if st, ok := c.o.Monitor.State(on); ok && float64(d.On(on)) > c.o.Critical*float64(st.Usage.Total) {
			return on, d.On(on), true
		}
	}
	return "", 0, false
}

// Headroom is how many bytes more dev can take before the critical line:
// critical×total − used − reserved (negative when over).
func (c *Controller) Headroom(dev string) int64 {
	st, ok := c.o.Monitor.State(dev)
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(c.o.Critical*float64(st.Usage.Total)) - int64(st.Usage.Used) - int64(c.reserved[dev])
}

func (c *Controller) reservation(d Demand, fallback, serial bool, start time.Time) *Reservation {
	return &Reservation{Device: d.Device, Bytes: d.Bytes, HostBytes: d.Host, Fallback: fallback, Serial: serial, Waited: c.o.Clock.Now().Sub(start), c: c,
		held: d.Bytes, heldHost: d.Host, load: min(d.Load, d.Bytes), hostLoad: min(d.HostLoad, d.Host)}
}

// tryBoth reserves the task's demand on dev with its pages at once, else
// one at a time; nil when neither fits.
func (c *Controller) tryBoth(ctx context.Context, req Request, dev string, start time.Time, fallback bool) *Reservation {
	if ok, _, got := c.tryReserve(ctx, dev, req.Estimate); ok {
		return c.reservation(got, fallback, false, start)
	}
	if req.Serial != nil {
		if ok, _, got := c.tryReserve(ctx, dev, req.Serial); ok {
			return c.reservation(got, fallback, true, start)
		}
	}
	return nil
}

func (c *Controller) serialOf(req Request, dev string) Demand {
	if req.Serial != nil {
		return req.Serial(dev)
	}
	return req.Estimate(dev)
}

func (c *Controller) level(dev string) memory.Level {
	st, _ := c.o.Monitor.State(dev)
	return st.Level
}

func (c *Controller) neverError(on string, b uint64) error {
	st, _ := c.o.Monitor.State(on)
	return errcode.New(errcode.InsufficientMemory, "the task needs about %d MiB on %s even one page at a time, more than it can ever hold (the critical line is %d MiB of %d MiB)",
		b>>20, on, uint64(c.o.Critical*float64(st.Usage.Total))>>20, st.Usage.Total>>20)
}

// Freed tells waiting tasks that memory was released outside admission's
// reservations (a model instance unloaded or evicted): they look again at
// once rather than at the next recheck.
func (c *Controller) Freed() {
	c.mu.Lock()
	c.signalLocked()
	c.mu.Unlock()
}

// alone reports whether no task holds a reservation on any device d uses:
// then nothing Lector runs will release memory for it, and waiting is in
// vain.
func (c *Controller) alone(d Demand) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, on := range d.devices() {
		if c.holders[on] != 0 {
			return false
		}
	}
	return true
}

// refuseAlone is the refusal of a task that does not fit though nothing
// else holds memory, with the numbers.
func (c *Controller) refuseAlone(d Demand) error {
	for _, on := range d.devices() {
		st, _ := c.o.Monitor.State(on)
		line := uint64(c.o.Critical * float64(st.Usage.Total))
		if float64(st.Usage.Used)+float64(d.On(on)) > float64(line) {
			return errcode.New(errcode.InsufficientMemory, "the task needs about %d MiB on %s and %d MiB are in use there with no other task holding memory "+
				"(idle models evicted); the critical line is %d MiB of %d MiB, so it cannot run here now",
				d.On(on)>>20, on, st.Usage.Used>>20, line>>20, st.Usage.Total>>20)
		}
	}
	return errcode.New(errcode.InsufficientMemory, "the task needs about %d MiB on %s, more than is free with no other task holding memory", d.Bytes>>20, d.Device)
}

// ErrBusy marks a refusal after Wait while other tasks' reservations held
// the memory the task needed: a shortage of the node's own making, which
// ends as those tasks end — the task may be put back in the queue rather
// than fail (the service does so, a bounded number of times).
var ErrBusy = errors.New("memory held by other tasks")

// waitError is the refusal of a task that waited Wait for memory, with
// the numbers of the device where it did not fit: its demand, what is in
// use, what other tasks' reservations hold, and the critical line. It
// wraps ErrBusy when other tasks held reservations there.
func (c *Controller) waitError(d Demand) error {
	for _, on := range d.devices() {
		st, _ := c.o.Monitor.State(on)
		line := uint64(c.o.Critical * float64(st.Usage.Total))
		c.mu.Lock()
		held, holders := c.reserved[on], c.holders[on]
		c.mu.Unlock()
		if float64(st.Usage.Used)+float64(held)+float64(d.On(on)) > float64(line) {
			var cause error
			if holders > 0 {
				cause = ErrBusy
			}
			return errcode.Wrap(errcode.InsufficientMemory, cause, "no memory on %s within %s: the task needs about %d MiB there, %d MiB are in use (running tasks' models included) "+
				"and other tasks' reservations hold %d MiB more; the critical line is %d MiB of %d MiB (submit it again when they have finished, "+
				"or raise --critical-wait)",
				on, c.o.Wait, d.On(on)>>20, st.Usage.Used>>20, held>>20, line>>20, st.Usage.Total>>20)
		}
	}
	return errcode.New(errcode.InsufficientMemory, "no memory on %s within %s", d.Device, c.o.Wait)
}

// Admit returns a reservation for the task, or insufficient_memory. A task
// is admitted when used + reserved + its demand stays under the critical
// line on every device it uses (idle models evicted if need be), with its
// pages at once, else one at a time (Request.Serial). It is refused at
// once when it is synchronous, when even one page at a time is more than
// the device could ever hold (critical × total), or when it does not fit
// though no other task holds a reservation (waiting is then in vain: the
// message gives the numbers). Otherwise it waits — woken when a
// reservation ends, a model is unloaded (Freed), the level changes, or
// every Recheck — up to Wait. A batch task waits while its device is at
// warning or above.
func (c *Controller) Admit(ctx context.Context, req Request) (*Reservation, error) {
	start := c.o.Clock.Now()
	expired := make(chan struct{})
	if !req.Sync {
		t := c.o.Clock.AfterFunc(c.o.Wait, func() { close(expired) })
		defer t.Stop()
	}
	tick := c.o.Clock.NewTicker(c.o.Recheck)
	defer tick.Stop()
	deferredOnce := false
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()

		est := req.Estimate(req.Device)
		level := memory.LevelOK
		if st, ok := c.o.Monitor.State(req.Device); ok {
			level = st.Level
		}
		if req.Priority == Batch && level >= memory.LevelWarning {
			_ = c.o.Monitor.Poll()
			st, _ := c.o.Monitor.State(req.Device)
			level = st.Level
		}
		if req.Priority == Batch && level >= memory.LevelWarning {
			if !deferredOnce {
				c.decide(Deferred, req.Device, "batch_at_"+level.String())
				deferredOnce = true
			}
		} else {
			// A task the device can never hold, even one page at a time, is
			// refused before anything is evicted for it (with a fallback
			// device it may still run there: see below).
			one := est
			if req.Serial != nil {
				one = req.Serial(req.Device)
			}
			if on, b, never := c.neverFits(one); never && req.FallbackDevice == "" {
				c.decide(Rejected, req.Device, "never_fits")
				return nil, c.neverError(on, b)
			}
			if r := c.tryBoth(ctx, req, req.Device, start, false); r != nil {
				c.decide(Admitted, req.Device, "fits")
				return r, nil
			}
			// The device does not admit it (its use would cross the
			// critical line, idle instances evicted or not): the fallback
			// device, when it does, runs it now.
			if req.FallbackDevice != "" && req.FallbackDevice != req.Device {
				if r := c.tryBoth(ctx, req, req.FallbackDevice, start, true); r != nil {
					c.decide(Fallback, req.FallbackDevice, req.Device+"_"+c.level(req.Device).String())
					return r, nil
				}
			}
			if on, b, never := c.neverFits(one); never {
				c.decide(Rejected, req.Device, "never_fits")
				return nil, c.neverError(on, b)
			}
			if c.alone(one) && (req.FallbackDevice == "" || c.alone(c.serialOf(req, req.FallbackDevice))) {
				c.decide(Rejected, req.Device, "alone")
				return nil, c.refuseAlone(one)
			}
			if req.Sync {
				c.decide(Rejected, req.Device, "sync_"+c.level(req.Device).String())
				return nil, errcode.New(errcode.InsufficientMemory, "not enough memory on %s now (level %s)", req.Device, c.level(req.Device))
			}
		}
		select {
		case <-changed:
		case <-tick.C():
		case <-expired:
			c.decide(Rejected, req.Device, "wait_expired")
			one := est
			if req.Serial != nil {
				one = req.Serial(req.Device)
			}
			return nil, c.waitError(one)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
