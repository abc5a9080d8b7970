// Package server is Lector's HTTP API. So far it serves health, readiness,
// the system view (devices, memory, levels, lanes, semaphores) and the
// loaded model instances; tasks come with the service work.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/pool"
)

// Deps are the parts of the node the API reads.
type Deps struct {
	Devices    []device.Device
	Monitor    *memory.Monitor
	Models     *model.Manager
	Pool       *pool.Pool
	Semaphores *admission.Semaphores
	Log        *slog.Logger
}

// Server serves the API on one listener.
type Server struct {
	d Deps

	mu   sync.Mutex // guards srv, ln, done
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// New returns a server.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{d: d}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ready"}) })
	mux.HandleFunc("GET /v1/system", s.system)
	mux.HandleFunc("GET /v1/models", s.models)
	return mux
}

// SystemView is the body of GET /v1/system.
type SystemView struct {
	Devices    []SystemDevice             `json:"devices"`
	Thresholds memory.Thresholds          `json:"thresholds"`
	Semaphores []admission.SemaphoreStats `json:"semaphores"`
}

// SystemDevice is one device with its memory, level and service.
type SystemDevice struct {
	device.Device
	Memory  memory.Usage      `json:"memory"`
	Level   memory.Level      `json:"level"`
	Service pool.ServiceStats `json:"service"`
}

func (s *Server) system(w http.ResponseWriter, _ *http.Request) {
	out := SystemView{Thresholds: s.d.Monitor.Thresholds(), Semaphores: s.d.Semaphores.Snapshot()}
	services := map[string]pool.ServiceStats{}
	for _, st := range s.d.Pool.Snapshot() {
		services[st.Device] = st
	}
	for i, st := range s.d.Monitor.Snapshot() {
		out.Devices = append(out.Devices, SystemDevice{Device: s.d.Devices[i], Memory: st.Usage, Level: st.Level, Service: services[st.Device]})
	}
	writeJSON(w, 200, out)
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{"loaded": s.d.Models.List()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	return ln.Addr(), nil
}

// Stop shuts the server down gracefully (http.Server.Shutdown semantics) and
// returns when it has stopped. It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.done = nil
	s.mu.Unlock()
	if srv == nil || done == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if serr := <-done; err == nil {
		err = serr
	}
	return err
}
