// Package web is the page `lector serve` answers at /: static HTML, CSS and
// JavaScript modules embedded in the binary (nothing is fetched from
// elsewhere at run time), the browser's session (a login that trades a
// bearer token for an HTTP-only cookie), and the headers every response
// carries (Content-Security-Policy, cross-origin request protection).
//
// The page itself only calls the JSON API under /v1; this package serves
// its files and sessions, and the server's authentication asks it for a
// cookie's subject.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/obs"
)

//go:embed static
var static embed.FS

// PageHeader is the header the page sends with every request that changes
// something. A cookie-authenticated POST or DELETE without it is refused
// (forbidden): another site can make a browser send a form, never a custom
// header without the server's consent (CORS, which Lector never grants).
const PageHeader = "Lector-Page"

// CSP is the Content-Security-Policy of every response: the page's own
// files only — no inline script or style, no other origin, no plugins, not
// framed by another site.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"

// Options configure the page.
type Options struct {
	// Auth, when set, makes the page ask for a token and hold a session.
	Auth *auth.Tokens
	// SessionTTL is a session's life (default DefaultSessionTTL).
	SessionTTL time.Duration
	// MaxSessions bounds the sessions held (default DefaultMaxSessions).
	MaxSessions int
	Clock       clock.Clock
	Log         *slog.Logger
}

// UI serves the page, its files and its sessions.
type UI struct {
	o        Options
	sessions *sessions
	files    map[string]*file
}

// file is an embedded file ready to serve: its bytes, gzipped bytes, type
// and entity tag (a hash of its content).
type file struct {
	data, gz []byte
	ctype    string
	etag     string
}

// New returns the page's handlers.
func New(o Options) *UI {
	o.Clock = obs.Clock(o.Clock)
	o.Log = obs.Log(o.Log)
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	u := &UI{o: o, sessions: newSessions(o.Clock, o.SessionTTL, o.MaxSessions), files: map[string]*file{}}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(data)
		_ = zw.Close()
		f := &file{data: data, ctype: mime.TypeByExtension(path.Ext(p)), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		if gz.Len() < len(data) {
			f.gz = gz.Bytes()
		}
		if f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
		u.files[strings.TrimPrefix(p, "static/")] = f
		return nil
	})
	return u
}

// Register adds the page's routes to mux: GET / (the page), GET /ui/…
// (its files), GET /ui/session, POST /ui/login, POST /ui/logout.
func (u *UI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { u.serveFile(w, r, "index.html") })
	mux.HandleFunc("GET /ui/session", u.session)
	mux.HandleFunc("POST /ui/login", u.login)
	mux.HandleFunc("POST /ui/logout", u.logout)
	mux.HandleFunc("GET /ui/{file...}", func(w http.ResponseWriter, r *http.Request) { u.serveFile(w, r, r.PathValue("file")) })
}

func (u *UI) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := u.files[name]
	if !ok || name == "index.html" && r.URL.Path != "/" {
		writeError(w, errcode.New(errcode.NotFound, "no file %s", r.URL.Path))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	// Revalidated every time (a 304 costs a round trip, no body): the
	// files change with the binary and carry no version in their names.
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.data
	if f.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); enc == "gzip" {
			return true
		}
	}
	return false
}

// SessionInfo is the body of GET /ui/session.
type SessionInfo struct {
	// AuthRequired: the server has tokens; the page must log in.
	AuthRequired bool `json:"auth_required"`
	// Subject is the session's subject ("" when not logged in).
	Subject string `json:"subject,omitempty"`
	// Expires is when the session ends.
	Expires *time.Time `json:"expires,omitempty"`
}

func (u *UI) session(w http.ResponseWriter, r *http.Request) {
	info := SessionInfo{AuthRequired: u.o.Auth != nil}
	if subject, ok := u.Subject(r); ok {
		info.Subject = subject
	}
	writeJSON(w, http.StatusOK, info)
}

// LoginRequest is the JSON body of POST /ui/login.
type LoginRequest struct {
	Token string `json:"token"`
}

// login trades a token (in the body, never the URL) for a session cookie.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if u.o.Auth == nil {
		writeError(w, errcode.New(errcode.InvalidArgument, "this server has no tokens: nothing to log in to"))
		return
	}
	var req LoginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&req); err != nil {
		writeError(w, errcode.New(errcode.InvalidArgument, "the body is not a JSON login request"))
		return
	}
	subject, ok := u.o.Auth.Subject(strings.TrimSpace(req.Token))
	if !ok {
		writeError(w, errcode.New(errcode.Unauthorized, "the token is not valid"))
		return
	}
	id, end := u.sessions.start(subject)
	http.SetCookie(w, cookie(r, id, u.o.SessionTTL))
	u.o.Log.Info("session started", "subject", subject, "expires", end)
	writeJSON(w, http.StatusOK, SessionInfo{AuthRequired: true, Subject: subject, Expires: &end})
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if subject, ok := u.sessions.subject(c.Value); ok {
			u.o.Log.Info("session ended", "subject", subject)
		}
		u.sessions.end(c.Value)
	}
	http.SetCookie(w, cookie(r, "", 0))
	w.WriteHeader(http.StatusNoContent)
}

// Subject returns the subject of the request's session cookie, if it holds
// a live session.
func (u *UI) Subject(r *http.Request) (string, bool) {
	if u.o.Auth == nil {
		return "", false
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", false
	}
	return u.sessions.subject(c.Value)
}

// CheckPageHeader refuses a cookie-authenticated request that changes
// something without PageHeader (forbidden).
func CheckPageHeader(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get(PageHeader) == "" {
		return errcode.New(errcode.Forbidden, "a request that changes something needs the %s header when authenticated by the session cookie", PageHeader)
	}
	return nil
}

// Protect wraps the whole server: every response carries the security
// headers, and a browser's request that changes something from another
// origin is refused (forbidden) before it reaches a handler — net/http's
// CrossOriginProtection (Sec-Fetch-Site, else Origin against Host).
// Clients that are not browsers send neither header and pass.
func (u *UI) Protect(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.o.Log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		writeError(w, errcode.New(errcode.Forbidden, "a cross-origin request from a browser cannot change anything here"))
	}))
	guarded := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		guarded.ServeHTTP(w, r)
	})
}

// statuses are the few codes this package answers with itself.
var statuses = map[errcode.Code]int{
	errcode.InvalidArgument: http.StatusBadRequest,
	errcode.Unauthorized:    http.StatusUnauthorized,
	errcode.Forbidden:       http.StatusForbidden,
	errcode.NotFound:        http.StatusNotFound,
}

// ErrorBody is the API's error shape ({"error":{"code","message"}}).
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	code := errcode.Of(err)
	var b ErrorBody
	b.Error.Code, b.Error.Message = string(code), errcode.Message(err)
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
