// Package statuspage serves the status page on the webhook server's port: one embedded page
// (GET /), its JSON (GET /api/state) and a Server-Sent Events stream of changes (GET
// /api/events). It follows the state owner (package keeper) through Changed and reads its
// views; it never reads MQTT back. With a password, signed-in users get lock, unlock and open
// buttons that go through the same command router as MQTT.
package statuspage

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

//go:embed assets
var assets embed.FS

// StateReader is what the page needs of the state's owner (package keeper).
type StateReader interface {
	Locks() []state.LockJSON
	Bridges() []state.BridgeJSON
	Changed() <-chan struct{}
}

// Commander runs a lock command with the same rules as MQTT (controller.Router).
type Commander interface {
	Submit(ctx context.Context, serial, command string) (controller.Result, error)
}

// BridgeHealth is what the page shows of a bridge driven through its API.
type BridgeHealth struct {
	Bridge    string     `json:"-"`
	API       bool       `json:"api"`                  // the last sync reached the Bridge API
	LastSync  *time.Time `json:"last_sync"`            // null before the first successful sync
	LastError string     `json:"last_error,omitempty"` // why the last sync or callback check failed
	Callback  string     `json:"callback"`             // registered, failed, unchecked or not_configured
}

// Defaults of the Options left zero.
const (
	DefaultMaxClients = 16
	DefaultHeartbeat  = 15 * time.Second
)

// Options configure the status page.
type Options struct {
	State StateReader
	// Health, when set, reports the bridges driven through their API.
	Health func() []BridgeHealth
	// Bridges are the configured bridge names, listed even before they report anything.
	Bridges []string
	// Commands, with Password, enables the buttons; without either the page is read-only.
	Commands Commander
	// Allowed, when set, says which commands the page offers for a lock (the service: those
	// locks.<serial>.commands allows, and open only for a lock that can pull the latch, as Home
	// Assistant is offered). It only hides buttons: the router decides what runs.
	Allowed func(serial, command string) bool
	// Password is http.ui_password: empty leaves the page read-only.
	Password string
	Version  string
	// MaxClients bounds the /api/events streams open at once (0: DefaultMaxClients); more are
	// answered 503. Each holds a connection for as long as a page is open.
	MaxClients int
	// Heartbeat is how often an idle stream is written to (0: DefaultHeartbeat), so that proxies
	// keep it open and a page notices a dead server.
	Heartbeat time.Duration
}

// Server serves the status page.
type Server struct {
	opts    Options
	log     *zap.Logger
	clients chan struct{} // a token per open /api/events stream
	auth    *auth         // nil when read-only
	// done is closed when Run's context ends: every stream then ends, so that the server's
	// graceful shutdown (which waits for requests in flight) is not held by open pages.
	done chan struct{}
}

// New returns the status page's server; Register adds its routes, Run ends its streams.
func New(opts Options, log *zap.Logger) *Server {
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	s := &Server{opts: opts, log: log, clients: make(chan struct{}, opts.MaxClients), done: make(chan struct{})}
	if opts.Password != "" && opts.Commands != nil {
		s.auth = newAuth(opts.Password)
	}
	return s
}

// Run waits for ctx to end, then ends every stream and refuses new ones. Call it once, with
// the context the web server stops on.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	close(s.done)
	return nil
}

// Register adds the page's routes to e. They are outside the webhook routes' concurrency cap:
// a page's long-lived stream must never take a bridge's webhook slot; MaxClients bounds them.
func (s *Server) Register(e *echo.Echo) {
	e.GET("/", s.asset("assets/index.html", "text/html; charset=utf-8"), s.headers)
	e.GET("/app.js", s.asset("assets/app.js", "text/javascript; charset=utf-8"), s.headers)
	e.GET("/app.css", s.asset("assets/app.css", "text/css; charset=utf-8"), s.headers)
	e.GET("/api/state", s.state, s.headers)
	e.GET("/api/events", s.events, s.headers)
	e.GET("/api/session", s.session, s.headers)
	e.POST("/api/login", s.login, s.headers)
	e.POST("/api/logout", s.logout, s.headers, s.signedIn)
	e.POST("/api/locks/:serial/:command", s.command, s.headers, s.signedIn)
}

// headers keeps the page and its API to themselves: only this origin's scripts and styles run,
// no other site may frame it, and nothing is cached (the state, the session).
func (s *Server) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

func (s *Server) asset(name, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		data, err := assets.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", name, err)
		}
		return c.Blob(http.StatusOK, contentType, data)
	}
}

// view is GET /api/state and each state event: what the page shows, and nothing else (no
// secret, token or password is ever part of it).
type view struct {
	Version string       `json:"version"`
	Bridges []bridgeView `json:"bridges"`
	Locks   []lockView   `json:"locks"`
}

type bridgeView struct {
	Name      string        `json:"name"`
	TedeeName *string       `json:"tedee_name"`
	Serial    *string       `json:"serial"`
	Firmware  *string       `json:"firmware"`
	Connected *bool         `json:"connected"`
	UpdatedAt string        `json:"updated_at,omitempty"`
	Health    *BridgeHealth `json:"health"` // null: webhooks only, no Bridge API
}

type lockView struct {
	Serial    string  `json:"serial"`
	Name      *string `json:"name"`
	Model     *string `json:"model"`
	State     *string `json:"state"`
	Jammed    *bool   `json:"jammed"`
	Door      *string `json:"door"`
	Battery   *int    `json:"battery"`
	Charging  *bool   `json:"charging"`
	Connected *bool   `json:"connected"`
	Bridge    *string `json:"bridge"`
	UpdatedAt string  `json:"updated_at"` // when tedee2mqtt last learned something of it
	Timestamp string  `json:"timestamp"`  // the newest event time applied
	// Who last moved it and how, with the Tedee Cloud API.
	LastUser   *string `json:"last_user,omitempty"`
	LastSource *string `json:"last_source,omitempty"`
	LastMoved  *string `json:"last_moved,omitempty"`
	// Commands are the buttons the page offers for it, once signed in.
	Commands []string `json:"commands"`
}

// snapshot builds the view from the owner's copies and the controllers' health.
func (s *Server) snapshot() view {
	v := view{Version: s.opts.Version, Bridges: []bridgeView{}, Locks: []lockView{}}
	health := map[string]BridgeHealth{}
	if s.opts.Health != nil {
		for _, h := range s.opts.Health() {
			health[h.Bridge] = h
		}
	}
	seen := map[string]bool{}
	add := func(b bridgeView) {
		if h, ok := health[b.Name]; ok {
			b.Health = &h
		}
		seen[b.Name] = true
		v.Bridges = append(v.Bridges, b)
	}
	for _, b := range s.opts.State.Bridges() {
		add(bridgeView{Name: b.Name, TedeeName: b.TedeeName, Serial: b.Serial, Firmware: b.Firmware,
			Connected: b.Connected, UpdatedAt: b.UpdatedAt})
	}
	// A configured bridge that has not reported yet (its API unreachable, no webhook so far) is
	// exactly the one a user needs to see.
	for _, name := range s.opts.Bridges {
		if !seen[name] {
			add(bridgeView{Name: name})
		}
	}
	for _, l := range s.opts.State.Locks() {
		v.Locks = append(v.Locks, lockView{Serial: l.Serial, Name: l.Name, Model: l.Model, State: l.State,
			Jammed: l.Jammed, Door: l.Door, Battery: l.Battery, Charging: l.Charging, Connected: l.Connected,
			Bridge: l.Bridge, UpdatedAt: l.UpdatedAt, Timestamp: l.Timestamp, Commands: s.commands(l.Serial),
			LastUser: l.LastUser, LastSource: l.LastSource, LastMoved: l.LastMoved})
	}
	return v
}

// commands are the page's commands the lock accepts.
func (s *Server) commands(serial string) []string {
	out := []string{}
	for _, cmd := range []string{controller.CommandLock, controller.CommandUnlock, controller.CommandOpen} {
		if s.opts.Allowed == nil || s.opts.Allowed(serial, cmd) {
			out = append(out, cmd)
		}
	}
	return out
}

func (s *Server) state(c echo.Context) error {
	return c.JSON(http.StatusOK, s.snapshot())
}

// sessionView is GET /api/session: whether the page may show buttons, and the CSRF token the
// signed-in page sends back with each command (useless without the HttpOnly session cookie).
type sessionView struct {
	Controls bool   `json:"controls"` // a password is configured: signing in enables the buttons
	SignedIn bool   `json:"signed_in"`
	CSRF     string `json:"csrf,omitempty"`
}

func (s *Server) session(c echo.Context) error {
	if s.auth == nil {
		return c.JSON(http.StatusOK, sessionView{})
	}
	sess := s.auth.lookup(c.Request(), time.Now())
	if sess == nil {
		return c.JSON(http.StatusOK, sessionView{Controls: true})
	}
	return c.JSON(http.StatusOK, sessionView{Controls: true, SignedIn: true, CSRF: sess.csrf})
}

// commandTimeout bounds how long a button's request waits for its result: the command's own
// timeout (commands.timeout, 30 s by default) plus its time in the queue.
const commandTimeout = 60 * time.Second

func (s *Server) command(c echo.Context) error {
	command := c.Param("command")
	switch command {
	case controller.CommandLock, controller.CommandUnlock, controller.CommandOpen:
	default:
		return jsonError(c, http.StatusNotFound, "unknown command: lock, unlock or open")
	}
	// The server's write timeout is for webhooks; a command may take longer to confirm.
	rc := http.NewResponseController(c.Response())
	if err := rc.SetWriteDeadline(time.Now().Add(commandTimeout + 5*time.Second)); err != nil {
		s.log.Debug("extend write deadline", zap.Error(err))
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), commandTimeout)
	defer cancel()
	serial := c.Param("serial")
	res, err := s.opts.Commands.Submit(ctx, serial, command)
	switch {
	case errors.Is(err, controller.ErrInvalidSerial):
		return jsonError(c, http.StatusBadRequest, "not a lock serial")
	case err != nil:
		return jsonError(c, http.StatusGatewayTimeout, "no result in time; the command may still complete")
	}
	s.log.Info("command from the status page", zap.String("serial", serial), zap.String("command", command),
		zap.Bool("ok", res.OK), zap.String("remote", source(c.Request())))
	return c.JSON(http.StatusOK, res)
}

func jsonError(c echo.Context, status int, msg string) error {
	return c.JSON(status, map[string]string{"error": msg})
}

// marshal is the view as one line of JSON, as an event's data must be.
func marshal(v view) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return b, nil
}
