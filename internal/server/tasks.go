package server

import (
	"cmp"
	"errors"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/render"
	"github.com/lector-ocr/lector/internal/service"
	"github.com/lector-ocr/lector/internal/spool"
)

// subject is the caller; access control (tokens) sets it, "" otherwise.
func subject(r *http.Request) string {
	if s, ok := r.Context().Value(subjectKey{}).(string); ok {
		return s
	}
	return ""
}

type subjectKey struct{}

// upload reads a request's input and fields: multipart/form-data with a
// `file` part and option fields (streamed to disk, the size limit enforced
// while reading), or a raw body with the options in the query string.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) (*spool.File, string, lector.Fields, error) {
	var f lector.Fields
	for k, vs := range r.URL.Query() {
		if err := f.Set(k, vs[len(vs)-1]); err != nil {
			return nil, "", f, err
		}
	}
	limit := s.d.Service.MaxInputBytes()
	body := http.MaxBytesReader(w, r.Body, limit+1<<20)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		name := r.Header.Get("Lector-Filename")
		sp, err := s.d.Service.Spool(body)
		return sp, name, f, tooLarge(err, limit)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", f, errcode.Wrap(errcode.InvalidArgument, err, "reading the multipart form")
	}
	var sp *spool.File
	name := ""
	fail := func(err error) (*spool.File, string, lector.Fields, error) {
		if sp != nil {
			sp.Close()
		}
		return nil, "", f, err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(tooLarge(errcode.Wrap(errcode.InvalidArgument, err, "reading the multipart form"), limit))
		}
		if part.FormName() == "file" {
			if sp != nil {
				return fail(errcode.New(errcode.InvalidArgument, "one file per task"))
			}
			name = part.FileName()
			if sp, err = s.d.Service.Spool(part); err != nil {
				return fail(tooLarge(err, limit))
			}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, 1<<16))
		if err != nil {
			return fail(errcode.Wrap(errcode.InvalidArgument, err, "reading field %q", part.FormName()))
		}
		if err := f.Set(part.FormName(), string(v)); err != nil {
			return fail(err)
		}
	}
	if sp == nil {
		return fail(errcode.New(errcode.InvalidArgument, "no file: send the document as the multipart field \"file\""))
	}
	return sp, name, f, nil
}

// tooLarge turns the body limit's error into too_large.
func tooLarge(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errcode.New(errcode.TooLarge, "the input is over the limit of %d bytes", limit)
	}
	return err
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	sp, name, f, err := s.upload(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer sp.Close()
	t, err := s.d.Service.Submit(r.Context(), subject(r), service.Upload{File: sp, Filename: name}, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/tasks/"+t.ID)
	writeJSON(w, http.StatusAccepted, t)
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	t, err := s.d.Service.Get(r.Context(), subject(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, t)
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, errcode.New(errcode.InvalidArgument, "limit %q is not a positive number", v))
			return
		}
		limit = n
	}
	list, err := s.d.Service.List(r.Context(), subject(r), q.Get("cursor"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list)
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) {
	t, deleted, err := s.d.Service.Cancel(r.Context(), subject(r), r.PathValue("id"))
	switch {
	case err != nil:
		s.fail(w, r, err)
	case deleted:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusAccepted, t)
	}
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	// The searchable PDF is named after the input, NAME.ocr.pdf, not the
	// input's own name (which a browser would otherwise take from the page).
	disposition := ""
	if format == "pdf" {
		if t, err := s.d.Service.Get(r.Context(), subject(r), r.PathValue("id")); err == nil {
			disposition = mime.FormatMediaType("attachment", map[string]string{"filename": SearchablePDFName(t.Filename, t.ID)})
		}
	}
	err := s.d.Service.Result(r.Context(), subject(r), r.PathValue("id"), format, func(size int64) (io.Writer, error) {
		if disposition != "" {
			w.Header().Set("Content-Disposition", disposition)
		}
		w.Header().Set("Content-Type", render.Formats[format])
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(200)
		return w, nil
	})
	if err != nil && w.Header().Get("Content-Length") == "" {
		s.fail(w, r, err)
	}
}

// SearchablePDFName is the download name of a task's searchable PDF: the
// input's name without its extension (the task's ID without one) and
// ".ocr.pdf".
func SearchablePDFName(filename, id string) string {
	base := strings.TrimSuffix(filepath.Base(filename), filepath.Ext(filename))
	if filename == "" || base == "" || base == "." {
		base = id
	}
	return base + ".ocr.pdf"
}

// asset serves a figure image a task's Markdown or HTML links.
func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	err := s.d.Service.Asset(r.Context(), subject(r), r.PathValue("id"), r.PathValue("name"), func(size int64) (io.Writer, error) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(200)
		return w, nil
	})
	if err != nil && w.Header().Get("Content-Length") == "" {
		s.fail(w, r, err)
	}
}

// events streams a task's changes as server-sent events: "status" (the
// whole task) at the start and at each status change, "progress" (pages
// done and total) after each page; the stream ends after a final status.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	changed, stop := s.d.Service.Watch(id)
	defer stop()
	t, err := s.d.Service.Get(r.Context(), subject(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev := startEvents(w)
	send := ev.send
	if !send("status", t) || t.Final() {
		return
	}
	lastStatus, lastDone := t.Status, t.Pages.Done
	ev.run(r.Context(), s.closing(), changed, func() bool {
		t, err := s.d.Service.Get(r.Context(), subject(r), id)
		if err != nil {
			return errcode.Of(err) != errcode.NotFound // deleted: the stream ends
		}
		if t.Pages.Done != lastDone {
			lastDone = t.Pages.Done
			if !send("progress", api.Progress{ID: id, Done: t.Pages.Done, Total: t.Pages.Total, Text: t.Pages.Text}) {
				return false
			}
		}
		if t.Status != lastStatus || t.Final() {
			lastStatus = t.Status
			if !send("status", t) || t.Final() {
				return false
			}
		}
		return true
	})
}

// SyncResponse is the JSON answer of POST /v1/ocr.
type SyncResponse struct {
	Task   *api.Task `json:"task"`
	Schema string    `json:"schema"`
	Pages  any       `json:"pages"`
}

// ocr is the synchronous endpoint: the result in one format (`format`,
// default json) or an error; 504 after its timeout, 503 with Retry-After
// when it cannot be admitted.
func (s *Server) ocr(w http.ResponseWriter, r *http.Request) {
	sp, name, f, err := s.upload(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer sp.Close()
	format := cmp.Or(f.Format, "json")
	if _, ok := render.Formats[format]; !ok {
		writeError(w, errcode.New(errcode.InvalidArgument, "format %q is not one of json, txt, md, html, hocr, pdf", format))
		return
	}
	f.Formats = format
	ctx, done := s.syncContext(r.Context())
	defer done()
	defer func() { _ = http.NewResponseController(w).Flush() }() // the answer is out before done lets a shutdown close the connection
	res, err := s.d.Service.RunSync(ctx, subject(r), service.Upload{File: sp, Filename: name}, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Lector-Task-Id", res.Task.ID)
	if format == "json" {
		writeJSON(w, 200, SyncResponse{Task: res.Task, Schema: render.Schema, Pages: res.Pages})
		return
	}
	if err := service.PDFNotWritten(res.Task.Resources); err != nil && format == "pdf" {
		s.fail(w, r, err) // the task is recorded as succeeded, without its PDF: another format must be asked for
		return
	}
	out, err := service.RenderAll(render.Document{Pages: res.Pages, PDF: res.PDF, Title: name}, []string{format})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", render.Formats[format])
	w.Header().Set("Content-Length", strconv.Itoa(len(out[format])))
	w.WriteHeader(200)
	_, _ = w.Write(out[format])
}
