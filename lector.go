// Package lector says what a task is, once: its options as a client sends
// them, its pipeline, priority and status, the resources it cost and how
// it is shown — the types the API, the service, the store, the runtime and
// the CLI share (the domain package at the root of the module, as in Ben
// Johnson's WTF Dial). It imports nothing of Lector's but its error codes.
package lector

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lector-ocr/lector/internal/errcode"
)

// Pipeline is what a task does with its pages.
type Pipeline string

// Pipelines.
const (
	// PipelineOCR recognises text: lines and words with boxes.
	PipelineOCR Pipeline = "ocr"
	// PipelineStructure also finds the document's layout: typed blocks,
	// tables, figures, reading order.
	PipelineStructure Pipeline = "structure"
)

// ParsePipeline reads a pipeline name; "" is PipelineOCR. Anything else is
// invalid_argument.
func ParsePipeline(s string) (Pipeline, error) {
	switch p := Pipeline(strings.TrimSpace(s)); p {
	case "":
		return PipelineOCR, nil
	case PipelineOCR, PipelineStructure:
		return p, nil
	}
	return "", errcode.New(errcode.InvalidArgument, "pipeline %q is not ocr or structure", s)
}

// PDFText says what to do with PDF pages that already have text — the
// modes of OCRmyPDF's --skip-text, --redo-ocr and --force-ocr.
type PDFText string

// PDF text modes.
const (
	// PDFTextSkip (the default) reads a page that has text from its text
	// (the structure pipeline analyses its layout over those words) and
	// OCRs the others.
	PDFTextSkip PDFText = "skip"
	// PDFTextRedo OCRs pages whose only text is an earlier OCR layer (in a
	// glyph-less font); the searchable PDF drops that layer.
	PDFTextRedo PDFText = "redo"
	// PDFTextForce renders and OCRs every page.
	PDFTextForce PDFText = "force"
)

// DefaultPDFText is the pipeline's mode when a request names none: skip
// for both. The structure pipeline analyses the layout (tables,
// paragraphs, figures) of a page read from its text too: its model gets
// the page's own words with the rendered page (AnalysesLayout).
func (p Pipeline) DefaultPDFText() PDFText { return PDFTextSkip }

// AnalysesLayout reports whether the pipeline's model analyses the layout
// of every page, so that a page read from its own text still goes to the
// model, with its words, rather than being done once read.
func (p Pipeline) AnalysesLayout() bool { return p == PipelineStructure }

// ParsePDFText reads a mode; "" is "" (the pipeline's default, see
// DefaultPDFText). Anything else is invalid_argument.
func ParsePDFText(s string) (PDFText, error) {
	switch m := PDFText(strings.ToLower(strings.TrimSpace(s))); m {
	case "", PDFTextSkip, PDFTextRedo, PDFTextForce:
		return m, nil
	}
	return "", errcode.New(errcode.InvalidArgument, "pdf_text %q is not skip, redo or force", s)
}

// CheckModel refuses a model the pipeline cannot run: the structure
// pipeline's layout analysis is part of its models ("structure:<config>":
// structure:default, structure:ppocr, …), so an OCR model under it would
// quietly give plain text blocks; and a structure model analyses the layout
// whatever the pipeline, so the OCR pipeline, when the request names it
// (named), refuses one rather than quietly running it as structure.
// invalid_argument.
func (p Pipeline) CheckModel(model string, named bool) error {
	structure := strings.HasPrefix(model, "structure:")
	if p == PipelineStructure && !structure {
		return errcode.New(errcode.InvalidArgument, "pipeline structure runs structure models (structure:default, structure:ppocr, …), not %s", model)
	}
	if p == PipelineOCR && named && structure {
		return errcode.New(errcode.InvalidArgument, "pipeline ocr runs OCR models (tesseract:eng, ppocr:v4, …), not %s; use pipeline structure for it", model)
	}
	return nil
}

// Priority orders work under memory pressure.
type Priority string

// Priorities.
const (
	Interactive Priority = "interactive" // a person waits: admitted first, rejected rather than kept waiting when synchronous
	Normal      Priority = "normal"
	Batch       Priority = "batch" // waits while its device is at the warning level
)

// ParsePriority reads a priority; "" is Normal. Anything else is
// invalid_argument.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(strings.TrimSpace(s)); p {
	case "":
		return Normal, nil
	case Interactive, Normal, Batch:
		return p, nil
	}
	return "", errcode.New(errcode.InvalidArgument, "priority %q is not interactive, normal or batch", s)
}

// Status is where a task is in its life.
type Status string

// Statuses: queued → running → succeeded | failed | canceled (a running
// task may go back to queued when its node stops or a retryable failure
// gives it another attempt).
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Canceled  Status = "canceled"
)

// Final reports whether the task has ended.
func (s Status) Final() bool { return s == Succeeded || s == Failed || s == Canceled }

// DeviceAuto lets the runtime choose the device.
const DeviceAuto = "auto"

// Fields are a submission's options as a client sends them (form fields,
// query parameters or flags), before they are checked.
type Fields struct {
	Pipeline  string // ocr (default) or structure
	Model     string // a model name; wins over Lang
	Lang      string // Tesseract languages, e.g. eng or chi_sim+eng (default eng)
	Formats   string // comma-separated; default json,txt,md,hocr (+pdf for a PDF input)
	Format    string // the one format of a synchronous answer (default json)
	Priority  string // interactive, normal (default), batch
	Device    string // auto (default), cpu, cuda:N
	KeepAlive string // a duration ("5m", "0", "-1s") or seconds; default the server's
	Timeout   string // synchronous calls: a duration, capped by the server's limit
	PDFText   string // skip (default), redo or force: PDF pages with text of their own
}

// FieldNames are the form and query names of Fields, in order.
var FieldNames = []string{"pipeline", "model", "lang", "formats", "format", "priority", "device", "keep_alive", "timeout", "pdf_text"}

// Pairs returns the fields that are set as name/value pairs, in
// FieldNames' order.
func (f Fields) Pairs() [][2]string {
	var out [][2]string
	for i, v := range f.values() {
		if *v != "" {
			out = append(out, [2]string{FieldNames[i], *v})
		}
	}
	return out
}

// Set sets the field called name; an unknown name is invalid_argument.
func (f *Fields) Set(name, value string) error {
	for i, n := range FieldNames {
		if n == name {
			*f.values()[i] = value
			return nil
		}
	}
	return errcode.New(errcode.InvalidArgument, "unknown field %q (%s)", name, strings.Join(FieldNames, ", "))
}

func (f *Fields) values() []*string {
	return []*string{&f.Pipeline, &f.Model, &f.Lang, &f.Formats, &f.Format, &f.Priority, &f.Device, &f.KeepAlive, &f.Timeout, &f.PDFText}
}

// ParseDuration reads a Go duration ("5m", "-1s") or a number of seconds.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

// Millis is a duration shown in JSON as milliseconds (a number, to the
// microsecond).
type Millis time.Duration

// MarshalJSON writes the milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Duration(m).Microseconds())/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("lector: milliseconds: %w", err)
	}
	*m = Millis(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// Resources is what a task cost, the same in the API, the store and
// `lector ocr --format json`. Memory is given per kind of memory: host (the
// CPU's; everything, for a task on the CPU) and, for a task on a GPU, the
// GPU's own.
type Resources struct {
	Device   string `json:"device"`   // where it ran: cpu or cuda:N
	Fallback bool   `json:"fallback"` // it ran there because the device meant for it did not admit it
	// EstimatedBytes is the host memory reserved for the task; PeakBytes the
	// runner's peak RSS over the task above its start (plus its load when
	// the task caused it); EstimateError (estimated−actual)/actual.
	EstimatedBytes uint64  `json:"estimated_bytes"`
	PeakBytes      uint64  `json:"peak_bytes"`
	EstimateError  float64 `json:"estimate_error"`
	// GPUEstimatedBytes is the GPU memory reserved for a task on a GPU;
	// GPUPeakBytes the runner's GPU memory at its highest while the task
	// ran, as NVML reports it per process, over GPUSamples samples (NVML
	// keeps no per-process peak: a sampled peak, which may miss a spike
	// shorter than the sampling interval).
	GPUEstimatedBytes uint64 `json:"gpu_estimated_bytes,omitempty"`
	GPUPeakBytes      uint64 `json:"gpu_peak_bytes,omitempty"`
	GPUSamples        int    `json:"gpu_samples,omitempty"`
	QueueWait         Millis `json:"queue_ms"` // admission wait plus the longest wait for a lane
	LoadWait          Millis `json:"load_ms"`  // waiting for the model to load
	RunTime           Millis `json:"run_ms"`   // the whole run
	// PagesText and PagesOCR count a PDF's pages read from their own text
	// and pages recognised from their image (each page's "source" in the
	// result says which).
	PagesText int `json:"pages_text,omitempty"`
	PagesOCR  int `json:"pages_ocr,omitempty"`
	// PDFOutput says how the searchable PDF's pages were made: "original"
	// (the input's own pages), "repaired" (after qpdf rewrote a structure
	// the PDF library could not read, or one qpdf found damaged), "rebuilt" (pages redrawn by poppler's
	// pdftocairo: the last resort), "recoded" (an image input whose pixels
	// went in losslessly in another coding than the file's, which the PDF
	// library could not embed); empty when no PDF was made.
	PDFOutput string `json:"pdf_output,omitempty"`
	// PDFError, when set, says why the searchable PDF asked for was not
	// made (code pdf_not_written, the cause in its message): the task
	// succeeded with its other formats, every page recognised.
	PDFError *Error `json:"pdf_error,omitempty"`
}

// Pages is a task's progress.
type Pages struct {
	Done  int `json:"done"`
	Total int `json:"total"`
	// Text is how many of the pages done were read from their own text
	// (a PDF's born-digital pages) rather than recognised from their image.
	Text int `json:"text"`
}

// Error is a failure as users see it: a stable code and words.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Task is one task as users see it.
type Task struct {
	ID       string   `json:"id"`
	Status   Status   `json:"status"`
	Pipeline Pipeline `json:"pipeline"`
	Model    string   `json:"model"`
	Formats  []string `json:"formats"`
	Priority Priority `json:"priority"`
	// Device is the device asked for (auto, cpu, cuda:N); Resources.Device
	// is where it ran.
	Device     string     `json:"device"`
	Filename   string     `json:"filename,omitempty"`
	MediaType  string     `json:"media_type,omitempty"`
	InputBytes int64      `json:"input_bytes"`
	Pages      Pages      `json:"pages"`
	Error      *Error     `json:"error,omitempty"`
	Resources  *Resources `json:"resources,omitempty"`
	Attempts   int        `json:"attempts"`
	// Node is the node that accepted the task until it runs, then the one
	// running (or that ran) it: on a cluster, where it is.
	Node            string     `json:"node,omitempty"`
	Sync            bool       `json:"sync,omitempty"`
	CancelRequested bool       `json:"cancel_requested,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	// ResultsDeletedAt is set once retention removed the input and results.
	ResultsDeletedAt *time.Time `json:"results_deleted_at,omitempty"`
}

// Final reports whether the task has ended.
func (t *Task) Final() bool { return t.Status.Final() }

// InstanceState is where a loaded model instance is in its life.
type InstanceState string

// Instance states.
const (
	InstanceLoading  InstanceState = "loading"
	InstanceReady    InstanceState = "ready"
	InstanceDraining InstanceState = "draining" // unloading: no new leases, stops when the last is released
	InstanceStopping InstanceState = "stopping"
)

// Instance is one loaded model instance as users see it (`lector ps`,
// GET /v1/models).
type Instance struct {
	Model     string        `json:"model"`
	Device    string        `json:"device"`
	State     InstanceState `json:"state"`
	Refs      int           `json:"refs"`
	Pinned    bool          `json:"pinned"`
	Pid       int           `json:"pid,omitempty"`
	LoadedAt  time.Time     `json:"loaded_at,omitzero"`
	LastUsed  time.Time     `json:"last_used,omitzero"`
	ExpiresAt time.Time     `json:"expires_at,omitzero"` // when an idle instance's keep-alive ends
	Estimated uint64        `json:"estimated_bytes"`
	CPUBytes  uint64        `json:"measured_cpu_bytes"` // the runner process tree's RSS
	GPUBytes  uint64        `json:"measured_gpu_bytes"` // the runner's GPU memory (NVML)
}
