// Package config holds Lector's runtime settings: one Config with every field
// documented beside its default. Defaults are the owning packages' constants
// (model.DefaultLoadTimeout, service.DefaultRetention…), named here once
// more for the flags; WithDefaults
// fills unset fields and Validate names the first bad one. Nothing here reads
// flags or the environment: that happens in internal/cli only.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/service"
)

// Defaults for every setting. A zero field in Config means "use the default".
const (
	DefaultListenAddr = "127.0.0.1:8080"

	DefaultPollInterval = memory.DefaultPollInterval

	DefaultKeepAlive       = model.DefaultKeepAlive
	DefaultLoadTimeout     = model.DefaultLoadTimeout
	DefaultStopTimeout     = model.DefaultStopTimeout
	DefaultLoadCooldown    = model.DefaultLoadCooldown
	DefaultMaxLoadCooldown = model.DefaultMaxLoadCooldown
	DefaultEvictWait       = model.DefaultEvictWait

	DefaultGPULanes    = pool.DefaultGPULanes
	DefaultQueueLength = pool.DefaultQueueLength

	DefaultStructureConcurrency = admission.DefaultStructureConcurrency
	DefaultCriticalWait         = admission.DefaultCriticalWait
	DefaultMaxQueuedTasks       = service.DefaultMaxQueued

	DefaultMaxInputBytes    = document.DefaultMaxBytes
	DefaultMaxPages         = document.DefaultMaxPages
	DefaultMaxPixelsPerPage = document.DefaultMaxPixelsPerPage
	DefaultPDFDPI           = document.DefaultDPI
	DefaultPageTimeout      = engine.DefaultPageTimeout
	DefaultRenderTimeout    = document.DefaultRenderTimeout
	DefaultRenderMemory     = document.DefaultRenderMemory

	DefaultMaxAttempts         = service.DefaultMaxAttempts
	DefaultSyncTimeout         = service.DefaultSyncTimeout
	DefaultShutdownTimeout     = 30 * time.Second // lector serve's: running work's time to finish at SIGTERM
	DefaultMaxQueuedPerSubject = service.DefaultMaxQueuedPerSubject
	DefaultRetention           = service.DefaultRetention
	DefaultRetentionInterval   = service.DefaultRetentionInterval
	DefaultHeartbeatInterval   = service.DefaultHeartbeatInterval
	DefaultNodeTimeout         = service.DefaultNodeTimeout
)

// The memory thresholds' defaults (memory.DefaultThresholds).
var (
	DefaultWarningThreshold   = memory.DefaultThresholds.Warning
	DefaultCriticalThreshold  = memory.DefaultThresholds.Critical
	DefaultEmergencyThreshold = memory.DefaultThresholds.Emergency
	DefaultHysteresis         = memory.DefaultThresholds.Hysteresis
)

// Config is every runtime setting of a Lector process.
type Config struct {
	// DataDir holds the database, workspaces and runner sockets. Default: set
	// by the command layer ($XDG_DATA_HOME/lector or ~/.local/share/lector).
	DataDir string
	// Database is the task database: empty for SQLite at
	// DataDir/lector.db (one node), or a postgres:// URL of a PostgreSQL
	// server that several nodes share. Default: empty.
	Database string
	// ListenAddr is the HTTP address of `lector serve`. Default 127.0.0.1:8080.
	ListenAddr string
	// AuthTokens is a token file ("subject:token" or
	// "subject:sha256:HEX" per line); with it every /v1 call needs a bearer
	// token and tasks belong to their subject. Default: none.
	AuthTokens string
	// Operators are the subjects of AuthTokens that may load, pin and
	// unload models (POST /v1/models/{name}/load and /unload: an unload
	// drains instances other subjects' tasks use). Default: none — with
	// tokens, model control is refused (403 forbidden); without tokens
	// (a loopback address) every caller is an operator.
	Operators []string
	// InsecureNoAuth allows listening on a non-loopback address without
	// tokens. Default false: such a server refuses to start.
	InsecureNoAuth bool

	Memory    Memory
	Models    Models
	Pool      Pool
	Admission Admission
	Limits    Limits
	Tasks     Tasks
}

// Tasks configures the task service of `lector serve`.
type Tasks struct {
	// Workers is how many tasks a node runs at once (each spreads its pages
	// over the lanes). Default: twice the lanes of the devices found — the
	// CPU's, plus each GPU's once WithGPUs says how many there are.
	Workers          int
	workersDefaulted bool
	// MaxAttempts bounds how often a task runs when it fails with a
	// retryable code (engine_crashed, unavailable, model_load_failed).
	// Default 3.
	MaxAttempts int
	// SyncTimeout bounds a synchronous request (POST /v1/ocr); a request
	// may ask for less. Default 60s.
	SyncTimeout time.Duration
	// ShutdownTimeout is how long a stopping node lets running tasks and
	// requests finish before it cancels them (tasks return to the queue).
	// Default 30s.
	ShutdownTimeout time.Duration
	// MaxQueuedPerSubject bounds one subject's queued tasks. Default 100.
	MaxQueuedPerSubject int
	// Retention is how long inputs and results are kept after a task ends.
	// Default 7 days.
	Retention time.Duration
	// RetentionInterval is how often expired inputs and results are
	// deleted. Default 1h.
	RetentionInterval time.Duration
	// HeartbeatInterval is how often a node records that it is alive.
	// Default 2s.
	HeartbeatInterval time.Duration
	// NodeTimeout is how long a node may be silent before it is gone and,
	// on a shared (PostgreSQL) database, its running tasks go back to the
	// queue. Default 15s.
	NodeTimeout time.Duration
}

// Memory configures the monitor and its levels.
type Memory struct {
	// WarningThreshold is the used fraction at which a device is at
	// `warning`. Default 0.80.
	WarningThreshold float64
	// CriticalThreshold is the used fraction at which a device is at
	// `critical`; admission keeps used+reserved under it. Default 0.95.
	CriticalThreshold float64
	// EmergencyThreshold is the used fraction at which every idle instance
	// on the device is evicted. Default 0.98.
	EmergencyThreshold float64
	// Hysteresis is how far under a level's threshold usage must fall before
	// the level is left. Default 0.05.
	Hysteresis float64
	// PollInterval is how often every device is probed. Default 1s.
	PollInterval time.Duration
}

// Models configures the model manager.
type Models struct {
	// KeepAlive is how long an idle instance stays loaded after its last
	// lease is released. nil means DefaultKeepAlive (5m); 0 unloads at once;
	// a negative value pins instances.
	KeepAlive *time.Duration
	// LoadTimeout bounds one load, independent of any caller. Default 2m.
	LoadTimeout time.Duration
	// StopTimeout is how long a runner is given to exit after being asked
	// before it is killed. Default 10s.
	StopTimeout time.Duration
	// LoadCooldown is the first wait before a model that failed to load is
	// tried again; it doubles with each failure. Default 5s.
	LoadCooldown time.Duration
	// MaxLoadCooldown caps the growing cooldown. Default 5m.
	MaxLoadCooldown time.Duration
	// EvictWait bounds how long eviction waits for memory to show as freed.
	// Default 10s.
	EvictWait time.Duration
	// EnableSynthetic allows `synthetic:` models (tests and benchmarks only).
	// Default false.
	EnableSynthetic bool
}

// Pool configures the service pool.
type Pool struct {
	// CPULanes is how many pages the CPU service works on at once. Default:
	// the number of cores.
	CPULanes int
	// GPULanes is the number of lanes of each GPU service; 0 turns GPUs off
	// (WithDefaults leaves it as it is: --gpu-lanes defaults to
	// DefaultGPULanes).
	GPULanes int
	// QueueLength bounds the waiters for lanes; a full queue answers
	// queue_full at once. Default 256.
	QueueLength int
}

// Admission configures memory admission and pipeline concurrency.
type Admission struct {
	// StructureConcurrency caps structure predictions at once. Default 2.
	StructureConcurrency int
	// OCRConcurrency caps ocr pipeline tasks at once; 0 means no cap beyond
	// the lanes. Default 0.
	OCRConcurrency int
	// CriticalWait bounds how long a queued (non-synchronous) task waits for
	// memory before failing with insufficient_memory. Default 1m.
	CriticalWait time.Duration
	// MaxQueuedTasks bounds the tasks a node holds queued. Default 1000.
	MaxQueuedTasks int
}

// Limits bound what one input may cost.
type Limits struct {
	// MaxInputBytes is the largest accepted input. Default 100 MiB.
	MaxInputBytes int64
	// MaxPages is the most pages a document may have. Default 1000.
	MaxPages int
	// MaxPixelsPerPage is checked from headers before decoding. Default 100 MP.
	MaxPixelsPerPage int64
	// PDFDPI is the rendering resolution of PDF pages, lowered per page to
	// stay within MaxPixelsPerPage. Default 300.
	PDFDPI int
	// PageTimeout bounds the recognition of one page. Default 120s.
	PageTimeout time.Duration
	// RenderTimeout bounds pdfinfo and the rendering of one PDF page.
	// Default 1m.
	RenderTimeout time.Duration
	// RenderMemory bounds the PDF renderer's address space in bytes, so a
	// PDF bomb kills only the renderer. Default 2 GiB.
	RenderMemory int64
}

// WithDefaults returns c with every unset field set to its default. cpus is
// the number of cores, used for the CPU lane default.
func (c Config) WithDefaults(cpus int) Config {
	c.ListenAddr = cmp.Or(c.ListenAddr, DefaultListenAddr)
	m := &c.Memory
	m.WarningThreshold = cmp.Or(m.WarningThreshold, DefaultWarningThreshold)
	m.CriticalThreshold = cmp.Or(m.CriticalThreshold, DefaultCriticalThreshold)
	m.EmergencyThreshold = cmp.Or(m.EmergencyThreshold, DefaultEmergencyThreshold)
	m.Hysteresis = cmp.Or(m.Hysteresis, DefaultHysteresis)
	m.PollInterval = cmp.Or(m.PollInterval, DefaultPollInterval)
	md := &c.Models
	if md.KeepAlive == nil {
		ka := DefaultKeepAlive
		md.KeepAlive = &ka
	}
	md.LoadTimeout = cmp.Or(md.LoadTimeout, DefaultLoadTimeout)
	md.StopTimeout = cmp.Or(md.StopTimeout, DefaultStopTimeout)
	md.LoadCooldown = cmp.Or(md.LoadCooldown, DefaultLoadCooldown)
	md.MaxLoadCooldown = cmp.Or(md.MaxLoadCooldown, DefaultMaxLoadCooldown)
	md.EvictWait = cmp.Or(md.EvictWait, DefaultEvictWait)
	c.Pool.CPULanes = cmp.Or(c.Pool.CPULanes, max(cpus, 1))
	c.Pool.QueueLength = cmp.Or(c.Pool.QueueLength, DefaultQueueLength)
	a := &c.Admission
	a.StructureConcurrency = cmp.Or(a.StructureConcurrency, DefaultStructureConcurrency)
	a.CriticalWait = cmp.Or(a.CriticalWait, DefaultCriticalWait)
	a.MaxQueuedTasks = cmp.Or(a.MaxQueuedTasks, DefaultMaxQueuedTasks)
	l := &c.Limits
	l.MaxInputBytes = cmp.Or(l.MaxInputBytes, DefaultMaxInputBytes)
	l.MaxPages = cmp.Or(l.MaxPages, DefaultMaxPages)
	l.MaxPixelsPerPage = cmp.Or(l.MaxPixelsPerPage, DefaultMaxPixelsPerPage)
	l.PDFDPI = cmp.Or(l.PDFDPI, DefaultPDFDPI)
	l.PageTimeout = cmp.Or(l.PageTimeout, DefaultPageTimeout)
	l.RenderTimeout = cmp.Or(l.RenderTimeout, DefaultRenderTimeout)
	l.RenderMemory = cmp.Or(l.RenderMemory, DefaultRenderMemory)
	t := &c.Tasks
	if t.Workers == 0 {
		t.Workers, t.workersDefaulted = 2*c.Pool.CPULanes, true
	}
	t.MaxAttempts = cmp.Or(t.MaxAttempts, DefaultMaxAttempts)
	t.SyncTimeout = cmp.Or(t.SyncTimeout, DefaultSyncTimeout)
	t.ShutdownTimeout = cmp.Or(t.ShutdownTimeout, DefaultShutdownTimeout)
	t.MaxQueuedPerSubject = cmp.Or(t.MaxQueuedPerSubject, DefaultMaxQueuedPerSubject)
	t.Retention = cmp.Or(t.Retention, DefaultRetention)
	t.RetentionInterval = cmp.Or(t.RetentionInterval, DefaultRetentionInterval)
	t.HeartbeatInterval = cmp.Or(t.HeartbeatInterval, DefaultHeartbeatInterval)
	t.NodeTimeout = cmp.Or(t.NodeTimeout, DefaultNodeTimeout)
	return c
}

// WithGPUs counts the lanes of gpus GPUs in the default of Tasks.Workers
// (a node without GPUs has only the CPU's lanes to keep busy: GPULanes
// counts for nothing there). A Workers set explicitly stays.
func (c Config) WithGPUs(gpus int) Config {
	if c.Tasks.workersDefaulted {
		c.Tasks.Workers = 2 * (c.Pool.CPULanes + max(c.Pool.GPULanes, 0)*gpus)
	}
	return c
}

// KeepAliveOrDefault returns the configured keep-alive, or the default when
// unset.
func (m Models) KeepAliveOrDefault() time.Duration {
	if m.KeepAlive == nil {
		return DefaultKeepAlive
	}
	return *m.KeepAlive
}

// FieldError is a Validate failure naming the offending field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "config: " + e.Field + ": " + e.Reason }

// Validate reports the first nonsensical setting as a *FieldError. Call it on
// the result of WithDefaults.
func (c Config) Validate() error {
	m := c.Memory
	for _, th := range []struct {
		name string
		v    float64
	}{
		{"Memory.WarningThreshold", m.WarningThreshold},
		{"Memory.CriticalThreshold", m.CriticalThreshold},
		{"Memory.EmergencyThreshold", m.EmergencyThreshold},
	} {
		if !(th.v > 0 && th.v <= 1) {
			return &FieldError{th.name, fmt.Sprintf("%v is outside (0,1]", th.v)}
		}
	}
	if !(m.WarningThreshold < m.CriticalThreshold) {
		return &FieldError{"Memory.CriticalThreshold", fmt.Sprintf("%v must be above the warning threshold %v", m.CriticalThreshold, m.WarningThreshold)}
	}
	if !(m.CriticalThreshold < m.EmergencyThreshold) {
		return &FieldError{"Memory.EmergencyThreshold", fmt.Sprintf("%v must be above the critical threshold %v", m.EmergencyThreshold, m.CriticalThreshold)}
	}
	if !(m.Hysteresis >= 0 && m.Hysteresis < m.WarningThreshold) {
		return &FieldError{"Memory.Hysteresis", fmt.Sprintf("%v must be in [0, warning threshold)", m.Hysteresis)}
	}
	durations := []struct {
		name string
		v    time.Duration
	}{
		{"Memory.PollInterval", m.PollInterval},
		{"Models.LoadTimeout", c.Models.LoadTimeout},
		{"Models.StopTimeout", c.Models.StopTimeout},
		{"Models.LoadCooldown", c.Models.LoadCooldown},
		{"Models.MaxLoadCooldown", c.Models.MaxLoadCooldown},
		{"Models.EvictWait", c.Models.EvictWait},
		{"Admission.CriticalWait", c.Admission.CriticalWait},
		{"Limits.PageTimeout", c.Limits.PageTimeout},
		{"Limits.RenderTimeout", c.Limits.RenderTimeout},
		{"Tasks.SyncTimeout", c.Tasks.SyncTimeout},
		{"Tasks.ShutdownTimeout", c.Tasks.ShutdownTimeout},
		{"Tasks.Retention", c.Tasks.Retention},
		{"Tasks.RetentionInterval", c.Tasks.RetentionInterval},
		{"Tasks.HeartbeatInterval", c.Tasks.HeartbeatInterval},
		{"Tasks.NodeTimeout", c.Tasks.NodeTimeout},
	}
	for _, d := range durations {
		if d.v <= 0 {
			return &FieldError{d.name, fmt.Sprintf("%v must be positive", d.v)}
		}
	}
	// Three heartbeats may be late before a node is taken for dead: a
	// shorter timeout has healthy nodes declared gone and their tasks run
	// twice.
	if c.Tasks.NodeTimeout < 3*c.Tasks.HeartbeatInterval {
		return &FieldError{"Tasks.NodeTimeout", fmt.Sprintf("--node-timeout %v must be at least 3 × --heartbeat-interval %v (a shorter one takes healthy nodes for dead)",
			c.Tasks.NodeTimeout, c.Tasks.HeartbeatInterval)}
	}
	if err := service.CheckDatabase(c.Database); err != nil {
		return &FieldError{"Database", err.Error()}
	}
	ints := []struct {
		name string
		v    int64
	}{
		{"Pool.CPULanes", int64(c.Pool.CPULanes)},
		{"Pool.QueueLength", int64(c.Pool.QueueLength)},
		{"Admission.StructureConcurrency", int64(c.Admission.StructureConcurrency)},
		{"Admission.MaxQueuedTasks", int64(c.Admission.MaxQueuedTasks)},
		{"Limits.MaxInputBytes", c.Limits.MaxInputBytes},
		{"Limits.MaxPages", int64(c.Limits.MaxPages)},
		{"Limits.MaxPixelsPerPage", c.Limits.MaxPixelsPerPage},
		{"Limits.PDFDPI", int64(c.Limits.PDFDPI)},
		{"Limits.RenderMemory", c.Limits.RenderMemory},
		{"Tasks.Workers", int64(c.Tasks.Workers)},
		{"Tasks.MaxAttempts", int64(c.Tasks.MaxAttempts)},
		{"Tasks.MaxQueuedPerSubject", int64(c.Tasks.MaxQueuedPerSubject)},
	}
	for _, n := range ints {
		if n.v <= 0 {
			return &FieldError{n.name, fmt.Sprintf("%d must be positive", n.v)}
		}
	}
	if c.Pool.GPULanes < 0 {
		return &FieldError{"Pool.GPULanes", "must not be negative (0 turns GPUs off)"}
	}
	if c.Admission.OCRConcurrency < 0 {
		return &FieldError{"Admission.OCRConcurrency", "must not be negative"}
	}
	if c.Models.MaxLoadCooldown < c.Models.LoadCooldown {
		return &FieldError{"Models.MaxLoadCooldown", "must not be below Models.LoadCooldown"}
	}
	if c.ListenAddr == "" {
		return &FieldError{"ListenAddr", "must not be empty"}
	}
	return nil
}

// IsFieldError reports whether err names a bad field, and which.
func IsFieldError(err error) (string, bool) {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field, true
	}
	return "", false
}
