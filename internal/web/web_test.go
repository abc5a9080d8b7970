package web

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/clock"
)

const aliceToken = "alice-token-0123456789"

func tokens(t *testing.T) *auth.Tokens {
	t.Helper()
	tk, err := auth.Parse(strings.NewReader("alice:" + aliceToken + "\nbob:bob-token-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// handler is the page's routes behind Protect, as the server mounts them,
// with a /v1 route that reports the session's subject.
func handler(u *UI) http.Handler {
	mux := http.NewServeMux()
	u.Register(mux)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := u.Subject(r)
		_, _ = io.WriteString(w, s)
	})
	return u.Protect(mux)
}

func do(h http.Handler, method, path string, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("%d %q is not a JSON error: %v", rec.Code, rec.Body, err)
	}
	return b.Error.Code
}

// The page and its files are served with the security headers, gzipped
// when the client takes it, and answered 304 when unchanged.
func TestServesThePageAndItsFiles(t *testing.T) {
	t.Parallel()
	h := handler(New(Options{}))
	rec := do(h, "GET", "/", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), `<script type="module" src="/ui/app.js">`) {
		t.Fatalf("GET /: %d %q %.80q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	for k, v := range map[string]string{"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(CSP, "default-src 'self'") || strings.Contains(CSP, "unsafe") {
		t.Errorf("the CSP allows more than the page's own files: %s", CSP)
	}
	for _, f := range []string{"app.js", "api.js", "tasks.js", "viewer.js", "system.js", "style.css"} {
		rec := do(h, "GET", "/ui/"+f, "", "Accept-Encoding", "gzip, deflate")
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: %d %q", f, rec.Code, rec.Header().Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if want, _ := static.ReadFile("static/" + f); !bytes.Equal(plain, want) {
			t.Errorf("%s: the gzipped body is not the file", f)
		}
		ct := rec.Header().Get("Content-Type")
		if strings.HasSuffix(f, ".js") && !strings.HasPrefix(ct, "text/javascript") || strings.HasSuffix(f, ".css") && !strings.HasPrefix(ct, "text/css") {
			t.Errorf("%s: Content-Type %q", f, ct)
		}
		again := do(h, "GET", "/ui/"+f, "", "If-None-Match", rec.Header().Get("ETag"))
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("%s with its ETag: %d, %d bytes", f, again.Code, again.Body.Len())
		}
	}
	for _, p := range []string{"/ui/nothing.js", "/ui/index.html", "/ui/../web.go", "/ui/static/app.js"} {
		if rec := do(h, "GET", p, ""); rec.Code == 200 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
}

// Without tokens there is nothing to log in to, and the page is told so.
func TestNoTokensNoLogin(t *testing.T) {
	t.Parallel()
	h := handler(New(Options{}))
	rec := do(h, "GET", "/ui/session", "")
	var s SessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || s.AuthRequired || s.Subject != "" {
		t.Fatalf("session: %s %v", rec.Body, err)
	}
	if rec := do(h, "POST", "/ui/login", `{"token":"x"}`); rec.Code != 400 || errorCode(t, rec) != "invalid_argument" {
		t.Fatalf("login without tokens: %d %s", rec.Code, rec.Body)
	}
}

// A token buys an HTTP-only, SameSite=Strict cookie for its subject
// (Secure over TLS); logging out ends the session on the server, not just
// in the browser; the token never reaches the log.
func TestLoginSessionLogout(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	u := New(Options{Auth: tokens(t), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	h := handler(u)

	for _, body := range []string{`{"token":"wrong"}`, `not json`, ``} {
		if rec := do(h, "POST", "/ui/login", body); rec.Code/100 != 4 || len(rec.Result().Cookies()) != 0 {
			t.Errorf("login with %q: %d, cookies %v", body, rec.Code, rec.Result().Cookies())
		}
	}
	rec := do(h, "POST", "/ui/login", `{"token":" `+aliceToken+` "}`)
	if rec.Code != 200 {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies: %v", cookies)
	}
	c := cookies[0]
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge != int(DefaultSessionTTL/time.Second) || len(c.Value) < 43 {
		t.Fatalf("cookie: %+v", c)
	}
	if strings.Contains(c.Value, aliceToken) {
		t.Fatal("the cookie holds the token")
	}
	if got := do(h, "GET", "/v1/x", "", "Cookie", c.Name+"="+c.Value).Body.String(); got != "alice" {
		t.Fatalf("the cookie's subject: %q", got)
	}
	var s SessionInfo
	_ = json.Unmarshal(do(h, "GET", "/ui/session", "", "Cookie", c.Name+"="+c.Value).Body.Bytes(), &s)
	if !s.AuthRequired || s.Subject != "alice" {
		t.Fatalf("session: %+v", s)
	}
	if got := do(h, "GET", "/v1/x", "", "Cookie", c.Name+"=forged").Body.String(); got != "" {
		t.Fatalf("a forged cookie is %q", got)
	}

	out := do(h, "POST", "/ui/logout", "", "Cookie", c.Name+"="+c.Value)
	if out.Code != 204 || len(out.Result().Cookies()) != 1 || out.Result().Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", out.Code, out.Result().Cookies())
	}
	// The old cookie, replayed, is dead.
	if got := do(h, "GET", "/v1/x", "", "Cookie", c.Name+"="+c.Value).Body.String(); got != "" {
		t.Fatalf("after logout the cookie is still %q", got)
	}
	if strings.Contains(logs.String(), aliceToken) || strings.Contains(logs.String(), c.Value) {
		t.Fatalf("a secret reached the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "subject=alice") {
		t.Errorf("the log does not say who logged in:\n%s", logs.String())
	}

	// Over TLS the cookie is Secure.
	req := httptest.NewRequest("POST", "/ui/login", strings.NewReader(`{"token":"`+aliceToken+`"}`))
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("cookie over TLS: %v", cs)
	}
}

// A session ends at its TTL (the injected clock's), and the store holds at
// most MaxSessions, dropping the one nearest its end.
func TestSessionsExpireAndAreBounded(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	s := newSessions(fake, time.Hour, 2)
	a, _ := s.start("alice")
	fake.Advance(time.Minute)
	b, _ := s.start("bob")
	if got, ok := s.subject(a); !ok || got != "alice" {
		t.Fatalf("a: %q %v", got, ok)
	}
	c, _ := s.start("carol") // over the bound: alice's, the oldest, goes
	if _, ok := s.subject(a); ok || s.len() != 2 {
		t.Fatalf("the oldest session survived the bound (%d held)", s.len())
	}
	if got, ok := s.subject(c); !ok || got != "carol" {
		t.Fatalf("carol: %q %v", got, ok)
	}
	fake.Advance(time.Hour - time.Second)
	if _, ok := s.subject(b); !ok {
		t.Fatal("bob's session ended early")
	}
	fake.Advance(time.Second)
	if _, ok := s.subject(b); ok {
		t.Fatal("bob's session outlived its TTL")
	}
	if _, ok := s.subject(""); ok {
		t.Fatal("an empty id has a subject")
	}
}

// A browser's cross-origin request that changes something is refused
// before any handler (CSRF); the same request from the page's origin, and
// a non-browser client's, pass.
func TestCrossOriginRequestsRefused(t *testing.T) {
	t.Parallel()
	h := handler(New(Options{Auth: tokens(t)}))
	login := `{"token":"` + aliceToken + `"}`
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://elsewhere.example", "Host", "lector.local"}} {
		rec := do(h, "POST", "/ui/login", login, hdr...)
		if rec.Code != 403 || errorCode(t, rec) != "forbidden" || len(rec.Result().Cookies()) != 0 {
			t.Errorf("%v: %d %s", hdr, rec.Code, rec.Body)
		}
	}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "same-origin"}, nil} {
		if rec := do(h, "POST", "/ui/login", login, hdr...); rec.Code != 200 {
			t.Errorf("%v: %d %s", hdr, rec.Code, rec.Body)
		}
	}
	// Reading is never refused: a cross-site GET carries no cookie anyway
	// (SameSite=Strict).
	if rec := do(h, "GET", "/", "", "Sec-Fetch-Site", "cross-site"); rec.Code != 200 {
		t.Errorf("cross-site GET /: %d", rec.Code)
	}
}

// A cookie-authenticated request that changes something needs the page's
// header.
func TestCheckPageHeader(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, header string
		ok             bool
	}{{"GET", "", true}, {"HEAD", "", true}, {"POST", "", false}, {"DELETE", "", false}, {"POST", "1", true}, {"DELETE", "1", true}} {
		req := httptest.NewRequest(c.method, "/v1/tasks", nil)
		if c.header != "" {
			req.Header.Set(PageHeader, c.header)
		}
		if err := CheckPageHeader(req); (err == nil) != c.ok {
			t.Errorf("%s with %q: %v", c.method, c.header, err)
		}
	}
}
