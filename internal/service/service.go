// Package service is a node's task service: it accepts tasks (a task row,
// its input and its River job written in one transaction), runs them on the
// runtime from River workers, records progress, results and resources,
// cancels them, and runs synchronous requests. The HTTP layer (server) and
// the tests call it; it knows nothing of HTTP.
//
// Retries: a task that failed with a retryable code (engine_crashed,
// unavailable, model_load_failed) goes back to the queue until it has run
// MaxAttempts times; every other failure is final at once. A node that
// stops mid-task returns the task to the queue.
package service

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/obs"
	"github.com/lector-ocr/lector/internal/render"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/spool"
	"github.com/lector-ocr/lector/internal/store"
	"github.com/lector-ocr/lector/internal/task"
)

// Config wires a Service.
type Config struct {
	Store store.Store
	// NodeID names this process in the database's nodes table and as its
	// River client (default: the host name and a random suffix).
	NodeID string
	// NodeInfo, if set, is this node's system view (JSON), recorded with
	// each heartbeat for the cluster view.
	NodeInfo func() []byte
	// HeartbeatInterval is how often the node records that it is alive
	// (default 2s); a node silent for NodeTimeout (default 15s) is gone,
	// and on a shared database its running tasks go back to the queue.
	HeartbeatInterval time.Duration
	NodeTimeout       time.Duration
	Runtime           *task.Runtime
	// Validate checks a model name (unknown_model for one not installed).
	Validate func(model string) error
	// Formats lists the formats a model's results can be made in
	// (engine.Registry.Formats); nil means every format.
	Formats func(model string) ([]string, error)
	Devices []string // device IDs tasks may name
	Limits  document.Limits
	// WorkDir holds uploads being received and inputs being read.
	WorkDir string
	// Workers is how many tasks run at once on this node (DefaultWorkers).
	Workers int
	// MaxAttempts bounds how often a task runs (default 3).
	MaxAttempts int
	// SyncTimeout bounds a synchronous request (default 60s).
	SyncTimeout time.Duration
	// MaxQueued bounds the queued tasks (of the whole cluster on a shared
	// database: this node refuses a submission when that many are queued);
	// more is queue_full (default 1000). MaxQueuedPerSubject bounds one
	// subject's (default 100).
	MaxQueued           int
	MaxQueuedPerSubject int
	// Retention is how long inputs and results are kept after a task ends
	// (default 7 days); RetentionInterval is how often the periodic job
	// deletes what has expired (default 1h).
	Retention         time.Duration
	RetentionInterval time.Duration
	// OnTaskEnd, if set, observes every task that reaches a final state
	// (metrics).
	OnTaskEnd func(t *api.Task)
	// OnWorking, if set, observes a task's first page given a lane (the task
	// passed admission and holds its memory); OnRetention each retention
	// pass that deleted something, with how many tasks' results it deleted.
	OnWorking   func(id string)
	OnRetention func(tasks int)
	// OnHeartbeat, if set, observes each turn of the heartbeat loop after
	// its heartbeat (and rescue) with the turn's error.
	OnHeartbeat func(err error)
	Clock       clock.Clock
	Log         *slog.Logger
}

// Service is the task service of one node.
type Service struct {
	cfg   Config
	queue store.Queue
	node  store.Node

	mu             sync.Mutex
	running        map[string]context.CancelFunc // tasks running here
	storageRetries map[string]int                // tasks put back for a storage fault
	busyRequeues   map[string]int                // tasks put back after waiting for memory others held
	drain          drain
	started        atomic.Bool  // the queue (River) runs
	lastFree       atomic.Int64 // when returnMemory last ran (Unix ns)

	stopBeat context.CancelFunc // ends the heartbeat loop
	beatDone chan struct{}
}

// jobArgs is the River job of a task.
type jobArgs struct {
	TaskID string `json:"task_id"`
	// PDFText is the task's pdf_text mode (carried by its job, not its row).
	PDFText lector.PDFText `json:"pdf_text,omitempty"`
}

func (jobArgs) Kind() string { return "lector_task" }

// Defaults of Config.
const (
	// DefaultWorkers is a Config's without one; `lector serve` gives twice
	// its lanes (config.Tasks.Workers), so lanes stay busy while other
	// tasks render or store.
	DefaultWorkers             = 2
	DefaultMaxAttempts         = 3
	DefaultSyncTimeout         = time.Minute
	DefaultMaxQueued           = 1000
	DefaultMaxQueuedPerSubject = 100
	DefaultRetention           = 7 * 24 * time.Hour
	DefaultRetentionInterval   = time.Hour
	DefaultHeartbeatInterval   = 2 * time.Second
	DefaultNodeTimeout         = 15 * time.Second
)

// RiverRescueAfter is River's RescueStuckJobsAfter for Lector's client:
// 100 years, out of the way (River's default, 1 h, would run a task of
// more than an hour twice, since jobs have no timeout).
const RiverRescueAfter = 100 * 365 * 24 * time.Hour

// CheckDatabase refuses a database setting the store cannot take
// (store.CheckDatabase: a key=value connection string, a URL of another
// scheme); its message holds no password.
func CheckDatabase(database string) error { return store.CheckDatabase(database) }

// New returns a service; Start starts its workers.
func New(cfg Config) (*Service, error) {
	cfg.Clock, cfg.Log = obs.Clock(cfg.Clock), obs.Log(cfg.Log)
	cfg.Workers = cmp.Or(max(cfg.Workers, 0), DefaultWorkers)
	cfg.MaxAttempts = cmp.Or(max(cfg.MaxAttempts, 0), DefaultMaxAttempts)
	cfg.SyncTimeout = cmp.Or(max(cfg.SyncTimeout, 0), DefaultSyncTimeout)
	cfg.MaxQueued = cmp.Or(max(cfg.MaxQueued, 0), DefaultMaxQueued)
	cfg.MaxQueuedPerSubject = cmp.Or(max(cfg.MaxQueuedPerSubject, 0), DefaultMaxQueuedPerSubject)
	cfg.Retention = cmp.Or(max(cfg.Retention, 0), DefaultRetention)
	cfg.RetentionInterval = cmp.Or(max(cfg.RetentionInterval, 0), DefaultRetentionInterval)
	cfg.HeartbeatInterval = cmp.Or(max(cfg.HeartbeatInterval, 0), DefaultHeartbeatInterval)
	cfg.NodeTimeout = cmp.Or(max(cfg.NodeTimeout, 0), DefaultNodeTimeout)
	if cfg.NodeID == "" {
		cfg.NodeID = NewNodeID()
	}
	host, _ := os.Hostname()
	s := &Service{cfg: cfg, running: map[string]context.CancelFunc{}, storageRetries: map[string]int{}, busyRequeues: map[string]int{},
		node: store.Node{ID: cfg.NodeID, Host: host, StartedAt: cfg.Clock.Now()}}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &retentionWorker{s: s}); err != nil {
		return nil, err
	}
	q, err := cfg.Store.NewQueue(&river.Config{
		Queues:     map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:    workers,
		JobTimeout: -1, // pages have their own time limits
		// River's rescuer would run again any job running longer than this
		// (default 1 h), a long task twice: Lector's own rescue owns it —
		// a dead node's tasks on PostgreSQL (heartbeats), an earlier
		// process's at start on SQLite (Recover).
		RescueStuckJobsAfter: RiverRescueAfter,
		MaxAttempts:          cfg.MaxAttempts,
		FetchCooldown:        5 * time.Millisecond,
		FetchPollInterval:    time.Second,
		Logger:               slog.New(atLeast{cfg.Log.Handler(), slog.LevelWarn}).With("component", "river"),
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.RetentionInterval),
			func() (river.JobArgs, *river.InsertOpts) { return retentionArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})},
	}, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	s.queue = q
	return s, nil
}

// NewNodeID returns a node ID: the host name (cut to 40 bytes) and 8
// random hex digits.
func NewNodeID() string {
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return cmp.Or(host, "node") + "-" + hex.EncodeToString(b[:])
}

// NodeID is this node's ID.
func (s *Service) NodeID() string { return s.cfg.NodeID }

// SetAddr records the HTTP address this node serves, for the cluster view.
func (s *Service) SetAddr(addr string) {
	s.mu.Lock()
	s.node.Addr = addr
	s.mu.Unlock()
}

func (s *Service) uploadDir() string { return filepath.Join(s.cfg.WorkDir, "uploads") }

// Start removes uploads left by an earlier process, returns the tasks it
// left running to the queue (on SQLite only: this node holds the data
// directory's lock, so no other process works on its database; on a shared
// database a dead node's tasks come back through the heartbeat loop's
// rescue), registers the node, and starts the workers and the heartbeat.
func (s *Service) Start(ctx context.Context) error {
	if s.readOnly() {
		s.cfg.Log.Error("the database is read-only: serving existing tasks, refusing new ones; no task runs")
		return nil
	}
	if err := os.RemoveAll(s.uploadDir()); err != nil {
		return err
	}
	n, err := s.cfg.Store.Recover(ctx)
	if err != nil {
		return fmt.Errorf("service: recovering tasks: %w", err)
	}
	if n > 0 {
		s.cfg.Log.Warn("tasks left running by an earlier process returned to the queue", "tasks", n)
	}
	if err := os.MkdirAll(s.uploadDir(), 0o700); err != nil {
		return err
	}
	if _, err := s.heartbeat(ctx); err != nil { // gone before: a node left under this ID
		return fmt.Errorf("service: registering the node: %w", err)
	}
	if err := s.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	s.started.Store(true)
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopBeat, s.beatDone = stop, make(chan struct{})
	go s.heartbeats(bctx)
	return nil
}

// readOnly reports whether the store was opened read-only (a SQLite
// database whose disk is full or read-only at start).
func (s *Service) readOnly() bool {
	ro, ok := s.cfg.Store.(interface{ ReadOnly() bool })
	return ok && ro.ReadOnly()
}

// writable refuses work that writes when the database was opened
// read-only.
func (s *Service) writable() error {
	if s.readOnly() {
		e := errcode.New(errcode.Unavailable, "this node's database cannot be written (its disk is full or read-only): it serves existing tasks only")
		e.RetryAfter = errcode.StorageRetryAfter
		return e
	}
	return nil
}

// Ready reports why the service cannot take work: its database is
// read-only, or its workers (River) are not running. nil when ready.
func (s *Service) Ready() error {
	if err := s.writable(); err != nil {
		return err
	}
	if !s.started.Load() {
		return errcode.New(errcode.Unavailable, "the task workers are not running")
	}
	return nil
}

// cancelTimeout bounds the wait for cancelled tasks to return what they
// hold once Stop's own time is up.
const cancelTimeout = 30 * time.Second

// Stop stops taking jobs and waits for running tasks until ctx ends; then
// it cancels them, and they return to the queue for the next start.
// The node then leaves the cluster's view, and gives a fresh job to any
// queued task whose job River left running here or finalized.
func (s *Service) Stop(ctx context.Context) error {
	if !s.started.Swap(false) {
		return nil
	}
	err := s.queue.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
		defer cancel()
		err = s.queue.StopAndCancel(c)
	}
	if s.stopBeat != nil {
		s.stopBeat()
		<-s.beatDone
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if lerr := s.cfg.Store.Leave(c, s.cfg.NodeID); lerr != nil {
			s.cfg.Log.Warn("leaving the cluster", "err", lerr)
		} else if ids, serr := s.cfg.Store.RequeueStranded(c, s.cfg.Clock.Now()); serr != nil {
			s.cfg.Log.Warn("requeueing stranded tasks", "err", serr)
		} else if len(ids) > 0 {
			// Returned to the queue as River stopped, their jobs left
			// running here: fresh jobs, or nobody would run them.
			s.cfg.Log.Warn("queued tasks without a live queue job were given a new one", "tasks", ids)
		}
	}
	return err
}

// Upload is a received input.
type Upload struct {
	File     *spool.File
	Filename string
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// check maps the upload and opens it as a document: type, size and pixel
// limits, page count. The caller closes the document.
func (s *Service) check(ctx context.Context, up Upload) (document.Document, string, error) {
	data, err := up.File.Map()
	if err != nil {
		return nil, "", err
	}
	kind := document.Sniff(data)
	doc, err := document.Open(ctx, data, s.cfg.Limits, s.uploadDir())
	return doc, kind, err
}

// Submit checks an upload and its options and queues a task: the row, the
// input and the River job in one transaction. The upload stays the
// caller's to close.
func (s *Service) Submit(ctx context.Context, subject string, up Upload, f Fields) (*api.Task, error) {
	if err := s.writable(); err != nil {
		return nil, err
	}
	doc, kind, err := s.check(ctx, up)
	if err != nil {
		return nil, s.blameStorage(err)
	}
	pages := doc.NumPages()
	doc.Close()
	o, err := s.options(f, kind)
	if err != nil {
		return nil, err
	}
	t := &store.Task{
		ID: newID(), Subject: subject, Status: lector.Queued, Pipeline: o.Pipeline, Model: o.Model, Formats: o.Formats,
		Priority: o.Priority, DeviceRequest: o.Device, KeepAlive: o.KeepAlive, Filename: filepath.Base(up.Filename),
		MediaType: kind, InputBytes: up.File.Size(), PagesTotal: pages, CreatedAt: s.cfg.Clock.Now(),
	}
	t.Node = s.cfg.NodeID
	err = s.cfg.Store.Enqueue(ctx, t, up.File.Reader(), store.Bounds{Queued: s.cfg.MaxQueued, PerSubject: s.cfg.MaxQueuedPerSubject},
		jobArgs{TaskID: t.ID, PDFText: o.PDFText}, &river.InsertOpts{Priority: riverPriority(o.Priority)})
	var qf *store.QueueFullError
	if errors.As(err, &qf) {
		if qf.Subject {
			return nil, s.queueFull(qf.Count-qf.Limit+1, "you have %s queued, your limit", nTasks(qf.Count))
		}
		if qf.Count == 1 {
			return nil, s.queueFull(qf.Count-qf.Limit+1, "1 task is queued, the limit")
		}
		return nil, s.queueFull(qf.Count-qf.Limit+1, "%d tasks are queued, the limit", qf.Count)
	}
	if errcode.Of(err) == errcode.Unavailable {
		return nil, err
	}
	if errcode.Of(err) == errcode.QueueFull {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("service: queueing task: %w", err)
	}
	s.cfg.Log.Info("task queued", "task", t.ID, "device", t.DeviceRequest, "model", t.Model, "pages", pages, "bytes", t.InputBytes, "subject", subject)
	return toAPI(t), nil
}

func riverPriority(p admission.Priority) int {
	switch p {
	case admission.Interactive:
		return 1
	case admission.Batch:
		return 3
	}
	return 2
}

// Get returns subject's task id.
func (s *Service) Get(ctx context.Context, subject, id string) (*api.Task, error) {
	t, err := s.cfg.Store.Get(ctx, id, subject)
	if err != nil {
		return nil, err
	}
	return toAPI(t), nil
}

// List returns a page of subject's tasks, newest first. cursor is the Next
// of the previous page ("" for the first).
func (s *Service) List(ctx context.Context, subject, cursor string, limit int) (*api.TaskList, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var after *store.Cursor
	if cursor != "" {
		c, err := decodeCursor(cursor)
		if err != nil {
			return nil, err
		}
		after = c
	}
	tasks, next, err := s.cfg.Store.List(ctx, subject, after, limit)
	if err != nil {
		return nil, err
	}
	out := &api.TaskList{Tasks: make([]api.Task, 0, len(tasks))}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, *toAPI(t))
	}
	if next != nil {
		out.Next = encodeCursor(next)
	}
	return out, nil
}

func encodeCursor(c *store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d/%s", c.CreatedAt.UnixNano(), c.ID))
}

func decodeCursor(s string) (*store.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var n int64
	var id string
	if err == nil {
		var rest string
		var ok bool
		if _, rest, ok = strings.Cut(string(b), "/"); ok {
			_, err = fmt.Sscanf(string(b), "%d/", &n)
			id = rest
		} else {
			err = errors.New("no separator")
		}
	}
	if err != nil {
		return nil, invalid("cursor %q is not one this server gave", s)
	}
	return &store.Cursor{CreatedAt: time.Unix(0, n), ID: id}, nil
}

// Watch returns a channel signalled after each change of task id (status or
// progress) and a function that ends the watch. Read the task after
// subscribing, then after each signal.
// Changes made on any node are heard (the store carries them).
func (s *Service) Watch(id string) (<-chan struct{}, func()) { return s.cfg.Store.Watch(id) }

// WatchAll returns a channel signalled after any task changes (submitted,
// status, progress, deleted) on any node, a function that returns the ids
// changed since its last call and whether changes may have been missed
// (read everything again), and a function that ends the watch. The ids are
// every subject's: read each task as the caller's subject (Get) before
// telling anyone about it.
func (s *Service) WatchAll() (<-chan struct{}, func() ([]string, bool), func()) {
	return s.cfg.Store.WatchAll()
}

// Cancel cancels a queued or running task; a finished one is deleted with
// its input and results (deleted reports which). A running task stays
// running, with cancel_requested, until its runtime work has stopped and
// released everything; then it ends canceled.
func (s *Service) Cancel(ctx context.Context, subject, id string) (t *api.Task, deleted bool, err error) {
	if _, err := s.cfg.Store.Get(ctx, id, subject); err != nil {
		return nil, false, err
	}
	if err := s.writable(); err != nil {
		return nil, false, err
	}
	row, what, err := s.cfg.Store.Cancel(ctx, id, s.cfg.Clock.Now())
	if err != nil {
		return nil, false, err
	}
	deleted = what == store.Deleted
	// A task running here stops now; one running on another node stops
	// when River's cancellation reaches that node.
	s.mu.Lock()
	cancel := s.running[id]
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if what == store.CanceledQueued {
		s.ended(row)
	}
	if deleted {
		s.cfg.Log.Info("task deleted", "task", id)
		return nil, true, nil
	}
	s.cfg.Log.Info("task cancel requested", "task", id, "device", row.DeviceRequest, "model", row.Model, "status", row.Status)
	return toAPI(row), false, nil
}

// outcome is t's end state.
func outcome(t *store.Task) store.Outcome {
	return store.Outcome{Status: t.Status, ErrorCode: t.ErrorCode, ErrorMessage: t.ErrorMessage, Resources: t.Resources,
		PagesDone: t.PagesDone, PagesTotal: t.PagesTotal, PagesText: t.PagesText, FinishedAt: t.FinishedAt}
}

// Result writes subject's task id's result in format to w. A task not yet
// finished is not_finished; a failed or canceled one, or a format not made,
// is not_found; a result deleted by retention is gone.
func (s *Service) Result(ctx context.Context, subject, id, format string, w func(size int64) (io.Writer, error)) error {
	t, err := s.cfg.Store.Get(ctx, id, subject)
	if err != nil {
		return err
	}
	if _, ok := render.Formats[format]; !ok {
		return invalid("format %q is not one of json, txt, md, html, hocr, pdf", format)
	}
	switch {
	case !t.Status.Final():
		return errcode.New(errcode.NotFinished, "task %s is %s; its result is ready when it has succeeded", id, t.Status)
	case t.Status != lector.Succeeded:
		return errcode.New(errcode.NotFound, "task %s %s; it has no result", id, t.Status)
	case !t.ResultsDeleted.IsZero():
		return errcode.New(errcode.Gone, "the results of task %s were deleted at %s", id, t.ResultsDeleted.Format(time.RFC3339))
	case t.Sync:
		return errcode.New(errcode.Gone, "task %s was synchronous: its result was returned to its caller and not stored", id)
	case !slices.Contains(t.Formats, format):
		return errcode.New(errcode.NotFound, "task %s was made in %s; submit with formats=%s to get %s", id, strings.Join(t.Formats, ", "), format, format)
	}
	if format == "pdf" {
		if err := PDFNotWritten(toAPI(t).Resources); err != nil {
			return err
		}
	}
	size, ok, err := s.cfg.Store.BlobSize(ctx, id, format)
	if err != nil {
		return err
	}
	if !ok {
		return errcode.New(errcode.Gone, "the %s result of task %s is no longer stored", format, id)
	}
	out, err := w(size)
	if err != nil {
		return err
	}
	_, err = s.cfg.Store.CopyBlob(ctx, out, id, format)
	return err
}

// Asset writes one of a task's figure images (linked from its Markdown and
// HTML) to w.
func (s *Service) Asset(ctx context.Context, subject, id, name string, w func(size int64) (io.Writer, error)) error {
	t, err := s.cfg.Store.Get(ctx, id, subject)
	if err != nil {
		return err
	}
	if !t.ResultsDeleted.IsZero() {
		return errcode.New(errcode.Gone, "the results of task %s were deleted", id)
	}
	size, ok, err := s.cfg.Store.BlobSize(ctx, id, "asset/"+name)
	if err != nil {
		return err
	}
	if !ok {
		return errcode.New(errcode.NotFound, "task %s has no asset %q", id, name)
	}
	out, err := w(size)
	if err != nil {
		return err
	}
	_, err = s.cfg.Store.CopyBlob(ctx, out, id, "asset/"+name)
	return err
}

// SyncResult is the answer to a synchronous request.
type SyncResult struct {
	Task  *api.Task
	Pages []*result.Page
	PDF   []byte // the searchable PDF, when it was the format asked for
}

// RunSync runs one upload now at interactive priority, bounded by the
// options' timeout (at most the server's): a task that runs out of time is
// cancelled, its resources freed, and the error is timeout. The task is
// recorded (with its resources) but its result is only returned.
func (s *Service) RunSync(ctx context.Context, subject string, up Upload, f Fields) (*SyncResult, error) {
	if err := s.writable(); err != nil {
		return nil, err
	}
	doc, kind, err := s.check(ctx, up)
	if err != nil {
		return nil, s.blameStorage(err)
	}
	defer doc.Close()
	o, err := s.options(f, kind)
	if err != nil {
		return nil, err
	}
	t := &store.Task{
		ID: newID(), Subject: subject, Status: lector.Running, Pipeline: o.Pipeline, Model: o.Model, Formats: o.Formats,
		Priority: lector.Interactive, DeviceRequest: o.Device, KeepAlive: o.KeepAlive, Filename: filepath.Base(up.Filename),
		MediaType: kind, InputBytes: up.File.Size(), PagesTotal: doc.NumPages(), CreatedAt: s.cfg.Clock.Now(), Sync: true, Attempts: 1,
	}
	t.StartedAt = t.CreatedAt
	runCtx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errcode.New(errcode.Timeout, "the request ran past its timeout of %s", o.Timeout))
	defer cancel()
	var started atomic.Bool
	topts := s.taskOptions(t, o.Formats, admission.Interactive, true, nil)
	topts.PDFText = o.PDFText
	topts.Started = func() { started.Store(true) }
	res, err := s.cfg.Runtime.Run(runCtx, doc, topts)
	if cause := context.Cause(ctx); err != nil && ctx.Err() != nil && errcode.Of(cause) == errcode.Unavailable {
		err = cause // the server is shutting down: 503, and the task is recorded
	}
	if err != nil && runCtx.Err() != nil && ctx.Err() == nil {
		err = context.Cause(runCtx)
		if !started.Load() { // never got a lane (or memory): overloaded, not slow
			err = errcode.New(errcode.Unavailable, "no lane or memory became free within the timeout of %s", o.Timeout)
		}
	}
	err = s.blameStorage(err)
	s.finish(t, res, err)
	bg := context.WithoutCancel(ctx)
	t.Node = s.cfg.NodeID
	if rerr := s.cfg.Store.Insert(bg, t, nil); rerr != nil {
		s.cfg.Log.Warn("recording a synchronous task", "task", t.ID, "err", rerr)
	}
	s.ended(t)
	if err != nil {
		return nil, err
	}
	return &SyncResult{Task: toAPI(t), Pages: res.Pages, PDF: res.PDF}, nil
}

func (s *Service) taskOptions(t *store.Task, formats []string, p admission.Priority, sync bool, progress func(int, int, int)) task.Options {
	o := task.Options{TaskID: t.ID, Model: t.Model, Pipeline: t.Pipeline, Device: t.DeviceRequest, Priority: p, Sync: sync,
		KeepAlive: t.KeepAlive, Progress: progress}
	o.PDF = slices.Contains(formats, "pdf")
	return o
}

// finish fills t's end state from a run's outcome.
func (s *Service) finish(t *store.Task, res *task.Result, err error) {
	t.FinishedAt = s.cfg.Clock.Now()
	if res != nil {
		t.Resources = resourcesJSON(res.Resources)
		if err == nil || len(res.Pages) > t.PagesDone {
			t.PagesDone = len(res.Pages)
		}
		if res.Resources.PagesText > 0 {
			t.PagesText = res.Resources.PagesText
		}
	}
	if err == nil {
		t.Status = lector.Succeeded
		return
	}
	t.ErrorCode, t.ErrorMessage = string(errcode.Of(err)), errcode.Message(err)
	if errcode.Of(err) == errcode.Canceled {
		t.Status = lector.Canceled
	} else {
		t.Status = lector.Failed
	}
}

func resourcesJSON(r task.Resources) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func toAPI(t *store.Task) *api.Task {
	out := &api.Task{
		ID: t.ID, Status: t.Status, Pipeline: t.Pipeline, Model: t.Model, Formats: t.Formats, Priority: t.Priority,
		Device: t.DeviceRequest, Filename: t.Filename, MediaType: t.MediaType, InputBytes: t.InputBytes,
		Pages: api.Pages{Done: t.PagesDone, Total: t.PagesTotal, Text: t.PagesText}, Attempts: t.Attempts, Node: t.Node, Sync: t.Sync,
		CancelRequested: t.CancelRequested, CreatedAt: t.CreatedAt,
	}
	if out.Formats == nil {
		out.Formats = []string{}
	}
	if t.ErrorCode != "" {
		out.Error = &api.Error{Code: t.ErrorCode, Message: t.ErrorMessage}
	}
	if t.Resources != "" {
		var r api.Resources
		if json.Unmarshal([]byte(t.Resources), &r) == nil {
			out.Resources = &r
		}
	}
	for _, p := range []struct {
		t   time.Time
		dst **time.Time
	}{{t.StartedAt, &out.StartedAt}, {t.FinishedAt, &out.FinishedAt}, {t.ResultsDeleted, &out.ResultsDeletedAt}} {
		if !p.t.IsZero() {
			v := p.t
			*p.dst = &v
		}
	}
	return out
}

// madeFormats are the formats a task that ran can be rendered to: those
// asked for, less the searchable PDF when it could not be written
// (Resources.PDFError; asking for it answers that error, Result).
func madeFormats(formats []string, r task.Resources) []string {
	if r.PDFError == nil {
		return formats
	}
	return slices.DeleteFunc(slices.Clone(formats), func(f string) bool { return f == "pdf" })
}

// PDFNotWritten is the error a task's searchable PDF answers when it could
// not be written (nil when it could, or was not asked for).
func PDFNotWritten(r *lector.Resources) error {
	if r == nil || r.PDFError == nil {
		return nil
	}
	return errcode.New(errcode.PDFNotWritten, "%s", r.PDFError.Message)
}

// RenderAll renders doc in each format, for storing.
func RenderAll(doc render.Document, formats []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(formats))
	for _, f := range formats {
		var buf bytes.Buffer
		if err := render.Write(&buf, f, doc); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", f, err)
		}
		out[f] = buf.Bytes()
	}
	return out, nil
}

// MaxInputBytes is the largest accepted input.
func (s *Service) MaxInputBytes() int64 {
	if s.cfg.Limits.MaxBytes > 0 {
		return s.cfg.Limits.MaxBytes
	}
	return 100 << 20
}

// Spool receives an upload into the node's upload directory, enforcing the
// input limit while reading.
func (s *Service) Spool(r io.Reader) (*spool.File, error) {
	return spool.Copy(r, s.uploadDir(), s.MaxInputBytes())
}

// atLeast passes on records at or above level (River reports routine work
// at info; the node's log keeps its warnings).
type atLeast struct {
	slog.Handler
	level slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(a []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(a), h.level}
}
func (h atLeast) WithGroup(n string) slog.Handler { return atLeast{h.Handler.WithGroup(n), h.level} }

// queueFull is a queue_full error for a client with ahead tasks before it.
func (s *Service) queueFull(ahead int, format string, args ...any) error {
	wait := s.drain.retryAfter(s.cfg.Clock.Now(), ahead)
	e := errcode.New(errcode.QueueFull, format+"; try again in %s", append(args, wait)...)
	e.RetryAfter = wait
	return e
}

// nTasks is "1 task" or "N tasks".
func nTasks(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}

// RetryAfter is how long a refused client should wait: one task's worth of
// this node's current drain rate.
func (s *Service) RetryAfter() time.Duration { return s.drain.retryAfter(s.cfg.Clock.Now(), 1) }

// ended records a task that reached a final state.
func (s *Service) ended(t *store.Task) {
	s.drain.record(s.cfg.Clock.Now())
	if s.cfg.OnTaskEnd != nil {
		s.cfg.OnTaskEnd(toAPI(t))
	}
	s.returnMemory(t)
}

// Big tasks: an input of BigTaskBytes or more, or BigTaskPages pages or
// more, leave pages, results and uploads behind in the server's heap.
const (
	BigTaskBytes = 1 << 20
	BigTaskPages = 4
)

// returnMemory gives the heap a big task left behind back to the OS at
// once (debug.FreeOSMemory: a garbage collection, then every free span
// returned), at most once a second: otherwise Go's background scavenger
// and its two-minute periodic collection would keep it for minutes
// (docs/BENCHMARKS.md, "The server's own memory").
func (s *Service) returnMemory(t *store.Task) {
	if t.InputBytes < BigTaskBytes && t.PagesTotal < BigTaskPages {
		return
	}
	now := s.cfg.Clock.Now().UnixNano()
	last := s.lastFree.Load()
	if now-last < int64(time.Second) || !s.lastFree.CompareAndSwap(last, now) {
		return
	}
	debug.FreeOSMemory()
}
