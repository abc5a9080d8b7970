package memory

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/clock"
)

// scripted is a probe whose reading the test sets.
type scripted struct {
	mu  sync.Mutex
	u   Usage
	err error
}

func (s *scripted) set(frac float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.u = Usage{Total: 1000, Used: uint64(frac * 1000)}
	s.err = nil
}

func (s *scripted) Read() (Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.u, s.err
}

var testThresholds = Thresholds{Warning: 0.80, Critical: 0.95, Emergency: 0.98, Hysteresis: 0.05}

func TestMonitorNotifiesEachChangeOnceWithoutFlapping(t *testing.T) {
	t.Parallel()
	p := &scripted{}
	m := NewMonitor(MonitorOptions{Probes: []DeviceProbe{{"cpu", p}}, Thresholds: testThresholds, Clock: clock.NewFake(time.Unix(0, 0))})
	var got []LevelChange
	m.Subscribe(func(c LevelChange) { got = append(got, c) })

	// Usage oscillates around the warning threshold: one change up, none while
	// it stays within the hysteresis band, one change down when it leaves.
	for _, f := range []float64{0.5, 0.81, 0.79, 0.81, 0.78, 0.80, 0.76, 0.70, 0.70, 0.96, 0.93, 0.91, 0.89} {
		p.set(f)
		if err := m.Poll(); err != nil {
			t.Fatal(err)
		}
	}
	want := []struct{ from, to Level }{
		{LevelOK, LevelWarning}, {LevelWarning, LevelOK}, {LevelOK, LevelCritical}, {LevelCritical, LevelWarning},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].From != w.from || got[i].To != w.to || got[i].Device != "cpu" {
			t.Errorf("change %d = %v→%v, want %v→%v", i, got[i].From, got[i].To, w.from, w.to)
		}
	}
	s, _ := m.State("cpu")
	if s.Level != LevelWarning || s.Usage.Used != 890 {
		t.Errorf("snapshot = %+v", s)
	}
}

func TestMonitorPollsOnTheClocksTicks(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Unix(0, 0))
	p := &scripted{}
	p.set(0.10)
	m := NewMonitor(MonitorOptions{Probes: []DeviceProbe{{"cpu", p}}, Thresholds: testThresholds, Clock: fc, Interval: time.Second})
	changes := make(chan LevelChange, 4)
	unsubscribe := m.Subscribe(func(c LevelChange) { changes <- c })
	defer unsubscribe()

	m.Start(t.Context())
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	if s, _ := m.State("cpu"); s.Usage.Used != 100 {
		t.Fatalf("Start did not poll at once: %+v", s)
	}
	done := make(chan struct{})
	time.AfterFunc(10*time.Second, func() { close(done) })
	if !fc.WaitPending(1, done) {
		t.Fatal("monitor never armed its ticker")
	}
	p.set(0.97)
	fc.Advance(time.Second)
	select {
	case c := <-changes:
		if c.To != LevelCritical {
			t.Fatalf("change to %v, want critical", c.To)
		}
	case <-done:
		t.Fatal("no level change after a tick")
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal("second Stop:", err)
	}
}

func TestMonitorKeepsLastStateOnProbeError(t *testing.T) {
	t.Parallel()
	p := &scripted{}
	p.set(0.9)
	m := NewMonitor(MonitorOptions{Probes: []DeviceProbe{{"cuda:0", p}}, Thresholds: testThresholds})
	if err := m.Poll(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.err = errors.New("gone")
	p.mu.Unlock()
	if err := m.Poll(); err == nil {
		t.Fatal("probe error not returned")
	}
	s := m.Snapshot()[0]
	if s.Level != LevelWarning || s.Usage.Used != 900 || s.Err != "gone" {
		t.Fatalf("state after error = %+v", s)
	}
}

func TestNVMLAbsentMeansNoGPUs(t *testing.T) {
	t.Parallel()
	n := OpenNVML("/nonexistent/libnvidia-ml.so.1", slog.New(slog.DiscardHandler))
	defer n.Close()
	if d := n.Devices(); len(d) != 0 {
		t.Fatalf("devices without a library: %+v", d)
	}
	if _, err := n.Read(0); err == nil {
		t.Fatal("reading an absent GPU did not fail")
	}
	n.Close() // idempotent
}

func BenchmarkMonitorSnapshot(b *testing.B) {
	m := NewMonitor(MonitorOptions{Probes: []DeviceProbe{{"cpu", NewCPUProbe("")}}, Thresholds: testThresholds})
	if err := m.Poll(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = m.Snapshot()
	}
}

func BenchmarkMonitorPoll(b *testing.B) {
	m := NewMonitor(MonitorOptions{Probes: []DeviceProbe{{"cpu", NewCPUProbe("")}}, Thresholds: testThresholds})
	for b.Loop() {
		if err := m.Poll(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNVMLProcessUsed is one per-process read of GPU 0, what a GPU
// task's peak sampling costs per sample (bench/gpu-check.sh runs it).
func BenchmarkNVMLProcessUsed(b *testing.B) {
	n := OpenNVML("", slog.New(slog.DiscardHandler))
	defer n.Close()
	if len(n.Devices()) == 0 {
		b.Skip("no NVIDIA GPU here: nothing to measure")
	}
	idx := n.Devices()[0].Index
	for b.Loop() {
		if _, err := n.ProcessUsed(idx); err != nil {
			b.Fatal(err)
		}
	}
}
