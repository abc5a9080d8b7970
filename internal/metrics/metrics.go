// Package metrics exposes a node's state and history in the Prometheus text
// format. State (memory, instances, lanes, semaphores, reservations, queued
// tasks) is read from the runtime at each scrape; history (loads, unloads,
// admission decisions, lane waits, finished tasks) is counted by hooks the
// runtime calls. Each Metrics has its own registry: no globals.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
)

// Sources are read at each scrape. Any may be nil.
type Sources struct {
	Monitor    *memory.Monitor
	Models     *model.Manager
	Pool       *pool.Pool
	Semaphores *admission.Semaphores
	Admission  *admission.Controller
	// Queued counts the tasks queued on this node.
	Queued func() (int, error)
}

// Metrics is one node's metrics.
type Metrics struct {
	reg          *prometheus.Registry
	state        *state
	loads        *prometheus.CounterVec
	loadSeconds  *prometheus.HistogramVec
	unloads      *prometheus.CounterVec
	laneWait     *prometheus.HistogramVec
	decisions    *prometheus.CounterVec
	tasks        *prometheus.CounterVec
	taskSeconds  *prometheus.HistogramVec
	memoryRatio  *prometheus.HistogramVec
	httpRejected *prometheus.CounterVec
}

// New registers every metric; Watch names the state to read at scrapes.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lector_model_loads_total",
			Help: "Model loads by model, device and result (ok, error)."}, []string{"model", "device", "result"}),
		loadSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lector_model_load_seconds",
			Help: "Time to load a model into a runner.", Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}},
			[]string{"model", "device"}),
		unloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lector_model_unloads_total",
			Help: "Model unloads by reason (idle, pressure, explicit, crash, shutdown)."}, []string{"model", "device", "reason"}),
		laneWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lector_pool_lane_wait_seconds",
			Help: "Time a page waited for a lane.", Buckets: []float64{.001, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300}}, []string{"device"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lector_admission_decisions_total",
			Help: "Admission decisions (admitted, deferred, fallback, rejected) with their reason."}, []string{"device", "decision", "reason"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lector_tasks_total",
			Help: "Tasks that reached a final status."}, []string{"pipeline", "status"}),
		taskSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lector_task_duration_seconds",
			Help: "Task run time, admission to result.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"pipeline", "status"}),
		memoryRatio: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lector_task_memory_actual_to_estimated_ratio",
			Help: "Actual peak memory of a task over its admission estimate.", Buckets: []float64{.25, .5, .75, .9, 1, 1.1, 1.25, 1.5, 2, 4}}, []string{"device"}),
		httpRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lector_http_rejected_total",
			Help: "Requests refused with 503 (overload), by error code."}, []string{"code"}),
	}
	m.state = &state{}
	m.reg.MustRegister(m.loads, m.loadSeconds, m.unloads, m.laneWait, m.decisions, m.tasks, m.taskSeconds, m.memoryRatio, m.httpRejected,
		m.state, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch sets the state read at scrapes. Call it before serving. A nil
// Metrics ignores it.
func (m *Metrics) Watch(src Sources) {
	if m == nil {
		return
	}
	m.state.mu.Lock()
	defer m.state.mu.Unlock()
	m.state.src = src
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// OnLoad counts a load (model.Options.OnLoad).
func (m *Metrics) OnLoad(modelName, device string, took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.loads.WithLabelValues(modelName, device, result).Inc()
	if err == nil {
		m.loadSeconds.WithLabelValues(modelName, device).Observe(took.Seconds())
	}
}

// OnUnload counts an unload (model.Options.OnUnload).
func (m *Metrics) OnUnload(r model.UnloadRecord) {
	m.unloads.WithLabelValues(r.Model, r.Device, string(r.Reason)).Inc()
}

// OnDecision counts an admission decision (admission.Options.OnDecision).
func (m *Metrics) OnDecision(d admission.Decision, device, reason string) {
	m.decisions.WithLabelValues(device, string(d), reason).Inc()
}

// OnLaneWait observes a page's lane wait (task.Config.OnLaneWait).
func (m *Metrics) OnLaneWait(device string, wait time.Duration) {
	m.laneWait.WithLabelValues(device).Observe(wait.Seconds())
}

// OnTaskEnd counts a finished task (service.Config.OnTaskEnd).
func (m *Metrics) OnTaskEnd(t *api.Task) {
	m.tasks.WithLabelValues(string(t.Pipeline), string(t.Status)).Inc()
	if r := t.Resources; r != nil {
		m.taskSeconds.WithLabelValues(string(t.Pipeline), string(t.Status)).Observe(time.Duration(r.RunTime).Seconds())
		if r.EstimatedBytes > 0 && r.PeakBytes > 0 {
			m.memoryRatio.WithLabelValues(r.Device).Observe(float64(r.PeakBytes) / float64(r.EstimatedBytes))
		}
	}
}

// OnRejected counts a request refused for overload.
func (m *Metrics) OnRejected(code string) { m.httpRejected.WithLabelValues(code).Inc() }

// state reads the runtime's state at scrape time.
type state struct {
	mu  sync.Mutex
	src Sources
}

var (
	descMemUsed   = prometheus.NewDesc("lector_memory_used_bytes", "Memory used on a device (CPU: the cgroup's working set).", []string{"device"}, nil)
	descMemTotal  = prometheus.NewDesc("lector_memory_total_bytes", "Memory of a device (CPU: the cgroup limit, else the host's).", []string{"device"}, nil)
	descMemLevel  = prometheus.NewDesc("lector_memory_level", "Memory level of a device: 0 ok, 1 warning, 2 critical, 3 emergency.", []string{"device"}, nil)
	descReserved  = prometheus.NewDesc("lector_admission_reserved_bytes", "Memory reserved by admitted tasks.", []string{"device"}, nil)
	descInstances = prometheus.NewDesc("lector_model_instances", "Model instances by state.", []string{"model", "device", "state"}, nil)
	descRefs      = prometheus.NewDesc("lector_model_references", "References (leases) held on model instances.", []string{"model", "device"}, nil)
	descInstBytes = prometheus.NewDesc("lector_model_memory_bytes", "Measured memory of model instances (runner RSS).", []string{"model", "device"}, nil)
	descLanesBusy = prometheus.NewDesc("lector_pool_lanes_busy", "Lanes working on a page.", []string{"device"}, nil)
	descLanesFree = prometheus.NewDesc("lector_pool_lanes_free", "Lanes free.", []string{"device"}, nil)
	descPoolQueue = prometheus.NewDesc("lector_pool_queue_length", "Pages waiting for a lane.", []string{"device"}, nil)
	descSemInUse  = prometheus.NewDesc("lector_semaphore_in_use", "Units of a pipeline's semaphore in use.", []string{"pipeline"}, nil)
	descSemWait   = prometheus.NewDesc("lector_semaphore_waiting", "Tasks waiting for a pipeline's semaphore.", []string{"pipeline"}, nil)
	descQueued    = prometheus.NewDesc("lector_tasks_queued", "Tasks queued on this node.", nil, nil)
)

func (s *state) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMemUsed, descMemTotal, descMemLevel, descReserved, descInstances, descRefs, descInstBytes,
		descLanesBusy, descLanesFree, descPoolQueue, descSemInUse, descSemWait, descQueued} {
		ch <- d
	}
}

func (s *state) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if src.Monitor != nil {
		for _, st := range src.Monitor.Snapshot() {
			gauge(descMemUsed, float64(st.Usage.Used), st.Device)
			gauge(descMemTotal, float64(st.Usage.Total), st.Device)
			gauge(descMemLevel, float64(st.Level), st.Device)
			if src.Admission != nil {
				gauge(descReserved, float64(src.Admission.Reserved(st.Device)), st.Device)
			}
		}
	}
	if src.Models != nil {
		type key struct{ model, device, state string }
		count := map[key]int{}
		refs := map[[2]string]int{}
		mem := map[[2]string]uint64{}
		for _, in := range src.Models.List() {
			count[key{in.Model, in.Device, string(in.State)}]++
			k := [2]string{in.Model, in.Device}
			refs[k] += in.Refs
			mem[k] += in.CPUBytes + in.GPUBytes
		}
		for k, n := range count {
			gauge(descInstances, float64(n), k.model, k.device, k.state)
		}
		for k, n := range refs {
			gauge(descRefs, float64(n), k[0], k[1])
			gauge(descInstBytes, float64(mem[k]), k[0], k[1])
		}
	}
	if src.Pool != nil {
		for _, st := range src.Pool.Snapshot() {
			gauge(descLanesBusy, float64(st.Busy), st.Device)
			gauge(descLanesFree, float64(st.Free), st.Device)
			gauge(descPoolQueue, float64(st.Queued), st.Device)
		}
	}
	if src.Semaphores != nil {
		for _, st := range src.Semaphores.Snapshot() {
			gauge(descSemInUse, float64(st.InUse), st.Pipeline)
			gauge(descSemWait, float64(st.Waiting), st.Pipeline)
		}
	}
	if src.Queued != nil {
		if n, err := src.Queued(); err == nil {
			gauge(descQueued, float64(n))
		}
	}
}

// The Func methods return the hooks to wire into the runtime, nil for a nil
// Metrics (a process without metrics, such as lector ocr).

// OnLoadFunc is OnLoad, or nil.
func (m *Metrics) OnLoadFunc() func(string, string, time.Duration, error) {
	if m == nil {
		return nil
	}
	return m.OnLoad
}

// OnUnloadFunc is OnUnload, or nil.
func (m *Metrics) OnUnloadFunc() func(model.UnloadRecord) {
	if m == nil {
		return nil
	}
	return m.OnUnload
}

// OnDecisionFunc is OnDecision, or nil.
func (m *Metrics) OnDecisionFunc() func(admission.Decision, string, string) {
	if m == nil {
		return nil
	}
	return m.OnDecision
}

// OnLaneWaitFunc is OnLaneWait, or nil.
func (m *Metrics) OnLaneWaitFunc() func(string, time.Duration) {
	if m == nil {
		return nil
	}
	return m.OnLaneWait
}

// OnTaskEndFunc is OnTaskEnd, or nil.
func (m *Metrics) OnTaskEndFunc() func(*api.Task) {
	if m == nil {
		return nil
	}
	return m.OnTaskEnd
}
