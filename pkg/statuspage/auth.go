package statuspage

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

const (
	cookieName = "tedee2mqtt_session"
	csrfHeader = "X-CSRF-Token"
	sessionTTL = 12 * time.Hour
	// maxSessions bounds the sessions remembered; signing in beyond it forgets the oldest.
	maxSessions = 64
	// A source gets maxFailures wrong passwords per failureWindow; all sources together
	// maxGlobalFailures, so that guessing from many addresses is as slow.
	maxFailures       = 5
	maxGlobalFailures = 20
	failureWindow     = 5 * time.Minute
	// maxSources bounds the addresses whose failures are remembered.
	maxSources = 1024
)

// auth holds the password's digest, the sessions and the wrong-password counts.
type auth struct {
	digest [sha256.Size]byte

	mu       sync.Mutex
	sessions map[[sha256.Size]byte]*session // by the digest of the cookie's value
	failures map[string]*failures           // by source address
	global   failures
}

type session struct {
	csrf    string
	expires time.Time
}

type failures struct {
	count int
	since time.Time
}

func newAuth(password string) *auth {
	return &auth{digest: sha256.Sum256([]byte(password)), sessions: map[[sha256.Size]byte]*session{},
		failures: map[string]*failures{}}
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// lookup returns the request's session, if it has a live one.
func (a *auth) lookup(r *http.Request, now time.Time) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(ck.Value))
	a.mu.Lock()
	defer a.mu.Unlock()
	sess, ok := a.sessions[key]
	if !ok {
		return nil
	}
	if now.After(sess.expires) {
		delete(a.sessions, key)
		return nil
	}
	return sess
}

// limited reports whether source has guessed too often; it returns how long until it may again.
func (a *auth) limited(source string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range []*failures{a.failures[source], &a.global} {
		limit := maxFailures
		if f == &a.global {
			limit = maxGlobalFailures
		}
		if f != nil && f.count >= limit && now.Sub(f.since) < failureWindow {
			return failureWindow - now.Sub(f.since), true
		}
	}
	return 0, false
}

func (a *auth) fail(source string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.failures[source]; !ok && len(a.failures) >= maxSources {
		for k, f := range a.failures {
			if now.Sub(f.since) >= failureWindow {
				delete(a.failures, k)
			}
		}
		if len(a.failures) >= maxSources {
			source = "" // all the rest share one count: the global limit still applies
		}
	}
	for _, f := range []*failures{a.failures[source], &a.global} {
		if f == nil {
			f = &failures{}
			a.failures[source] = f
		}
		if now.Sub(f.since) >= failureWindow {
			f.count, f.since = 0, now
		}
		f.count++
	}
}

// start creates a session and returns the cookie's value and the session.
func (a *auth) start(now time.Time) (string, *session) {
	value := randomToken()
	sess := &session{csrf: randomToken(), expires: now.Add(sessionTTL)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		var oldest [sha256.Size]byte
		var first time.Time
		for k, s := range a.sessions {
			if first.IsZero() || s.expires.Before(first) {
				oldest, first = k, s.expires
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[sha256.Sum256([]byte(value))] = sess
	return value, sess
}

func (a *auth) end(r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, sha256.Sum256([]byte(ck.Value)))
		a.mu.Unlock()
	}
}

// sameOrigin refuses a request another site made a browser send: the browser says so in
// Sec-Fetch-Site, and in Origin (checked against the Host asked for). A client that is no
// browser sends neither; it still needs the session and its CSRF token.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// source is the address a request came from, for the guessing limit: the connection's, never
// a header a client can set.
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// signedIn admits a state-changing request only from a signed-in page of this origin that
// sends its session's CSRF token.
func (s *Server) signedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.auth == nil {
			return jsonError(c, http.StatusForbidden, "read-only: set http.ui_password to enable the buttons")
		}
		r := c.Request()
		if !sameOrigin(r) {
			return jsonError(c, http.StatusForbidden, "cross-site request refused")
		}
		sess := s.auth.lookup(r, time.Now())
		if sess == nil {
			return jsonError(c, http.StatusUnauthorized, "not signed in")
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
			return jsonError(c, http.StatusForbidden, "missing or wrong CSRF token: reload the page")
		}
		return next(c)
	}
}

// maxLoginBytes bounds a sign-in request's body.
const maxLoginBytes = 1024

func (s *Server) login(c echo.Context) error {
	if s.auth == nil {
		return jsonError(c, http.StatusNotFound, "no password is configured: the page is read-only")
	}
	r := c.Request()
	// A sign-in from another site would sign the browser in to a session of the attacker's
	// choosing (login CSRF); it is refused like any other cross-site request.
	if !sameOrigin(r) {
		return jsonError(c, http.StatusForbidden, "cross-site request refused")
	}
	now := time.Now()
	from := source(r)
	if wait, limited := s.auth.limited(from, now); limited {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return jsonError(c, http.StatusTooManyRequests, "too many wrong passwords: try again later")
	}
	var body struct {
		Password string `json:"password"`
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxLoginBytes+1))
	if err != nil || len(data) > maxLoginBytes || json.Unmarshal(data, &body) != nil {
		return jsonError(c, http.StatusBadRequest, `send {"password": "..."}`)
	}
	// Both sides hashed first: the comparison takes as long whatever the length guessed.
	sum := sha256.Sum256([]byte(body.Password))
	if subtle.ConstantTimeCompare(sum[:], s.auth.digest[:]) != 1 {
		s.auth.fail(from, now)
		s.log.Warn("wrong status page password", zap.String("remote", from))
		return jsonError(c, http.StatusUnauthorized, "wrong password")
	}
	value, sess := s.auth.start(now)
	c.SetCookie(&http.Cookie{Name: cookieName, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
	s.log.Info("signed in to the status page", zap.String("remote", from))
	return c.JSON(http.StatusOK, sessionView{Controls: true, SignedIn: true, CSRF: sess.csrf})
}

func (s *Server) logout(c echo.Context) error {
	s.auth.end(c.Request())
	c.SetCookie(&http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil, MaxAge: -1})
	return c.JSON(http.StatusOK, sessionView{Controls: true})
}
