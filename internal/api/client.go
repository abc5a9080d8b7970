package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Client talks to a Lector server.
type Client struct {
	Base  string       // e.g. http://127.0.0.1:8080
	Token string       // sent as a bearer token when set
	HTTP  *http.Client // default http.DefaultClient
}

// NewClient returns a client for the server at base.
func NewClient(base string) *Client {
	return &Client{Base: strings.TrimRight(base, "/")}
}

// StatusError is an error answer from the server.
type StatusError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var eb ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error = Error{Code: "http_" + fmt.Sprint(resp.StatusCode), Message: strings.TrimSpace(string(b))}
		}
		return nil, &StatusError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, RetryAfter: resp.Header.Get("Retry-After")}
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	resp, err := c.do(ctx, method, path, body, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// multipartBody streams a form with the fields and the file, without
// holding the file in memory.
func multipartBody(name string, r io.Reader, o Options) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, f := range o.Pairs() {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		part, err := mw.CreateFormFile("file", filepath.Base(name))
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

// Submit queues the document read from r (name is its file name).
func (c *Client) Submit(ctx context.Context, name string, r io.Reader, o Options) (*Task, error) {
	body, ct := multipartBody(name, r, o)
	var t Task
	return &t, c.getJSON(ctx, http.MethodPost, "/v1/tasks", body, ct, &t)
}

// SubmitFile queues the file at path.
func (c *Client) SubmitFile(ctx context.Context, path string, o Options) (*Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.Submit(ctx, path, f, o)
}

// OCR runs a document synchronously (POST /v1/ocr) and returns the body
// of the answer in o.Format (default json) and the task id.
func (c *Client) OCR(ctx context.Context, name string, r io.Reader, o Options) ([]byte, string, error) {
	body, ct := multipartBody(name, r, o)
	resp, err := c.do(ctx, http.MethodPost, "/v1/ocr", body, ct)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.Header.Get("Lector-Task-Id"), err
}

// Get returns task id.
func (c *Client) Get(ctx context.Context, id string) (*Task, error) {
	var t Task
	return &t, c.getJSON(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(id), nil, "", &t)
}

// List returns a page of tasks, newest first; cursor is the previous
// page's Next.
func (c *Client) List(ctx context.Context, limit int, cursor string) (*TaskList, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var l TaskList
	return &l, c.getJSON(ctx, http.MethodGet, "/v1/tasks?"+q.Encode(), nil, "", &l)
}

// Result writes task id's result in format to w.
func (c *Client) Result(ctx context.Context, id, format string, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(id)+"/result?format="+url.QueryEscape(format), nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// Cancel cancels a queued or running task (returned with its state), or
// deletes a finished one (nil task).
func (c *Client) Cancel(ctx context.Context, id string) (*Task, error) {
	resp, err := c.do(ctx, http.MethodDelete, "/v1/tasks/"+url.PathEscape(id), nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	var t Task
	return &t, json.NewDecoder(resp.Body).Decode(&t)
}

// Event is one server-sent event of a task.
type Event struct {
	Type     string    // "status" or "progress"
	Task     *Task     // for status
	Progress *Progress // for progress
}

// Events streams task id's events to fn until the stream ends (after a
// final status), ctx ends, or fn returns false.
func (c *Client) Events(ctx context.Context, id string, fn func(Event) bool) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(id)+"/events", nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var typ string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data.WriteString(strings.TrimPrefix(line, "data: "))
		case line == "" && typ != "":
			ev := Event{Type: typ}
			switch typ {
			case "status":
				ev.Task = &Task{}
				err = json.Unmarshal(data.Bytes(), ev.Task)
			case "progress":
				ev.Progress = &Progress{}
				err = json.Unmarshal(data.Bytes(), ev.Progress)
			}
			if err != nil {
				return fmt.Errorf("api: event %s: %w", typ, err)
			}
			typ = ""
			data.Reset()
			if !fn(ev) {
				return nil
			}
		}
	}
	return sc.Err()
}

// Wait follows task id's events until it ends and returns its final state.
func (c *Client) Wait(ctx context.Context, id string) (*Task, error) {
	var last *Task
	err := c.Events(ctx, id, func(ev Event) bool {
		if ev.Task != nil {
			last = ev.Task
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if last == nil || !last.Final() {
		return c.Get(ctx, id)
	}
	return last, nil
}

// Models returns the catalog and the loaded instances.
func (c *Client) Models(ctx context.Context) (*Models, error) {
	var m Models
	return &m, c.getJSON(ctx, http.MethodGet, "/v1/models", nil, "", &m)
}

// Load loads a model explicitly.
func (c *Client) Load(ctx context.Context, name string, req LoadRequest) (*Models, error) {
	b, _ := json.Marshal(req)
	var m Models
	return &m, c.getJSON(ctx, http.MethodPost, "/v1/models/"+url.PathEscape(name)+"/load", bytes.NewReader(b), "application/json", &m)
}

// Unload unloads a model (on every device, or on device).
func (c *Client) Unload(ctx context.Context, name, device string) (*Models, error) {
	q := ""
	if device != "" {
		q = "?device=" + url.QueryEscape(device)
	}
	var m Models
	return &m, c.getJSON(ctx, http.MethodPost, "/v1/models/"+url.PathEscape(name)+"/unload"+q, nil, "", &m)
}

// System returns GET /v1/system as raw JSON fields.
func (c *Client) System(ctx context.Context, out any) error {
	return c.getJSON(ctx, http.MethodGet, "/v1/system", nil, "", out)
}
