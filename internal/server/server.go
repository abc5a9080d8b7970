// Package server is Lector's HTTP API. So far it serves health, readiness and
// the system view (devices, memory, levels); tasks come with the service.
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

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/memory"
)

// Server serves the API on one listener.
type Server struct {
	devices []device.Device
	monitor *memory.Monitor
	log     *slog.Logger

	mu   sync.Mutex // guards srv, ln
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// New returns a server for the given node.
func New(devs []device.Device, m *memory.Monitor, log *slog.Logger) *Server {
	return &Server{devices: devs, monitor: m, log: log}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ready"}) })
	mux.HandleFunc("GET /v1/system", s.system)
	return mux
}

func (s *Server) system(w http.ResponseWriter, _ *http.Request) {
	type dev struct {
		device.Device
		Memory memory.Usage `json:"memory"`
		Level  memory.Level `json:"level"`
	}
	snap := s.monitor.Snapshot()
	out := struct {
		Devices    []dev             `json:"devices"`
		Thresholds memory.Thresholds `json:"thresholds"`
	}{Thresholds: s.monitor.Thresholds()}
	for i, st := range snap {
		out.Devices = append(out.Devices, dev{Device: s.devices[i], Memory: st.Usage, Level: st.Level})
	}
	writeJSON(w, 200, out)
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
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.done = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return ln.Addr(), nil
}

// Stop shuts the server down gracefully (http.Server.Shutdown semantics) and
// returns when it has stopped. It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if done != nil {
		if serr := <-done; err == nil {
			err = serr
		}
		s.mu.Lock()
		s.done = nil
		s.mu.Unlock()
	}
	return err
}
