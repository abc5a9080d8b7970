package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/web"
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

func do(h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	var body io.Reader
	if method == http.MethodPost && path == "/ui/login" {
		body = strings.NewReader(header[len(header)-1])
		header = header[:len(header)-1]
	}
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The page is served at / with its security headers; its session cookie
// stands for the bearer token on /v1, a request that changes something
// needs the page's header besides the cookie, a browser's cross-origin
// write is refused even with a token, and logging out ends the session.
func TestPageSessionThroughTheServer(t *testing.T) {
	t.Parallel()
	tokens, err := auth.Parse(strings.NewReader("alice:alice-token-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{Auth: tokens, Web: web.New(web.Options{Auth: tokens})}).Handler()

	page := do(h, "GET", "/")
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") || page.Header().Get("Content-Security-Policy") != web.CSP {
		t.Fatalf("GET /: %d %q %q", page.Code, page.Header().Get("Content-Type"), page.Header().Get("Content-Security-Policy"))
	}
	// The API's answers carry the policy too (an HTML result is a page).
	if rec := do(h, "GET", "/v1/nothing-here"); rec.Code != 401 || rec.Header().Get("Content-Security-Policy") != web.CSP {
		t.Fatalf("no session: %d %q", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}
	login := do(h, "POST", "/ui/login", `{"token":"alice-token-0123456789"}`)
	if login.Code != 200 || len(login.Result().Cookies()) != 1 {
		t.Fatalf("login: %d %s", login.Code, login.Body)
	}
	cookie := login.Result().Cookies()[0]
	jar := cookie.Name + "=" + cookie.Value

	if rec, body := get(t, h, "/v1/nothing-here", "Cookie", jar); rec.Code != 404 || body.Error.Code != "not_found" {
		t.Fatalf("GET with the cookie: %d %+v, want past the guard (404)", rec.Code, body)
	}
	if rec := do(h, "POST", "/v1/nothing-here", "Cookie", jar); rec.Code != 403 || !strings.Contains(rec.Body.String(), `"forbidden"`) {
		t.Fatalf("POST with the cookie, without %s: %d %s", web.PageHeader, rec.Code, rec.Body)
	}
	if rec := do(h, "DELETE", "/v1/nothing-here", "Cookie", jar, web.PageHeader, "1"); rec.Code != 404 {
		t.Fatalf("DELETE with the cookie and %s: %d %s", web.PageHeader, rec.Code, rec.Body)
	}
	// A bearer token needs no page header (API clients), but a browser's
	// cross-site write is refused whatever it carries.
	bearer := []string{"Authorization", "Bearer alice-token-0123456789"}
	if rec := do(h, "POST", "/v1/nothing-here", bearer...); rec.Code != 404 {
		t.Fatalf("POST with the token: %d %s", rec.Code, rec.Body)
	}
	if rec := do(h, "POST", "/v1/nothing-here", append(bearer, "Sec-Fetch-Site", "cross-site")...); rec.Code != 403 {
		t.Fatalf("cross-site POST: %d %s", rec.Code, rec.Body)
	}
	// A wrong bearer token is not rescued by a good cookie.
	if rec := do(h, "GET", "/v1/nothing-here", "Cookie", jar, "Authorization", "Bearer wrong"); rec.Code != 401 {
		t.Fatalf("wrong token with a cookie: %d", rec.Code)
	}
	if rec := do(h, "POST", "/ui/logout", "Cookie", jar); rec.Code != 204 {
		t.Fatalf("logout: %d", rec.Code)
	}
	if rec := do(h, "GET", "/v1/nothing-here", "Cookie", jar); rec.Code != 401 {
		t.Fatalf("after logout: %d", rec.Code)
	}
}

// Without the page (Deps.Web unset) / stays the API's JSON 404.
func TestNoPageWithoutWeb(t *testing.T) {
	t.Parallel()
	rec, body := get(t, New(Deps{}).Handler(), "/")
	if rec.Code != 404 || body.Error.Code != "not_found" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
}

func TestSearchablePDFName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ filename, want string }{
		{"report.pdf", "report.ocr.pdf"},
		{"scan.2024.png", "scan.2024.ocr.pdf"},
		{"noext", "noext.ocr.pdf"},
		{"", "t1.ocr.pdf"},
		{".pdf", "t1.ocr.pdf"},
	} {
		if got := SearchablePDFName(c.filename, "t1"); got != c.want {
			t.Errorf("SearchablePDFName(%q) = %q, want %q", c.filename, got, c.want)
		}
	}
}

// With tokens, only the subjects named operators may load, pin and unload
// models (an unload drains instances other subjects' tasks use); without
// tokens every caller may.
func TestModelControlIsForOperators(t *testing.T) {
	t.Parallel()
	var lines []string
	tokens := map[string]string{}
	for _, who := range []string{"alice", "bob"} {
		token, line, err := auth.NewToken(who)
		if err != nil {
			t.Fatal(err)
		}
		tokens[who] = token
		lines = append(lines, line)
	}
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts, err := auth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Deps{Auth: ts, Operators: []string{"alice"}})
	h := s.Handler()
	for _, path := range []string{"/v1/models/tesseract:eng/load", "/v1/models/tesseract:eng/unload"} {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens["bob"])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body api.ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusForbidden || body.Error.Code != "forbidden" || !strings.Contains(body.Error.Message, "--operators") {
			t.Fatalf("bob POST %s: %d %+v, want 403 forbidden naming --operators", path, rec.Code, body)
		}
	}
	as := func(who string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/models/m/unload", nil)
		return r.WithContext(context.WithValue(r.Context(), subjectKey{}, who))
	}
	if !s.operator(as("alice")) || s.operator(as("bob")) {
		t.Fatalf("operator: alice %v, bob %v; want true, false", s.operator(as("alice")), s.operator(as("bob")))
	}
	if open := New(Deps{}); !open.operator(as("")) {
		t.Fatal("without tokens the caller is not an operator")
	}
}
