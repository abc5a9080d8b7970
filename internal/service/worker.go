package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/render"
	"github.com/lector-ocr/lector/internal/spool"
	"github.com/lector-ocr/lector/internal/store"
	"github.com/lector-ocr/lector/internal/task"
)

// worker runs tasks from River.
type worker struct {
	river.WorkerDefaults[jobArgs]
	s *Service
}

// Timeout: none; each page has its own time limit.
func (w *worker) Timeout(*river.Job[jobArgs]) time.Duration { return -1 }

// NextRetry backs off 1s, 2s, 4s… up to a minute.
func (w *worker) NextRetry(job *river.Job[jobArgs]) time.Time {
	d := time.Second << min(job.Attempt-1, 6)
	return time.Now().Add(min(d, time.Minute))
}

func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	err := w.s.work(ctx, job.Args.TaskID, job.Args.PDFText, job.Attempt, job.MaxAttempts)
	if errcode.IsStorage(err) {
		return w.s.storageRetry(ctx, job.Args.TaskID, job.Attempt, err)
	}
	if errors.Is(err, admission.ErrBusy) { // work left it unfinished: mayPutBack
		w.s.mu.Lock()
		n := w.s.busyRequeues[job.Args.TaskID]
		w.s.mu.Unlock()
		return w.s.putBack(ctx, job.Args.TaskID, job.Attempt, n, "memory is held by other tasks", err)
	}
	w.s.mu.Lock()
	delete(w.s.storageRetries, job.Args.TaskID)
	delete(w.s.busyRequeues, job.Args.TaskID)
	w.s.mu.Unlock()
	return err
}

// MaxBusyRequeues bounds how often a task is put back in the queue, without
// spending an attempt, after waiting CriticalWait for memory that other
// tasks' reservations held (admission.ErrBusy): each time it has waited a
// CriticalWait, so the default bound is over ten minutes of others' work.
// Then it fails with insufficient_memory and the numbers.
const MaxBusyRequeues = 10

// mayPutBack counts a refusal of task id for memory other tasks held and
// reports whether it may go back to the queue (MaxBusyRequeues).
func (s *Service) mayPutBack(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busyRequeues[id]++
	return s.busyRequeues[id] <= MaxBusyRequeues
}

// putBack returns task id to the queue without spending an attempt (its
// nth time back for this reason), to run again after storageRetryDelay(n).
func (s *Service) putBack(ctx context.Context, id string, attempt, n int, why string, err error) error {
	bg := context.WithoutCancel(ctx)
	if rerr := s.cfg.Store.Requeue(bg, id, s.cfg.NodeID, attempt); rerr != nil {
		s.cfg.Log.Warn("returning a task to the queue", "task", id, "err", rerr)
	}
	s.cfg.Log.Warn("task returned to the queue: "+why, "task", id, "retry", n, "err", err)
	return river.JobSnooze(storageRetryDelay(n))
}

// MaxStorageRetries bounds how often a task is put back for a storage
// fault (the disk full) without spending an attempt.
const MaxStorageRetries = 10

// storageRetryDelay is how long a task put back for the nth time for a
// storage fault waits: 1 s, 2 s, 4 s… up to 30 s.
func storageRetryDelay(n int) time.Duration {
	return min(time.Second<<min(n-1, 5), 30*time.Second)
}

// storageRetry puts a task that met a storage fault back in the queue
// without spending an attempt — the fault is the server's, not the
// task's — up to MaxStorageRetries times (counted in this process), then
// lets it fail as River's error.
func (s *Service) storageRetry(ctx context.Context, id string, attempt int, err error) error {
	s.mu.Lock()
	s.storageRetries[id]++
	n := s.storageRetries[id]
	s.mu.Unlock()
	if n > MaxStorageRetries {
		s.cfg.Log.Error("task failed: storage still cannot be written", "task", id, "retries", n-1, "err", err)
		return err
	}
	return s.putBack(ctx, id, attempt, n, "storage cannot be written", err)
}

// blameStorage returns err as a storage fault (unavailable) when it is
// one, or when it is a failure that a write could have caused (pdftoppm
// could not write a page: invalid_document) while the data directory
// cannot take a write (CheckWritable); otherwise err unchanged.
func (s *Service) blameStorage(err error) error {
	if err == nil || errcode.IsStorage(err) {
		return errcode.Storage(err)
	}
	if c := errcode.Of(err); c == errcode.InvalidDocument || c == errcode.Internal {
		if ferr := CheckWritable(s.cfg.WorkDir); ferr != nil {
			return errcode.StorageFault(fmt.Errorf("%w (%v)", ferr, err))
		}
	}
	return err
}

// work runs one attempt of task id.
func (s *Service) work(ctx context.Context, id string, pdfText lector.PDFText, attempt, maxAttempts int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.running[id] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, id)
		s.mu.Unlock()
	}()

	bg := context.WithoutCancel(ctx)
	ok, err := s.cfg.Store.MarkRunning(bg, id, s.cfg.NodeID, attempt, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	if !ok { // canceled while queued, ended, or deleted
		return s.endCanceledIfAsked(bg, id)
	}
	t, err := s.cfg.Store.Lookup(bg, id)
	if err != nil {
		return err
	}
	log := s.cfg.Log.With("task", id, "model", t.Model, "attempt", attempt, "node", s.cfg.NodeID)
	log.Info("task running", "device", t.DeviceRequest, "pages", t.PagesTotal)

	res, err := s.runTask(ctx, t, pdfText, func() {
		log.Info("task working", "device", t.DeviceRequest)
		if s.cfg.OnWorking != nil {
			s.cfg.OnWorking(id)
		}
	})
	if ctx.Err() == nil {
		if err = s.blameStorage(err); errcode.IsStorage(err) {
			return err
		}
		if errors.Is(err, admission.ErrBusy) && s.mayPutBack(id) {
			return err // Work puts it back
		}
	}
	if err != nil && ctx.Err() != nil {
		fresh, gerr := s.cfg.Store.Lookup(bg, id)
		switch {
		case gerr != nil:
			return gerr
		case !s.holds(fresh, attempt):
			// This node was declared dead and the task given away (the
			// heartbeat that learnt it stopped this run): its job, which
			// the rescue finalized, completes as nothing.
			log.Warn("task run superseded: the task was given to another node", "device", t.DeviceRequest)
			return nil
		case fresh.CancelRequested:
			s.finish(t, res, errcode.New(errcode.Canceled, "canceled by request"))
			if _, ferr := s.store(bg, t, attempt, nil); ferr != nil {
				return ferr
			}
			log.Info("task canceled", "device", deviceOf(t))
			return river.JobCancel(err)
		default: // the node is stopping: run it again later
			if rerr := s.cfg.Store.Requeue(bg, id, s.cfg.NodeID, attempt); rerr != nil {
				return rerr
			}
			log.Info("task returned to the queue", "device", t.DeviceRequest, "reason", "node stopping")
			return river.JobSnooze(0) // not an attempt: runs at the next start
		}
	}
	if err != nil && errcode.Retryable(errcode.Of(err)) && attempt < maxAttempts {
		if rerr := s.cfg.Store.Requeue(bg, id, s.cfg.NodeID, attempt); rerr != nil {
			return rerr
		}
		log.Warn("task will be retried", "device", t.DeviceRequest, "code", errcode.Of(err), "err", err)
		return err
	}
	s.finish(t, res, err)
	var outputs map[string][]byte
	if err == nil {
		if outputs, err = RenderAll(render.Document{Pages: res.Pages, PDF: res.PDF, Title: t.Filename}, madeFormats(t.Formats, res.Resources)); err != nil {
			s.finish(t, res, errcode.Wrap(errcode.Internal, err, "rendering the result"))
		}
		for name, data := range render.Assets(render.Document{Pages: res.Pages}) {
			outputs["asset/"+name] = data
		}
	}
	wrote, ferr := s.store(bg, t, attempt, outputs)
	switch {
	case ferr != nil:
		return ferr
	case !wrote:
		log.Warn("task run superseded: its result was dropped, the task was given to another node", "device", deviceOf(t))
	case t.Status == lector.Succeeded:
		log.Info("task succeeded", "device", deviceOf(t), "pages", t.PagesDone)
	default:
		log.Info("task failed", "device", deviceOf(t), "code", t.ErrorCode, "err", err)
	}
	return nil
}

func deviceOf(t *store.Task) string {
	if r := toAPI(t).Resources; r != nil {
		return r.Device
	}
	return ""
}

// endCanceledIfAsked ends a task that was asked to cancel before it ran.
func (s *Service) endCanceledIfAsked(ctx context.Context, id string) error {
	t, err := s.cfg.Store.Lookup(ctx, id)
	if errcode.Of(err) == errcode.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if t.CancelRequested && !t.Status.Final() {
		s.finish(t, nil, errcode.New(errcode.Canceled, "canceled by request"))
		if _, err := s.store(ctx, t, 0, nil); err != nil {
			return err
		}
	}
	return nil
}

// storeWait bounds how long a finished task waits for an unreachable
// database to come back before its attempt fails (and River runs it
// again).
const storeWait = 2 * time.Minute

// store writes a task's end state and its outputs in one transaction, for
// attempt (0: whatever the attempt), and reports whether it wrote. While
// the database is unreachable it tries again, with backoff, for up to
// storeWait: the work is done and is not lost to a database restart. A
// finish for an attempt that is no longer the task's (this node was
// declared dead and the task given to another) writes nothing, and the
// task's end is neither signalled nor counted: the caller logs the run as
// superseded.
func (s *Service) store(ctx context.Context, t *store.Task, attempt int, outputs map[string][]byte) (bool, error) {
	deadline := time.Now().Add(storeWait)
	backoff := 100 * time.Millisecond
	for {
		wrote, err := s.cfg.Store.Finish(ctx, t.ID, attempt, outcome(t), outputs)
		if err == nil {
			if wrote {
				s.ended(t)
			}
			return wrote, nil
		}
		if errcode.Of(err) != errcode.Unavailable || time.Now().After(deadline) {
			return false, err
		}
		s.cfg.Log.Warn("recording a task's end: the database is unreachable; trying again", "task", t.ID, "err", err)
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// holds reports whether t (as read now) is still this node's run of
// attempt: running here, that attempt. A task given to another node after
// this one was declared dead is not.
func (s *Service) holds(t *store.Task, attempt int) bool {
	return t.Status == lector.Running && t.Node == s.cfg.NodeID && t.Attempts == attempt
}

// runTask reads the task's input into its own file, opens it and runs it.
// started is called when the task's first page has a lane.
func (s *Service) runTask(ctx context.Context, t *store.Task, pdfText lector.PDFText, started func()) (*task.Result, error) {
	f, err := os.CreateTemp(s.uploadDir(), "input-"+t.ID+"-")
	if err != nil {
		return nil, err
	}
	if _, err := s.cfg.Store.CopyBlob(ctx, f, t.ID, "input"); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	f.Close()
	sp, err := spool.Open(f.Name())
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	defer sp.Close()
	data, err := sp.Map()
	if err != nil {
		return nil, err
	}
	doc, err := document.Open(ctx, data, s.cfg.Limits, s.uploadDir())
	if err != nil {
		return nil, err
	}
	defer doc.Close()
	var pagesDone, pagesTotal, pagesText atomic.Int64 // the last progress, for a run that ends early
	progress := func(done, total, text int) {
		pagesDone.Store(int64(done))
		pagesTotal.Store(int64(total))
		pagesText.Store(int64(text))
		if err := s.cfg.Store.Progress(context.WithoutCancel(ctx), t.ID, done, total, text); err != nil {
			s.cfg.Log.Warn("recording progress", "task", t.ID, "err", err)
		}
	}
	o := s.taskOptions(t, t.Formats, admission.Priority(t.Priority), false, progress)
	o.Started = started
	o.PDFText = pdfText
	res, err := s.cfg.Runtime.Run(ctx, doc, o)
	// A canceled or failed run keeps the pages it had done (finish writes
	// the row whole: they were reset to 0 before).
	t.PagesDone, t.PagesTotal = int(pagesDone.Load()), max(t.PagesTotal, int(pagesTotal.Load()))
	t.PagesText = int(pagesText.Load())
	return res, err
}
