package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/lector-ocr/lector/internal/errcode"
)

// pageImage serves page {page} of a task as an image a browser shows, in
// the frame of the task's result (what the page's viewer draws the words'
// boxes over). It is private to the caller and never stored by the
// browser (no-store): a cached copy would be served for the same URL to
// whoever uses the browser after logging out (the cache does not know the
// session), and a PDF page's image is the document itself.
func (s *Server) pageImage(w http.ResponseWriter, r *http.Request) {
	page, err := strconv.Atoi(r.PathValue("page"))
	if err != nil {
		writeError(w, errcode.New(errcode.InvalidArgument, "page %q is not a number", r.PathValue("page")))
		return
	}
	data, media, err := s.d.Service.PageImage(r.Context(), subject(r), r.PathValue("id"), page)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/"+media)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// eventWriter writes server-sent events (text/event-stream), flushing each.
type eventWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
}

// startEvents answers 200 with the event stream's headers.
func startEvents(w http.ResponseWriter) *eventWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &eventWriter{w: w, flusher: f}
}

// send writes one event with v as its JSON data; false when the client is
// gone.
func (e *eventWriter) send(event string, v any) bool {
	b, _ := json.Marshal(v)
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return false
	}
	e.flush()
	return true
}

// ping writes a comment that keeps proxies from closing an idle stream;
// false when the client is gone.
func (e *eventWriter) ping() bool {
	if _, err := io.WriteString(e.w, ": ping\n\n"); err != nil {
		return false
	}
	e.flush()
	return true
}

func (e *eventWriter) flush() {
	if e.flusher != nil {
		e.flusher.Flush()
	}
}

// run keeps the stream until ctx ends (the client went away), closing is
// closed (the server shuts down) or onChange returns false; it pings every
// 15 s and calls onChange each time changed fires.
func (e *eventWriter) run(ctx context.Context, closing, changed <-chan struct{}, onChange func() bool) {
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-closing:
			return
		case <-ping.C:
			if !e.ping() {
				return
			}
		case <-changed:
			if !onChange() {
				return
			}
		}
	}
}

// DeletedEvent is the data of a "deleted" event of GET /v1/events.
type DeletedEvent struct {
	ID string `json:"id"`
}

// allEvents streams the changes of every task of the caller as server-sent
// events: "ready" once subscribed (read the list after it, and miss
// nothing), then "task" (the whole task) after each change of one of the
// caller's tasks — submitted, status, pages done — and "deleted" ({"id"})
// when a task this stream told of is gone; "reset" when changes may have
// been missed (the node lost its database's notifications a while): read
// the list again. Another subject's tasks are never named. The stream
// lasts until the client or the server ends it.
func (s *Server) allEvents(w http.ResponseWriter, r *http.Request) {
	changed, take, stop := s.d.Service.WatchAll()
	defer stop()
	ev := startEvents(w)
	send := ev.send
	if !send("ready", struct{}{}) {
		return
	}
	told := map[string]bool{} // tasks of this subject this stream named
	ev.run(r.Context(), s.closing(), changed, func() bool {
		ids, reset := take()
		if reset && !send("reset", struct{}{}) {
			return false
		}
		for _, id := range ids {
			t, err := s.d.Service.Get(r.Context(), subject(r), id)
			switch {
			case errcode.Of(err) == errcode.NotFound:
				// Another subject's, or deleted: only a task this
				// stream named can be said to be gone.
				if told[id] {
					delete(told, id)
					if !send("deleted", DeletedEvent{ID: id}) {
						return false
					}
				}
			case err != nil:
				if r.Context().Err() != nil {
					return false
				}
				s.d.Log.Warn("events: reading a task", "task", id, "err", err)
			default:
				told[id] = true
				if !send("task", t) {
					return false
				}
			}
		}
		return true
	})
}
