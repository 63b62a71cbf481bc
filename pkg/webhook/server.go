// Package webhook is the HTTP adapter (echo v4): it receives Tedee Bridge webhooks in their three
// delivery formats, authenticates and decodes them, and hands the events to an EventHandler. It
// also serves the health endpoints and, when given a handler, /metrics.
package webhook

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// DefaultBridge is the bridge name used for webhooks to /webhook when no bridge is configured.
const DefaultBridge = "default"

// shutdownTimeout bounds how long Run waits for requests in flight once asked to stop.
const shutdownTimeout = 10 * time.Second

// DefaultMaxConcurrent is Options.MaxConcurrent when it is 0.
const DefaultMaxConcurrent = 256

// Defaults of Options.MaxConnsPerIP and Options.MaxConns. One source gets a quarter of the
// webhook slots at most, so that its slow clients leave the rest to the bridges.
const (
	DefaultMaxConnsPerIP = 64
	DefaultMaxConns      = 1024
)

// EventHandler receives every decoded event and says what became of it. Every outcome is
// accepted (204); an error is a failure: state.ErrTooManyLocks is a 503, anything else a 500.
type EventHandler interface {
	HandleEvent(ctx context.Context, bridge string, ev tedee.Event) (state.Outcome, error)
}

// Options configures the server.
type Options struct {
	// CloudPathSecret, when set with Cloud, enables POST /webhook/cloud/<CloudPathSecret>.
	CloudPathSecret string
	Cloud           CloudHandler
	Listen          string
	Secret          string // when set, webhooks need "Authorization: Bearer <Secret>"
	// BridgeSecrets, per bridge name, replaces Secret for that bridge's route: the secret its
	// self-registered callback carries. A bridge not in it uses Secret.
	BridgeSecrets map[string]string
	MaxBodyBytes  int64    // larger bodies get 413
	Bridges       []string // names accepted in /webhook/<name>; empty: only DefaultBridge
	// Ready reports whether the service can deliver (the MQTT connection is up), for /readyz.
	Ready func() bool
	// Metrics, when set, is served on GET /metrics (without authentication).
	Metrics http.Handler
	// Extra, when set, adds routes of its own (the status page: /, /api/…). They are outside
	// MaxConcurrent, which is the webhooks' alone, and bound their own long-lived requests.
	Extra func(*echo.Echo)
	// Observer, when set, is told the outcome of every webhook request. When it also implements
	// PanicObserver, it is told of every panic recovered while serving a request; when it
	// implements ConnObserver, of every connection refused over a limit.
	Observer Observer
	// MaxConnsPerIP caps the connections open at once from one source address (0:
	// DefaultMaxConnsPerIP), and MaxConns those open in all (0: DefaultMaxConns); a connection
	// over either is never served: it is answered 503 and closed within a fraction of a second.
	MaxConnsPerIP, MaxConns int
	// MaxConcurrent caps the webhook requests served at once (0: DefaultMaxConcurrent). A webhook
	// beyond it is answered 503 at once, never queued. /healthz, /readyz and /metrics are exempt,
	// so that a flood of webhooks does not make a health check fail and the service restart.
	MaxConcurrent int
}

// PanicObserver is told of every panic recovered while serving a request. No input should ever
// cause one: the count is for alerting on bugs.
type PanicObserver interface {
	HTTPPanic()
}

// Observer is told the outcome of every webhook request. source is SourceBridge or SourceCloud; event is the
// event name when it is a documented bridge event, EventOther for any other name, EventUnknown
// when the request was refused before decoding and EventInvalid when it did not decode; outcome
// is one of the Outcome constants. The values are bounded, so they may be used as metric labels.
type Observer interface {
	Webhook(source, event, outcome string)
}

// Observer values.
const (
	SourceBridge = "bridge"
	SourceCloud  = "cloud"

	EventUnknown = "unknown"
	EventInvalid = "invalid"
	EventOther   = "other"

	OutcomeApplied       = string(state.Applied)      // handled and published
	OutcomeStale         = string(state.Stale)        // older than what was applied: dropped (204)
	OutcomeUnknownEvent  = string(state.UnknownEvent) // not a documented event: ignored (204)
	OutcomeInvalid       = "invalid"                  // malformed: 400 (or a POST to a path: 404)
	OutcomeUnauthorized  = "unauthorized"             // missing or wrong secret: 401; sent by a web browser: 403
	OutcomeUnknownBridge = "unknown_bridge"           // 404
	OutcomeTooLarge      = "too_large"                // 413
	OutcomeError         = "error"                    // too many locks (503) or the handler failed (500)
	OutcomeDuplicate     = string(state.Duplicate)    // cloud: a copy of a webhook already received (204)
	OutcomeUnmapped      = string(state.Unmapped)     // cloud: no lock serial known for the device id (204)
	OutcomeBusy          = "busy"                     // over Options.MaxConcurrent: 503 at once
)

// CloudHandler receives every decoded Tedee Cloud webhook, as EventHandler does bridge webhooks.
type CloudHandler interface {
	HandleCloudEvent(ctx context.Context, ev tedee.CloudEvent, idempotencyKey string) (state.Outcome, error)
}

// requestIDPattern is what an X-Request-Id sent by a client must look like to be kept (and
// logged); anything else is replaced by a generated id.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Server serves the webhook and health endpoints.
type Server struct {
	opts    Options
	bridges map[string]bool
	handler EventHandler
	log     *zap.Logger
	ln      net.Listener
	http    *http.Server
	// slots holds a token per webhook request being served (the MaxConcurrent cap).
	slots chan struct{}
	// secrets holds the digest of the secret each bridge route requires, as sameSecret compares
	// them; a bridge absent from it requires none. secret is Options.Secret's, asked of a request
	// to an unknown bridge; cloudSecret is Options.CloudPathSecret's.
	secrets             map[string]*[sha256.Size]byte
	secret, cloudSecret [sha256.Size]byte
	anySecret           bool // some bridge route requires a secret
	refusals            refusalLog
}

// New binds the listener at once, so that a port in use is reported at startup and tests can
// listen on port 0 and ask Addr.
func New(opts Options, handler EventHandler, log *zap.Logger) (*Server, error) {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.MaxConnsPerIP <= 0 {
		opts.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	s := &Server{opts: opts, bridges: map[string]bool{}, handler: handler, log: log,
		slots: make(chan struct{}, opts.MaxConcurrent)}
	for _, name := range opts.Bridges {
		s.bridges[name] = true
	}
	if len(opts.Bridges) == 0 {
		s.bridges[DefaultBridge] = true
	}
	s.secret = sha256.Sum256([]byte(opts.Secret))
	s.cloudSecret = sha256.Sum256([]byte(opts.CloudPathSecret))
	s.secrets = map[string]*[sha256.Size]byte{}
	var open []string
	for name := range s.bridges {
		secret, own := opts.BridgeSecrets[name]
		if !own {
			secret = opts.Secret
		}
		if secret == "" {
			open = append(open, name)
			continue
		}
		sum := sha256.Sum256([]byte(secret))
		s.secrets[name], s.anySecret = &sum, true
	}
	if len(open) > 0 {
		slices.Sort(open)
		log.Warn("webhooks to these bridges' routes are accepted without a secret: anyone who can reach the port "+
			"(any host on the network, or a web page a user on it opens) can forge lock states, invent locks and "+
			"remove them; set http.secret and register the callback with it, or let tedee2mqtt register it (host and public_url)",
			zap.Strings("bridges", open))
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// Every request gets an id, answered in X-Request-Id and logged with every line about it. A
	// proxy's id is kept when it looks like one; a client cannot put arbitrary text in the logs.
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if id := c.Request().Header.Get(echo.HeaderXRequestID); id != "" && !requestIDPattern.MatchString(id) {
				c.Request().Header.Del(echo.HeaderXRequestID)
			}
			return next(c)
		}
	})
	e.Use(middleware.RequestID())
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		// Its lines are debug: below that level it would time and describe every request for
		// nothing (a few µs a webhook).
		Skipper:   func(echo.Context) bool { return !log.Core().Enabled(zap.DebugLevel) },
		LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true, LogRemoteIP: true, LogRequestID: true,
		LogValuesFunc: func(_ echo.Context, v middleware.RequestLoggerValues) error {
			// The path only: a GET callback's query string is the event, which is logged below at
			// debug, and headers (Authorization) are never logged.
			log.Debug("request", zap.String("method", v.Method), zap.String("path", s.logPath(v.URIPath)),
				zap.Int("status", v.Status), zap.Duration("latency", v.Latency), zap.String("remote", v.RemoteIP),
				zap.String("request_id", v.RequestID))
			return nil
		},
	}))
	// Inside the request logger, so that a recovered panic is logged with its 500.
	e.Use(s.recoverPanic)
	for _, path := range []string{"/webhook", "/webhook/*"} {
		e.GET(path, s.webhook, s.limitConcurrency)
		e.POST(path, s.webhook, s.limitConcurrency)
	}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	if opts.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(opts.Metrics))
	}
	if opts.Extra != nil {
		opts.Extra(e)
	}

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	conns, _ := opts.Observer.(ConnObserver)
	s.ln = newLimitedListener(ln, opts.MaxConnsPerIP, opts.MaxConns, conns, log)
	s.http = &http.Server{
		Handler: e,
		// A slow or silent client must not hold a connection: bridges send small requests at once.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done, then stops accepting, lets requests in flight finish (bounded by
// shutdownTimeout) and returns.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// limitConcurrency answers 503 at once when MaxConcurrent webhook requests are already being
// served: a flood (or many slow bodies) costs a bounded number of goroutines and buffers, and
// a bridge retries a 503 later.
func (s *Server) limitConcurrency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			return next(c)
		default:
		}
		s.observe(sourceOf(c.Request().URL.EscapedPath()), EventUnknown, OutcomeBusy)
		c.Response().Header().Set("Retry-After", "1")
		return jsonError(c, http.StatusServiceUnavailable, "too many concurrent requests")
	}
}

// recoverPanic replaces echo's Recover: a panic is a bug, so it is logged with its stack and
// counted, and the client gets a 500 with a JSON error. http.ErrAbortHandler is passed on: it
// is how a handler asks net/http to abort the response.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler { //nolint:errorlint // compared as echo and net/http do
				panic(r)
			}
			s.log.Error("panic while serving a request", zap.Any("panic", r),
				zap.String("method", c.Request().Method), zap.String("path", s.logPath(c.Request().URL.EscapedPath())),
				zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				zap.ByteString("stack", debug.Stack()))
			if p, ok := s.opts.Observer.(PanicObserver); ok {
				p.HTTPPanic()
			}
			err = nil
			if !c.Response().Committed {
				err = jsonError(c, http.StatusInternalServerError, "internal error")
			}
		}()
		return next(c)
	}
}

func (s *Server) readyz(c echo.Context) error {
	if s.opts.Ready != nil && !s.opts.Ready() {
		return c.String(http.StatusServiceUnavailable, "mqtt not connected\n")
	}
	return c.String(http.StatusOK, "ok\n")
}

// handleError replaces echo's default so that every error body is {"error": "..."}.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status, msg = he.Code, strings.ToLower(fmt.Sprint(he.Message))
	} else {
		s.log.Error("request failed", zap.Error(err))
	}
	if err := jsonError(c, status, msg); err != nil {
		s.log.Debug("write error response", zap.Error(err))
	}
}
