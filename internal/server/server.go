// Package server is Lector's HTTP API: tasks (asynchronous, with
// server-sent events, and synchronous), results in every format, models
// (catalog, loaded instances, explicit load and unload), the system view,
// health and readiness. Errors are JSON {"error": {"code", "message"}} with
// the HTTP status of their code from one table (statusOf).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/metrics"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/obs"
	"github.com/lector-ocr/lector/internal/pool"
	"github.com/lector-ocr/lector/internal/service"
	"github.com/lector-ocr/lector/internal/task"
	"github.com/lector-ocr/lector/internal/web"
)

// Deps are the parts of the node the API uses.
type Deps struct {
	Devices    []device.Device
	Monitor    *memory.Monitor
	Models     *model.Manager
	Pool       *pool.Pool
	Semaphores *admission.Semaphores
	Admission  *admission.Controller
	Runtime    *task.Runtime
	Service    *service.Service
	// Catalog lists the models this node can run.
	Catalog func() []api.ModelInfo
	// DefaultKeepAlive applies to explicit loads that name none.
	DefaultKeepAlive time.Duration
	// Auth, when set, makes every /v1 call need a bearer token; the token's
	// subject owns the tasks it makes.
	Auth *auth.Tokens
	// Operators are the subjects that may load, pin and unload models when
	// Auth is set (without Auth every caller may).
	Operators []string
	// Web, when set, serves the page at / and its sessions: a session
	// cookie authenticates /v1 like a bearer token.
	Web *web.UI
	// Metrics, when set, is served at /metrics.
	Metrics *metrics.Metrics
	// Ready, when set, says why the node cannot take work now (GET /readyz
	// answers 503 with it): its data directory or database cannot be
	// written, its memory monitor has not polled, its workers are not
	// running. nil: ready.
	Ready func() error
	Log   *slog.Logger
}

// Server serves the API on one listener.
type Server struct {
	d Deps

	mu   sync.Mutex // guards srv, ln, done
	srv  *http.Server
	ln   net.Listener
	done chan error

	closeOnce sync.Once
	shutdown  chan struct{} // closed when shutdown begins: event streams end

	syncOnce sync.Once
	syncStop chan struct{} // closed when the shutdown's time is up: synchronous runs answer 503
	syncMu   sync.Mutex    // guards syncN, syncIdle
	syncN    int           // synchronous requests in flight
	syncIdle chan struct{} // closed and replaced when syncN falls to 0
}

func (s *Server) closing() <-chan struct{} { return s.shutdown }

// New returns a server.
func New(d Deps) *Server {
	d.Log = obs.Log(d.Log)
	if d.Catalog == nil {
		d.Catalog = func() []api.ModelInfo { return nil }
	}
	return &Server{d: d, shutdown: make(chan struct{}), syncStop: make(chan struct{}), syncIdle: make(chan struct{})}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /v1/system", s.system)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1/models/{name}/load", s.loadModel)
	mux.HandleFunc("POST /v1/models/{name}/unload", s.unloadModel)
	if s.d.Service != nil {
		mux.HandleFunc("POST /v1/tasks", s.submit)
		mux.HandleFunc("GET /v1/tasks", s.listTasks)
		mux.HandleFunc("GET /v1/tasks/{id}", s.getTask)
		mux.HandleFunc("DELETE /v1/tasks/{id}", s.deleteTask)
		mux.HandleFunc("GET /v1/tasks/{id}/result", s.result)
		mux.HandleFunc("GET /v1/tasks/{id}/events", s.events)
		mux.HandleFunc("GET /v1/tasks/{id}/assets/{name}", s.asset)
		// An HTML or Markdown result links its figures by bare name:
		// relative to /v1/tasks/{id}/result they are here.
		mux.HandleFunc("GET /v1/tasks/{id}/{name}", s.asset)
		mux.HandleFunc("GET /v1/tasks/{id}/pages/{page}", s.pageImage)
		mux.HandleFunc("GET /v1/events", s.allEvents)
		mux.HandleFunc("POST /v1/ocr", s.ocr)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errcode.New(errcode.NotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	if s.d.Metrics != nil {
		mux.Handle("GET /metrics", s.d.Metrics.Handler())
	}
	if s.d.Web == nil {
		return s.authenticate(mux)
	}
	s.d.Web.Register(mux)
	return s.d.Web.Protect(s.authenticate(mux))
}

// readyz answers 200 {"status":"ready"}, or 503 {"status":"not ready",
// "reason":…} while Deps.Ready has a reason.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.d.Ready != nil {
		if err := s.d.Ready(); err != nil {
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": errcode.Message(err)})
			return
		}
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

// authenticate requires a bearer token on /v1 when tokens are configured
// and puts its subject in the request's context. Without an Authorization
// header, the page's session cookie stands for the token (and a request
// that changes something must then carry the page's header). Health,
// readiness, metrics and the page's own files are open.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.d.Auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" && s.d.Web != nil {
			if subject, ok := s.d.Web.Subject(r); ok {
				if err := web.CheckPageHeader(r); err != nil {
					writeError(w, err)
					return
				}
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, subject)))
				return
			}
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		subject, valid := s.d.Auth.Subject(strings.TrimSpace(token))
		if !ok || !valid {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lector"`)
			msg := "this server needs Authorization: Bearer <token> (or the page's session: log in at /)"
			if ok {
				msg = "the bearer token is not valid"
			}
			writeError(w, errcode.New(errcode.Unauthorized, "%s", msg))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, subject)))
	})
}

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[errcode.Code]int{
	errcode.InvalidArgument:      http.StatusBadRequest,
	errcode.UnknownModel:         http.StatusBadRequest,
	errcode.InvalidDocument:      http.StatusBadRequest,
	errcode.EncryptedPDF:         http.StatusBadRequest,
	errcode.TooManyPages:         http.StatusBadRequest,
	errcode.TooManyPixels:        http.StatusBadRequest,
	errcode.DeviceUnavailable:    http.StatusBadRequest,
	errcode.TooLarge:             http.StatusRequestEntityTooLarge,
	errcode.UnsupportedMediaType: http.StatusUnsupportedMediaType,
	errcode.NotFound:             http.StatusNotFound,
	errcode.Unauthorized:         http.StatusUnauthorized,
	errcode.Forbidden:            http.StatusForbidden,
	errcode.NotFinished:          http.StatusConflict,
	errcode.Gone:                 http.StatusGone,
	errcode.PDFNotWritten:        http.StatusUnprocessableEntity,
	errcode.QueueFull:            http.StatusServiceUnavailable,
	errcode.InsufficientMemory:   http.StatusServiceUnavailable,
	errcode.Unavailable:          http.StatusServiceUnavailable,
	errcode.Timeout:              http.StatusGatewayTimeout,
	errcode.Canceled:             499, // the client went away
	errcode.ModelLoadFailed:      http.StatusInternalServerError,
	errcode.EngineCrashed:        http.StatusInternalServerError,
	errcode.Internal:             http.StatusInternalServerError,
}

// StatusOf returns the HTTP status of an error code.
func StatusOf(c errcode.Code) int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	code := errcode.Of(err)
	status := StatusOf(code)
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "5")
	}
	msg := errcode.Message(err)
	if code == errcode.Internal {
		msg = "internal error" // details go to the log, not the client
	}
	writeJSON(w, status, api.ErrorBody{Error: api.Error{Code: string(code), Message: msg}})
}

// fail logs unexpected errors and writes err. A 503 carries Retry-After:
// the error's own estimate, else one task's worth of the node's drain rate.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := errcode.Of(err)
	if code == errcode.Internal {
		s.d.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if StatusOf(code) == http.StatusServiceUnavailable {
		wait := errcode.RetryAfterOf(err)
		if wait <= 0 && s.d.Service != nil {
			wait = s.d.Service.RetryAfter()
		}
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(wait.Round(time.Second), time.Second)/time.Second)))
		}
		if s.d.Metrics != nil {
			s.d.Metrics.OnRejected(string(code))
		}
	}
	writeError(w, err)
}

// SystemView is the body of GET /v1/system and, without a server's
// service, reservations and semaphores, of `lector system --json`.
type SystemView struct {
	Devices    []SystemDevice             `json:"devices"`
	Thresholds memory.Thresholds          `json:"thresholds"`
	Semaphores []admission.SemaphoreStats `json:"semaphores,omitempty"`
	// Loaded is the node's loaded model instances (a server's).
	Loaded []api.Instance `json:"loaded,omitempty"`
	// Node is the ID of the node that answered (a server's).
	Node string `json:"node,omitempty"`
	// Nodes is every node of the database's cluster (one, on SQLite), live
	// first, each with its own view as of its last heartbeat (a server's).
	Nodes []ClusterNode `json:"nodes,omitempty"`
	// ClusterError says why Nodes is missing (the database is unreachable).
	ClusterError string `json:"cluster_error,omitempty"`
	// Operator says whether the caller may load, pin and unload models (a
	// server's answer to its caller; see Deps.Operators).
	Operator bool `json:"operator"`
	// MaxInputBytes is the largest input this node accepts, in bytes (a
	// server's; the page checks a file against it before uploading).
	MaxInputBytes int64 `json:"max_input_bytes,omitempty"`
}

// ClusterNode is one node as the database knows it.
type ClusterNode struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	Addr        string    `json:"addr"`
	State       string    `json:"state"` // "live", "stopped" (a clean stop) or "gone" (no heartbeat for the node timeout: crashed, paused, cut off)
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	// System is the node's devices, memory levels, lanes, queues and loaded
	// instances at its last heartbeat.
	System *SystemView `json:"system,omitempty"`
}

// SystemDevice is one device with its memory and level, and on a server its
// service (lanes, queue) and reservations.
type SystemDevice struct {
	device.Device
	Memory memory.Usage `json:"memory"`
	Level  memory.Level `json:"level"`
	Cgroup string       `json:"cgroup,omitempty"` // the CPU's memory cgroup, when there is one
	// Service is the device's lanes and queue (a server's).
	Service *pool.ServiceStats `json:"service,omitempty"`
	// ReservedBytes is memory admitted tasks have reserved and not yet given back.
	ReservedBytes uint64 `json:"reserved_bytes"`
}

func (s *Server) system(w http.ResponseWriter, r *http.Request) {
	out := s.nodeView()
	out.Operator = s.operator(r)
	if s.d.Service != nil {
		out.Node = s.d.Service.NodeID()
		out.MaxInputBytes = s.d.Service.MaxInputBytes()
		nodes, err := s.d.Service.Nodes(r.Context())
		if err != nil { // the database is unreachable: this node's own view still answers
			out.ClusterError = errcode.Message(err)
		}
		for _, n := range nodes {
			cn := ClusterNode{ID: n.ID, Host: n.Host, Addr: n.Addr, State: "live", StartedAt: n.StartedAt, HeartbeatAt: n.HeartbeatAt}
			switch {
			case n.Left:
				cn.State = "stopped"
			case n.Gone:
				cn.State = "gone"
			}
			var v SystemView
			if len(n.Info) > 0 && json.Unmarshal(n.Info, &v) == nil {
				cn.System = &v
			}
			out.Nodes = append(out.Nodes, cn)
		}
	}
	writeJSON(w, 200, out)
}

// NodeInfo is this node's own system view as JSON (what its heartbeat
// records for the cluster view).
func (s *Server) NodeInfo() []byte {
	b, _ := json.Marshal(s.nodeView())
	return b
}

func (s *Server) nodeView() SystemView {
	out := SystemView{Thresholds: s.d.Monitor.Thresholds(), Semaphores: s.d.Semaphores.Snapshot()}
	if s.d.Models != nil {
		out.Loaded = s.d.Models.List()
	}
	services := map[string]pool.ServiceStats{}
	for _, st := range s.d.Pool.Snapshot() {
		services[st.Device] = st
	}
	for i, st := range s.d.Monitor.Snapshot() {
		var reserved uint64
		if s.d.Admission != nil {
			reserved = s.d.Admission.Reserved(st.Device)
		}
		svc := services[st.Device]
		out.Devices = append(out.Devices, SystemDevice{Device: s.d.Devices[i], Memory: st.Usage, Level: st.Level, Service: &svc, ReservedBytes: reserved})
	}
	return out
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	s.modelsStatus(w, http.StatusOK)
}

func (s *Server) modelsStatus(w http.ResponseWriter, status int) {
	out := api.Models{Catalog: s.d.Catalog(), Loaded: []api.Instance{}}
	if out.Catalog == nil {
		out.Catalog = []api.ModelInfo{}
	}
	out.Loaded = append(out.Loaded, s.d.Models.List()...)
	writeJSON(w, status, out)
}

// operator reports whether r's caller may load, pin and unload models.
func (s *Server) operator(r *http.Request) bool {
	return s.d.Auth == nil || slices.Contains(s.d.Operators, subject(r))
}

// needOperator answers 403 and returns false when r's caller is not an
// operator.
func (s *Server) needOperator(w http.ResponseWriter, r *http.Request) bool {
	if s.operator(r) {
		return true
	}
	writeError(w, errcode.New(errcode.Forbidden, "loading, pinning and unloading models is for operators (lector serve --operators SUBJECT); %q is not one", subject(r)))
	return false
}

func (s *Server) loadModel(w http.ResponseWriter, r *http.Request) {
	if !s.needOperator(w, r) {
		return
	}
	var req api.LoadRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			writeError(w, errcode.Wrap(errcode.InvalidArgument, err, "the body is not a JSON load request"))
			return
		}
	}
	name := r.PathValue("name")
	keep := s.d.DefaultKeepAlive
	if req.KeepAlive != "" {
		d, err := lector.ParseDuration(req.KeepAlive) // as for tasks: seconds or a Go duration, negative pins
		if err != nil {
			writeError(w, errcode.New(errcode.InvalidArgument, "keep_alive %q is not a duration (5m, 0, -1) or a number of seconds", req.KeepAlive))
			return
		}
		keep = d
	}
	if _, err := s.d.Runtime.Preload(r.Context(), name, req.Device, keep); err != nil {
		s.fail(w, r, err)
		return
	}
	s.models(w, r)
}

// unloadWait is how long an explicit unload's request waits for the
// instance to stop. An instance in use drains: it takes no new tasks and
// stops when the pages it is reading are done, however long that takes; a
// request that outlives unloadWait is answered 202 with the instance shown
// draining.
const unloadWait = 30 * time.Second

// unloadModel drains and stops model name on the device given by the
// "device" query parameter (every device when absent). 200: stopped; 202:
// draining (it stops when its last task releases it). A client that goes
// away does not stop the drain, and a drain never stops a runner under a
// task that holds it.
func (s *Server) unloadModel(w http.ResponseWriter, r *http.Request) {
	if !s.needOperator(w, r) {
		return
	}
	name := r.PathValue("name")
	devs := []string{r.URL.Query().Get("device")}
	if devs[0] == "" {
		devs = devs[:0]
		for _, d := range s.d.Devices {
			devs = append(devs, d.ID)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), unloadWait)
	defer cancel()
	status := http.StatusOK
	var errs []error
	for _, d := range devs {
		err := s.d.Models.Unload(ctx, name, d)
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusAccepted
			continue
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		s.fail(w, r, err)
		return
	}
	s.modelsStatus(w, status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // messages quote model names like <engine>:<config>
	_ = enc.Encode(v)
}

// Start listens on addr and serves in the background. It returns the bound
// address (useful with ":0").
func (s *Server) Start(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return s.ln.Addr(), nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.d.Log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	s.done = done
	srv := s.srv
	srv.RegisterOnShutdown(func() { s.closeOnce.Do(func() { close(s.shutdown) }) })
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	return ln.Addr(), nil
}

// Stop shuts the server down gracefully (http.Server.Shutdown semantics):
// no new connections, event streams end, requests in flight finish until ctx
// ends; then the rest are closed (their contexts are cancelled, so
// synchronous runs stop and free what they hold). It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.done = nil
	s.mu.Unlock()
	if srv == nil || done == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// Time is up: synchronous runs still going are cancelled and answer
		// 503 unavailable on their open connections, their tasks recorded,
		// before the connections close.
		s.syncOnce.Do(func() { close(s.syncStop) })
		s.waitSync(syncDrainTimeout)
		_ = srv.Close()
	}
	if serr := <-done; err == nil {
		err = serr
	}
	return err
}

// syncDrainTimeout bounds the wait, at a shutdown whose time is up, for
// cancelled synchronous requests to answer and record their tasks.
const syncDrainTimeout = 10 * time.Second

// errShuttingDown is the cause a synchronous run is cancelled with when the
// server's shutdown time is up: its answer is 503, worth another try.
var errShuttingDown = func() error {
	e := errcode.New(errcode.Unavailable, "the server is shutting down; try again")
	e.RetryAfter = 5 * time.Second
	return e
}()

// syncContext is a synchronous request's context: cancelled with
// errShuttingDown when the shutdown's time is up. done ends it and counts
// the request out.
func (s *Server) syncContext(parent context.Context) (ctx context.Context, done func()) {
	s.syncMu.Lock()
	s.syncN++
	s.syncMu.Unlock()
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-s.syncStop:
			cancel(errShuttingDown)
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel(nil)
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		if s.syncN--; s.syncN == 0 {
			close(s.syncIdle)
			s.syncIdle = make(chan struct{})
		}
	}
}

// waitSync waits until no synchronous request is in flight, or d.
func (s *Server) waitSync(d time.Duration) {
	s.syncMu.Lock()
	n, idle := s.syncN, s.syncIdle
	s.syncMu.Unlock()
	if n == 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
