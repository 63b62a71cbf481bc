// Package webhook is the HTTP adapter (echo v4): it receives Tedee Bridge webhooks in their three
// delivery formats, authenticates and decodes them, and hands the events to an EventHandler. It
// also serves the health endpoints and, when given a handler, /metrics.
package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
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
	Secret          string   // when set, webhooks need "Authorization: Bearer <Secret>"
	MaxBodyBytes    int64    // larger bodies get 413
	Bridges         []string // names accepted in /webhook/<name>; empty: only DefaultBridge
	// Ready reports whether the service can deliver (the MQTT connection is up), for /readyz.
	Ready func() bool
	// Metrics, when set, is served on GET /metrics (without authentication).
	Metrics http.Handler
	// Observer, when set, is told the outcome of every webhook request. When it also implements
	// PanicObserver, it is told of every panic recovered while serving a request.
	Observer Observer
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
	OutcomeUnauthorized  = "unauthorized"             // missing or wrong secret: 401
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
	secret  [sha256.Size]byte
	handler EventHandler
	log     *zap.Logger
	ln      net.Listener
	http    *http.Server
	// slots holds a token per webhook request being served (the MaxConcurrent cap).
	slots chan struct{}
}

// New binds the listener at once, so that a port in use is reported at startup and tests can
// listen on port 0 and ask Addr.
func New(opts Options, handler EventHandler, log *zap.Logger) (*Server, error) {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	s := &Server{opts: opts, bridges: map[string]bool{}, handler: handler, log: log,
		slots: make(chan struct{}, opts.MaxConcurrent)}
	for _, name := range opts.Bridges {
		s.bridges[name] = true
	}
	if len(opts.Bridges) == 0 {
		s.bridges[DefaultBridge] = true
	}
	// Comparing fixed-size digests keeps the comparison constant-time whatever the lengths.
	s.secret = sha256.Sum256([]byte(opts.Secret))

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
		LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true, LogRemoteIP: true, LogRequestID: true,
		LogValuesFunc: func(_ echo.Context, v middleware.RequestLoggerValues) error {
			// The path only: a GET callback's query string is the event, which is logged below at
			// debug, and headers (Authorization) are never logged.
			log.Debug("request", zap.String("method", v.Method), zap.String("path", logPath(v.URIPath)),
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

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	s.ln = ln
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
		source := SourceBridge
		if isCloudPath(c.Request().URL.EscapedPath()) {
			source = SourceCloud
		}
		s.observeFrom(source, EventUnknown, OutcomeBusy)
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
				zap.String("method", c.Request().Method), zap.String("path", logPath(c.Request().URL.EscapedPath())),
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

// webhook serves every bridge delivery format:
//
//	POST /webhook/<bridge>                       JSON body
//	GET  /webhook/<bridge>?event=…&timestamp=…   query string
//	GET  /webhook/<bridge>/event=…/timestamp=…   path segments (GET+NO_PARAMS)
//
// and the same without /<bridge> for the default bridge when none is configured.
func (s *Server) webhook(c echo.Context) error {
	req := c.Request()
	// Cloud webhooks authenticate by their path secret, not the bridges' bearer token.
	if isCloudPath(req.URL.EscapedPath()) {
		return s.cloudWebhook(c, strings.Trim(strings.TrimPrefix(req.URL.EscapedPath(), cloudPrefix), "/"))
	}
	// Counted once whatever the way out (a panic too, as an error).
	event, outcome := EventUnknown, OutcomeError
	defer func() { s.observe(event, outcome) }()
	log := s.log.With(zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
	// The secret is checked before anything else so that a stranger learns nothing, not even
	// which bridge names exist.
	if s.opts.Secret != "" && !s.authorized(req.Header.Get("Authorization")) {
		outcome = OutcomeUnauthorized
		return jsonError(c, http.StatusUnauthorized, "missing or wrong bearer token")
	}
	bridge, tail := s.route(req.URL.EscapedPath())
	if !s.bridges[bridge] {
		outcome = OutcomeUnknownBridge
		return jsonError(c, http.StatusNotFound, fmt.Sprintf("unknown bridge %s", strconv.Quote(truncate(bridge))))
	}
	var ev tedee.Event
	var err error
	switch {
	case req.Method == http.MethodPost && tail == "":
		body, ok, answered := s.readBody(c, &outcome)
		if !ok {
			return answered
		}
		ev, err = tedee.DecodeJSON(body)
	case req.Method == http.MethodPost:
		event, outcome = EventInvalid, OutcomeInvalid
		return jsonError(c, http.StatusNotFound, "POST webhooks go to /webhook/<bridge> with a JSON body")
	case tail != "":
		ev, err = tedee.DecodePath(tail)
	default:
		ev, err = tedee.DecodeQuery(req.URL.RawQuery)
	}
	if err != nil {
		event, outcome = EventInvalid, OutcomeInvalid
		log.Info("rejected malformed webhook", zap.String("bridge", bridge), zap.Error(err))
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	event = EventOther
	if ev.Known() {
		event = ev.Name
	}
	log = log.With(zap.String("bridge", bridge), zap.String("event", ev.Name), zap.String("serial", ev.Serial))
	var resp error
	verdict, err := s.handler.HandleEvent(req.Context(), bridge, ev)
	outcome, resp = answer(c, log, verdict, err, ev.Timestamp)
	return resp
}

func (s *Server) observe(event, outcome string) { s.observeFrom(SourceBridge, event, outcome) }

func (s *Server) observeFrom(source, event, outcome string) {
	if s.opts.Observer != nil {
		s.opts.Observer.Webhook(source, event, outcome)
	}
}

// cloudPrefix is the route of Tedee Cloud webhooks; "cloud" is reserved as a bridge name.
const cloudPrefix = "/webhook/cloud"

// isCloudPath reports whether an escaped path is the cloud route's.
func isCloudPath(escapedPath string) bool {
	rest, ok := strings.CutPrefix(escapedPath, cloudPrefix)
	return ok && (rest == "" || rest[0] == '/')
}

// cloudWebhook serves POST /webhook/cloud/<path secret>. A wrong or missing secret, or the cloud
// route being disabled, answers 404 so that a stranger learns nothing.
func (s *Server) cloudWebhook(c echo.Context, secret string) error {
	req := c.Request()
	event, outcome := EventUnknown, OutcomeError
	defer func() { s.observeFrom(SourceCloud, event, outcome) }()
	log := s.log.With(zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)), zap.String("source", SourceCloud))
	if s.opts.Cloud == nil || s.opts.CloudPathSecret == "" || !equalSecret(secret, s.opts.CloudPathSecret) {
		outcome = OutcomeUnauthorized
		return jsonError(c, http.StatusNotFound, "not found")
	}
	if req.Method != http.MethodPost {
		event, outcome = EventInvalid, OutcomeInvalid
		return jsonError(c, http.StatusMethodNotAllowed, "cloud webhooks are POST requests")
	}
	body, ok, answered := s.readBody(c, &outcome)
	if !ok {
		return answered
	}
	ev, err := tedee.DecodeCloud(body)
	if err != nil {
		event, outcome = EventInvalid, OutcomeInvalid
		log.Info("rejected malformed cloud webhook", zap.Error(err))
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	event = EventOther
	if ev.KnownCloud() {
		event = ev.Name
	}
	key := req.Header.Get("Idempotency-Key")
	if len(key) > 128 {
		key = "" // not something the cloud sends; not worth remembering
	}
	log = log.With(zap.String("event", ev.Name), zap.Int64("device_id", ev.DeviceID))
	var resp error
	verdict, err := s.opts.Cloud.HandleCloudEvent(req.Context(), ev, key)
	outcome, resp = answer(c, log, verdict, err, ev.Timestamp)
	return resp
}

// equalSecret compares in constant time whatever the lengths.
func equalSecret(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// maxLoggedPath bounds the path in a log line: a GET+NO_PARAMS event fits, a hostile 16 KiB
// path does not fill the logs.
const maxLoggedPath = 512

// logPath is the request path as logged: the cloud route's path is its secret.
func logPath(path string) string {
	if strings.HasPrefix(path, cloudPrefix+"/") {
		return cloudPrefix + "/<secret>"
	}
	if len(path) > maxLoggedPath {
		return path[:maxLoggedPath] + "…"
	}
	return path
}

// route splits the escaped path after /webhook into the bridge name and the rest. A first segment
// with "=" is already a GET+NO_PARAMS pair: the request went to the bare /webhook.
func (s *Server) route(escapedPath string) (bridge, tail string) {
	rest := strings.TrimPrefix(escapedPath, "/webhook")
	first, after, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	if first == "" || strings.Contains(first, "=") {
		bridge, after = DefaultBridge, rest
	} else {
		bridge = first
	}
	// A trailing "/" (as in a callback URL typed with one) carries no pairs.
	if strings.Trim(after, "/") != "" {
		tail = "/" + strings.TrimPrefix(after, "/")
	}
	return bridge, tail
}

// answer turns the handlers' verdict on an event into the response and the outcome counted. What
// was received and understood is accepted (204) even when nothing is published, so the sender does
// not retry it.
func answer(c echo.Context, log *zap.Logger, verdict state.Outcome, err error, at time.Time) (string, error) {
	switch {
	case errors.Is(err, state.ErrTooManyLocks):
		log.Warn("refused event for a new lock", zap.Error(err))
		return OutcomeError, jsonError(c, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		log.Error("handle event", zap.Error(err))
		return OutcomeError, jsonError(c, http.StatusInternalServerError, "internal error")
	}
	switch verdict {
	case state.UnknownEvent:
		// Never published as if we knew what it meant.
		log.Info("ignored unknown event")
	case state.Stale:
		log.Info("dropped out-of-order event", zap.Time("event_time", at))
	case state.Duplicate:
		log.Debug("dropped duplicate cloud webhook")
	case state.Unmapped:
		log.Warn("cloud webhook for a device with no known serial; add it to cloud.devices")
	default:
		log.Debug("webhook applied", zap.Time("event_time", at))
		verdict = state.Applied
	}
	return string(verdict), c.NoContent(http.StatusNoContent)
}

// authorized checks "Authorization: Bearer <secret>"; the scheme is case-insensitive (RFC 7235).
func (s *Server) authorized(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], s.secret[:]) == 1
}

// readBody reads at most MaxBodyBytes; more is a 413, whether announced by Content-Length or not.
// When it cannot, it answers the request itself, sets outcome, and returns ok false with what the
// handler is to return.
func (s *Server) readBody(c echo.Context, outcome *string) (body []byte, ok bool, answered error) {
	req := c.Request()
	tooLarge := func() error {
		*outcome = OutcomeTooLarge
		return jsonError(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.opts.MaxBodyBytes))
	}
	if req.ContentLength > s.opts.MaxBodyBytes {
		return nil, false, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var over *http.MaxBytesError
		if errors.As(err, &over) {
			return nil, false, tooLarge()
		}
		*outcome = OutcomeInvalid
		return nil, false, jsonError(c, http.StatusBadRequest, fmt.Sprintf("read body: %v", err))
	}
	return body, true, nil
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

func jsonError(c echo.Context, status int, msg string) error {
	return c.JSON(status, map[string]string{"error": msg})
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
