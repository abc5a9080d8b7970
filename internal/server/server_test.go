package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/errcode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every error code has its HTTP status: a code added without one would be
// answered 500.
func TestEveryCodeHasAStatus(t *testing.T) {
	t.Parallel()
	for _, c := range errcode.All {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("code %s has no HTTP status in statusOf", c)
		}
	}
	if len(statusOf) != len(errcode.All) {
		t.Errorf("statusOf has %d codes, errcode.All %d", len(statusOf), len(errcode.All))
	}
}

func get(t *testing.T, h http.Handler, path string, header ...string) (*httptest.ResponseRecorder, api.ErrorBody) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body api.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

// An unknown route is a JSON 404 with its code, like every error.
func TestUnknownRouteIsJSON404(t *testing.T) {
	t.Parallel()
	rec, body := get(t, New(Deps{}).Handler(), "/v1/nothing-here")
	if rec.Code != http.StatusNotFound || body.Error.Code != "not_found" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %+v", rec.Code, rec.Header().Get("Content-Type"), body)
	}
}

// With tokens, /v1 needs a valid bearer token (401 with WWW-Authenticate
// otherwise) while health stays open.
func TestTokensGuardV1Only(t *testing.T) {
	t.Parallel()
	token, line, err := auth.NewToken("alice")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{Auth: tokens}).Handler()
	if rec, _ := get(t, h, "/healthz"); rec.Code != http.StatusOK {
		t.Fatalf("healthz without a token: %d", rec.Code)
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}} {
		rec, body := get(t, h, "/v1/nothing-here", hdr...)
		if rec.Code != http.StatusUnauthorized || body.Error.Code != "unauthorized" || rec.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%v: %d %+v", hdr, rec.Code, body)
		}
	}
	if rec, body := get(t, h, "/v1/nothing-here", "Authorization", "Bearer "+token); rec.Code != http.StatusNotFound {
		t.Fatalf("with the token: %d %+v, want past the guard (404)", rec.Code, body)
	}
}

// Start binds (":0" gives a free port) and Stop ends it; Stop is safe twice.
func TestStartStop(t *testing.T) {
	t.Parallel()
	s := New(Deps{})
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}
