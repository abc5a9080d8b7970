// Package api is Lector's HTTP API as Go: the JSON shapes the server writes
// and a Client for them, used by the CLI and the tests.
package api

import (
	"github.com/lector-ocr/lector"
)

// The task's shapes are the domain's (package lector), named here too so
// that API code reads as such.
type (
	Task      = lector.Task
	Pages     = lector.Pages
	Resources = lector.Resources
	Error     = lector.Error
	// Options are a submission's form fields (see the server's POST
	// /v1/tasks); empty ones are left out.
	Options = lector.Fields
)

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
	Text  int    `json:"text"` // pages read from their own text (lector.Pages.Text)
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
	PerPage            uint64   `json:"estimated_bytes_per_page"`
	PerMegapixel       uint64   `json:"estimated_bytes_per_megapixel"`
	DeviceLoadBytes    uint64   `json:"estimated_device_load_bytes,omitempty"`
	DevicePerPage      uint64   `json:"estimated_device_bytes_per_page,omitempty"`
	DevicePerMegapixel uint64   `json:"estimated_device_bytes_per_megapixel,omitempty"`
	// Classes are the documented page of the model's page classes other
	// than its own (the structure pipeline's large pages in colour,
	// "colour", and its small pages, read enlarged: "enlarged",
	// "enlarged-small-print", whose megapixels are counted × the
	// enlargement), on the same device as the fields above.
	Classes []ClassInfo `json:"classes,omitempty"`
	// Learned are the figures a server fitted to its finished tasks, per
	// device the model ran on (absent before its first task there).
	Learned []Learned `json:"learned,omitempty"`
}

// ClassInfo is the documented page of one page class of a model, in bytes.
type ClassInfo struct {
	Class        string `json:"class"`
	PerPage      uint64 `json:"estimated_bytes_per_page"`
	PerMegapixel uint64 `json:"estimated_bytes_per_megapixel"`
}

// Learned is what a server learned of a model's memory on one device from
// its tasks: the fitted coefficients that admission uses (bytes: the
// load, and a page's working set as a fixed part plus a part per
// megapixel) and the observations behind them.
type Learned struct {
	Device string `json:"device"`
	// Class is the engine's page class the figures are for ("" or absent:
	// the model's pages, or those of no other class; "colour": the
	// structure pipeline's large pages of 24 bits a pixel or more;
	// "enlarged" and "enlarged-small-print": its small pages, read
	// enlarged, whose megapixels are counted × the enlargement).
	Class        string `json:"class,omitempty"`
	Tasks        int    `json:"tasks"`        // tasks observed since the first
	Observations int    `json:"observations"` // pages in the fit's window (host memory)
	LoadBytes    uint64 `json:"load_bytes"`   // host memory
	PerPage      uint64 `json:"bytes_per_page"`
	PerMegapixel uint64 `json:"bytes_per_megapixel"`
	// FittedMegapixels is the largest page (work megapixels) the learned
	// bytes_per_megapixel was fitted over (absent: the documented one);
	// a larger page grows past it at the documented figure where steeper.
	FittedMegapixels   float64 `json:"fitted_megapixels,omitempty"`
	DeviceObservations int     `json:"device_observations,omitempty"` // GPU memory
	DeviceLoadBytes    uint64  `json:"device_load_bytes,omitempty"`
	DevicePerPage      uint64  `json:"device_bytes_per_page,omitempty"`
	DevicePerMegapixel uint64  `json:"device_bytes_per_megapixel,omitempty"`
}

// Instance is one loaded model instance (GET /v1/models "loaded").
type Instance = lector.Instance

// Models is the body of GET /v1/models.
type Models struct {
	Catalog []ModelInfo `json:"catalog"`
	Loaded  []Instance  `json:"loaded"`
}

// LoadRequest is the optional JSON body of POST /v1/models/{name}/load.
type LoadRequest struct {
	Device    string `json:"device,omitempty"`     // default: the first GPU, else cpu
	KeepAlive string `json:"keep_alive,omitempty"` // seconds ("300", "-1") or a duration ("5m"); negative pins; default the server's
}
