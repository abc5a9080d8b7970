package memory

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/obs"
)

// DeviceProbe names the probe of one device ("cpu", "cuda:0").
type DeviceProbe struct {
	Device string
	Probe  Probe
}

// DeviceState is the monitor's latest view of one device.
type DeviceState struct {
	Device string    `json:"device"`
	Usage  Usage     `json:"memory"`
	Level  Level     `json:"level"`
	At     time.Time `json:"at"`
	Err    string    `json:"error,omitempty"` // the last probe failure, if the last read failed
}

// LevelChange is delivered to subscribers when a device changes level.
type LevelChange struct {
	Device   string
	From, To Level
	Usage    Usage
	At       time.Time
}

// Monitor polls device probes, keeps a snapshot and reports level changes.
//
// Polls are serialised: Poll may be called on demand from any goroutine while
// Start's loop polls every interval. Subscribers are called synchronously, in
// order, from the polling goroutine, once per change; they must not block or
// call Poll.
type Monitor struct {
	clock    clock.Clock
	interval time.Duration
	th       Thresholds
	log      *slog.Logger
	probes   []DeviceProbe

	pollMu sync.Mutex // serialises polls, so changes are seen in order and once

	mu     sync.Mutex // guards states, subs, nextID, cancel, done
	states map[string]DeviceState
	subs   map[int]func(LevelChange)
	nextID int
	cancel context.CancelFunc
	done   chan struct{}
}

// MonitorOptions configures NewMonitor.
type MonitorOptions struct {
	Probes     []DeviceProbe
	Thresholds Thresholds
	Interval   time.Duration
	Clock      clock.Clock  // default clock.Real
	Log        *slog.Logger // default discards
}

// NewMonitor returns a monitor that has not polled yet.
func NewMonitor(o MonitorOptions) *Monitor {
	o.Clock, o.Log = obs.Clock(o.Clock), obs.Log(o.Log)
	if o.Interval <= 0 {
		o.Interval = DefaultPollInterval
	}
	return &Monitor{
		clock: o.Clock, interval: o.Interval, th: o.Thresholds, log: o.Log,
		probes: o.Probes, states: make(map[string]DeviceState), subs: make(map[int]func(LevelChange)),
	}
}

// Thresholds returns the thresholds in force.
func (m *Monitor) Thresholds() Thresholds { return m.th }

// Devices lists the monitored devices in probe order.
func (m *Monitor) Devices() []string {
	out := make([]string, len(m.probes))
	for i, p := range m.probes {
		out[i] = p.Device
	}
	return out
}

// Subscribe registers fn for level changes and returns its cancellation.
func (m *Monitor) Subscribe(fn func(LevelChange)) (unsubscribe func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextID
	m.nextID++
	m.subs[id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs, id)
	}
}

// Poll reads every probe now, updates the snapshot and notifies subscribers
// of level changes. It returns the joined probe errors; a failed device keeps
// its last usage and level.
func (m *Monitor) Poll() error {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	var errs []error
	var changes []LevelChange
	now := m.clock.Now()
	for _, p := range m.probes {
		u, err := p.Probe.Read()
		m.mu.Lock()
		prev, seen := m.states[p.Device]
		if err != nil {
			errs = append(errs, err)
			prev.Device, prev.Err = p.Device, err.Error()
			m.states[p.Device] = prev
			m.mu.Unlock()
			continue
		}
		level := m.th.Next(prev.Level, u.Fraction())
		m.states[p.Device] = DeviceState{Device: p.Device, Usage: u, Level: level, At: now}
		m.mu.Unlock()
		if level != prev.Level || (!seen && level != LevelOK) {
			changes = append(changes, LevelChange{Device: p.Device, From: prev.Level, To: level, Usage: u, At: now})
		}
	}
	for _, c := range changes {
		m.logChange(c)
		m.mu.Lock()
		subs := make([]func(LevelChange), 0, len(m.subs))
		for id := range m.nextID {
			if fn, ok := m.subs[id]; ok {
				subs = append(subs, fn)
			}
		}
		m.mu.Unlock()
		for _, fn := range subs {
			fn(c)
		}
	}
	return errors.Join(errs...)
}

func (m *Monitor) logChange(c LevelChange) {
	attrs := []any{"device", c.Device, "from", c.From.String(), "to", c.To.String(),
		"used_bytes", c.Usage.Used, "total_bytes", c.Usage.Total}
	if c.To > c.From && c.To >= LevelWarning {
		m.log.Warn("memory level rose", attrs...)
	} else {
		m.log.Info("memory level changed", attrs...)
	}
}

// Snapshot returns the latest state of every device, in probe order. Devices
// never read successfully have a zero Usage.
func (m *Monitor) Snapshot() []DeviceState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DeviceState, 0, len(m.probes))
	for _, p := range m.probes {
		s := m.states[p.Device]
		s.Device = p.Device
		out = append(out, s)
	}
	return out
}

// State returns one device's latest state.
func (m *Monitor) State(device string) (DeviceState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.states[device]
	return s, ok
}

// Start polls once, then every interval until Stop — not until ctx ends:
// ctx's values are kept, its cancellation is not, so that a signal that
// starts a shutdown does not stop the memory readings that running tasks
// still need. It is idempotent.
func (m *Monitor) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.done != nil {
		m.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.done = make(chan struct{})
	done := m.done
	m.mu.Unlock()

	if err := m.Poll(); err != nil {
		m.log.Warn("memory probe failed", "err", err)
	}
	tk := m.clock.NewTicker(m.interval)
	go func() {
		defer close(done)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C():
				if err := m.Poll(); err != nil {
					m.log.Warn("memory probe failed", "err", err)
				}
			}
		}
	}()
	return nil
}

// Stop ends the polling loop and returns when it has ended, or when ctx ends.
// It is idempotent.
func (m *Monitor) Stop(ctx context.Context) error {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
