package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/lector-ocr/lector/internal/clock"
)

// CookieName is the session cookie's name.
const CookieName = "lector_session"

// DefaultSessionTTL is how long a session lasts after its login: a working
// day, after which the page asks for the token again.
const DefaultSessionTTL = 12 * time.Hour

// DefaultMaxSessions bounds the sessions held at once; a login beyond it
// ends the session closest to its end.
const DefaultMaxSessions = 10000

// sessions maps the SHA-256 of a session id (32 random bytes, the cookie's
// value) to the subject that logged in and when the session ends. Only the
// hash is held, as for tokens; the sessions live in memory, so a restarted
// server asks for the token again.
type sessions struct {
	clock clock.Clock
	ttl   time.Duration
	max   int

	mu   sync.Mutex
	byID map[[32]byte]session
}

type session struct {
	subject string
	expires time.Time
}

func newSessions(c clock.Clock, ttl time.Duration, max int) *sessions {
	return &sessions{clock: c, ttl: ttl, max: max, byID: map[[32]byte]session{}}
}

// start makes a session for subject and returns its id (43 base64url
// characters) and its end.
func (s *sessions) start(subject string) (string, time.Time) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.clock.Now()
	end := now.Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID { // sweep: bounded by max, and logins are rare
		if !now.Before(v.expires) {
			delete(s.byID, k)
		}
	}
	if len(s.byID) >= s.max {
		var oldest [32]byte
		first := true
		for k, v := range s.byID {
			if first || v.expires.Before(s.byID[oldest].expires) {
				oldest, first = k, false
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[sha256.Sum256([]byte(id))] = session{subject: subject, expires: end}
	return id, end
}

// subject returns the subject of session id while it lasts.
func (s *sessions) subject(id string) (string, bool) {
	if id == "" {
		return "", false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[k]
	if !ok {
		return "", false
	}
	if !s.clock.Now().Before(v.expires) {
		delete(s.byID, k)
		return "", false
	}
	return v.subject, true
}

// end forgets session id.
func (s *sessions) end(id string) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	delete(s.byID, k)
	s.mu.Unlock()
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// cookie is the session cookie for id: HTTP-only (scripts cannot read it),
// SameSite=Strict (no other site's page sends it), Secure when the request
// came over TLS, for the whole server.
// An empty id clears the cookie.
func cookie(r *http.Request, id string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(ttl / time.Second)}
	if id == "" {
		c.MaxAge = -1
	}
	return c
}
