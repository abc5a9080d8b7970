// Package api is Lector's HTTP API as Go: the JSON shapes the server writes
// and a Client for them, used by the CLI and the tests.
package api

import "time"

// Task is one task as the API shows it.
type Task struct {
	ID       string   `json:"id"`
	Status   string   `json:"status"` // queued, running, succeeded, failed, canceled
	Pipeline string   `json:"pipeline"`
	Model    string   `json:"model"`
	Formats  []string `json:"formats"`
	Priority string   `json:"priority"`
	// Device is the device asked for (auto, cpu, cuda:N); Resources.Device
	// is where it ran.
	Device          string     `json:"device"`
	Filename        string     `json:"filename,omitempty"`
	MediaType       string     `json:"media_type,omitempty"`
	InputBytes      int64      `json:"input_bytes"`
	Pages           Pages      `json:"pages"`
	Error           *Error     `json:"error,omitempty"`
	Resources       *Resources `json:"resources,omitempty"`
	Attempts        int        `json:"attempts"`
	Sync            bool       `json:"sync,omitempty"`
	CancelRequested bool       `json:"cancel_requested,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	// ResultsDeletedAt is set once retention removed the input and results.
	ResultsDeletedAt *time.Time `json:"results_deleted_at,omitempty"`
}

// Final reports whether the task has ended.
func (t *Task) Final() bool {
	return t.Status == "succeeded" || t.Status == "failed" || t.Status == "canceled"
}

// Pages is a task's progress.
type Pages struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Resources is what a task cost: where it ran, memory estimated and
// measured, and where its time went.
type Resources struct {
	Device         string `json:"device"`
	Fallback       bool   `json:"fallback"`
	EstimatedBytes uint64 `json:"estimated_bytes"`
	PeakBytes      uint64 `json:"peak_bytes"`
	// GPU memory, for a task on a GPU: reserved, and the runner's highest
	// NVML figure sampled while the task ran, over GPUSamples samples.
	GPUEstimatedBytes uint64  `json:"gpu_estimated_bytes,omitempty"`
	GPUPeakBytes      uint64  `json:"gpu_peak_bytes,omitempty"`
	GPUSamples        int     `json:"gpu_samples,omitempty"`
	EstimateError     float64 `json:"estimate_error"`
	QueueMS           float64 `json:"queue_ms"`
	LoadMS            float64 `json:"load_ms"`
	RunMS             float64 `json:"run_ms"`
}

// Error is the body of every error answer: {"error": {...}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorBody wraps an Error.
type ErrorBody struct {
	Error Error `json:"error"`
}

// TaskList is a page of tasks, newest first; Next is the cursor of the
// following page ("" at the end).
type TaskList struct {
	Tasks []Task `json:"tasks"`
	Next  string `json:"next,omitempty"`
}

// Progress is the data of a "progress" event.
type Progress struct {
	ID    string `json:"id"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// ModelInfo is one model this node can run: where, what it makes, and its
// documented memory (on the CPU; on a GPU, the GPU's own memory in the
// device_ fields).
type ModelInfo struct {
	Name               string   `json:"name"`
	Engine             string   `json:"engine"`
	Description        string   `json:"description,omitempty"`
	Devices            []string `json:"devices"` // device kinds, best first: cpu, cuda
	Formats            []string `json:"formats"`
	DiskBytes          uint64   `json:"disk_bytes,omitempty"`
	LoadBytes          uint64   `json:"estimated_load_bytes"`
	PerMegapixel       uint64   `json:"estimated_bytes_per_megapixel"`
	DeviceLoadBytes    uint64   `json:"estimated_device_load_bytes,omitempty"`
	DevicePerMegapixel uint64   `json:"estimated_device_bytes_per_megapixel,omitempty"`
}

// Instance is one loaded model instance (GET /v1/models "loaded").
type Instance struct {
	Model     string    `json:"model"`
	Device    string    `json:"device"`
	State     string    `json:"state"`
	Refs      int       `json:"refs"`
	Pinned    bool      `json:"pinned"`
	Pid       int       `json:"pid,omitempty"`
	LoadedAt  time.Time `json:"loaded_at,omitzero"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Estimated uint64    `json:"estimated_bytes"`
	CPUBytes  uint64    `json:"measured_cpu_bytes"`
	GPUBytes  uint64    `json:"measured_gpu_bytes"`
}

// Models is the body of GET /v1/models.
type Models struct {
	Catalog []ModelInfo `json:"catalog"`
	Loaded  []Instance  `json:"loaded"`
}

// LoadRequest is the optional JSON body of POST /v1/models/{name}/load.
type LoadRequest struct {
	Device    string `json:"device,omitempty"`     // default: the first GPU, else cpu
	KeepAlive string `json:"keep_alive,omitempty"` // a duration; default the server's
}
