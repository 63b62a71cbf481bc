// Package tedeeapi is a client for the Tedee Bridge's local HTTP API (v1.0): bridge and lock
// details, lock operations and webhook (callback) registration. It authenticates with a plain or
// encrypted token, sends one request at a time at most once per second as Tedee asks, and retries
// what is worth retrying: reads on any failure, lock operations only when they certainly never
// reached the bridge, so that a door never moves twice for one command.
package tedeeapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Token modes, as chosen in the Tedee app.
const (
	ModeEncrypted = "encrypted"
	ModePlain     = "plain"
)

// Unlock modes (the spec's enum has no 1).
const (
	UnlockNormal      = 0
	UnlockForce       = 2
	UnlockWithoutPull = 3
	UnlockOrPull      = 4
)

// Observer is told about every request attempt (for metrics). status is 0 for a network error.
type Observer interface {
	ObserveBridgeRequest(bridge, endpoint string, status int, d time.Duration)
}

// Options configure a Client.
type Options struct {
	Bridge string // the bridge's name in tedee2mqtt, for logs and metrics
	// BaseURL is the bridge's address, e.g. "http://192.168.1.50" or "http://192.168.1.50:8080";
	// "/v1.0" is appended.
	BaseURL   string
	Token     string
	TokenMode string // ModeEncrypted (default) or ModePlain
	// MinInterval is the least time between the end of one request and the start of the next:
	// Tedee asks for at most one request per second, and counting from the end keeps the bridge
	// from ever seeing two closer than that, whatever the latency. Default 1s.
	MinInterval time.Duration
	// Attempts bounds the tries of one call. Reads and callback changes are retried on network
	// errors and 409 Busy; lock operations only on 409 Busy and on errors that happened before a
	// connection to the bridge existed. Default 3.
	Attempts int
	// Timeout bounds one attempt (and the caller's context bounds it further). Default 10s.
	Timeout    time.Duration
	HTTPClient *http.Client
	Observer   Observer
	Now        func() time.Time // default time.Now
}

// Client talks to one bridge. It is safe for concurrent use; requests are serialised.
type Client struct {
	opts Options
	log  *zap.Logger
	base string

	// turn is held (a value in it) while a call waits out the rate limit and sends an attempt,
	// so requests never overlap; it is let go while a call backs off before a retry. A channel
	// rather than a mutex so that waiting for it gives up with the caller's context or start-by
	// time, and waiters are served in arrival order.
	turn      chan struct{}
	lastEnd   time.Time // guarded by turn
	lastKeyMs int64     // guarded by turn; millisecond stamp of the last encrypted key, never repeated
}

// ErrAnswerLost means a lock operation was sent but no answer came back (the attempt timed out or
// the connection broke after the request was written): the bridge may or may not have executed
// it. It is never retried, since a retry could move the lock twice; read the lock instead.
var ErrAnswerLost = errors.New("the request was sent but the bridge's answer was lost")

// ErrNotStarted means a call could not be sent by its start-by time (see [StartBy]): it never
// reached the bridge.
var ErrNotStarted = errors.New("not sent: the bridge was busy with other requests past the start-by time")

type startByKey struct{}

// StartBy returns a context under which a call must send its first attempt by t, or fail with
// [ErrNotStarted] without sending anything. Commands use it so that one waiting behind other
// requests is refused rather than executed late. Retries after 409 Busy are not bound by it: the
// call has started, and its overall time is bounded by the context.
func StartBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, startByKey{}, t)
}

// retryPolicy says which failures of a call may be retried.
type retryPolicy int

const (
	// retryAll: reads and callback registration, which are harmless to repeat (a duplicate
	// callback is removed by the next check).
	retryAll retryPolicy = iota
	// retryUnsent: lock operations, retried only when they certainly did not arrive.
	retryUnsent
)

// New returns a client; it does not contact the bridge.
func New(opts Options, log *zap.Logger) *Client {
	if opts.MinInterval <= 0 {
		opts.MinInterval = time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenMode == "" {
		opts.TokenMode = ModeEncrypted
	}
	return &Client{opts: opts, log: log, base: opts.BaseURL + "/v1.0", turn: make(chan struct{}, 1)}
}

// Error is an error answer from the bridge.
type Error struct {
	Endpoint    string // e.g. "POST /lock/{id}/unlock"
	Status      int
	Code        int    // "error-code" of a 406, else 0
	Description string // "error-description"
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("bridge API %s: %d", e.Endpoint, e.Status)
	if e.Description != "" {
		msg += " " + e.Description
	}
	switch e.Status {
	case http.StatusUnauthorized:
		msg += " (token rejected: check the token and token_mode; in encrypted mode the token embeds this host's time, so check its clock, and a bridge that booted without internet may accept only the plain token)"
	case http.StatusForbidden:
		msg += " (invalid parameter)"
	case http.StatusNotFound:
		msg += " (no such lock or callback on this bridge)"
	case http.StatusMethodNotAllowed:
		msg += " (the lock is disconnected from the bridge)"
	case http.StatusNotAcceptable:
		msg += fmt.Sprintf(" (the lock refused the operation, BLE error code %d: it may be uncalibrated, already moving, or not set up for pulling)", e.Code)
	case http.StatusConflict:
		msg += " (the bridge is busy)"
	}
	return msg
}

// IsStatus reports whether err is a bridge answer with that status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// apiKey returns the value of the api_token header. In encrypted mode it is
// sha256(token + ms) + ms, with ms the current Unix time in milliseconds; the bridge processes
// each key once, so ms is forced to move forward even if the clock does not.
func (c *Client) apiKey() string {
	if c.opts.TokenMode == ModePlain {
		return c.opts.Token
	}
	ms := c.opts.Now().UnixMilli()
	if ms <= c.lastKeyMs {
		ms = c.lastKeyMs + 1
	}
	c.lastKeyMs = ms
	stamp := strconv.FormatInt(ms, 10)
	sum := sha256.Sum256([]byte(c.opts.Token + stamp))
	return hex.EncodeToString(sum[:]) + stamp
}

// EncryptedKey is the documented key derivation, exported for the fake bridge and tests.
func EncryptedKey(token string, ms int64) string {
	stamp := strconv.FormatInt(ms, 10)
	sum := sha256.Sum256([]byte(token + stamp))
	return hex.EncodeToString(sum[:]) + stamp
}

// call performs one API call: it waits for its turn and for MinInterval since the last request,
// then tries up to Attempts times, retrying only what policy allows. body, when not nil, is sent
// as JSON; out, when not nil, receives the JSON answer.
func (c *Client) call(ctx context.Context, policy retryPolicy, method, path, endpoint string, header http.Header, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode %s body: %w", endpoint, err)
		}
	}
	startBy, bounded := ctx.Value(startByKey{}).(time.Time)
	if err := c.acquire(ctx, startBy, bounded); err != nil {
		return fmt.Errorf("bridge API %s: %w", endpoint, err)
	}
	held := true
	defer func() {
		if held {
			<-c.turn
		}
	}()
	// Past startBy, or unable to send before it because of the rate limit: refuse now rather than
	// send late. (acquire may win the turn at the very moment its timer fires.)
	if bounded && (time.Now().After(startBy) || c.lastEnd.Add(c.opts.MinInterval).After(startBy)) {
		return fmt.Errorf("bridge API %s: %w", endpoint, ErrNotStarted)
	}
	var err error
	for attempt := 1; attempt <= c.opts.Attempts; attempt++ {
		if attempt > 1 {
			if err := c.acquire(ctx, time.Time{}, false); err != nil {
				return fmt.Errorf("bridge API %s: %w", endpoint, err)
			}
			held = true
		}
		if err = c.waitTurn(ctx); err != nil {
			return fmt.Errorf("bridge API %s: %w", endpoint, err)
		}
		var retry bool
		retry, err = c.attempt(ctx, policy, method, path, endpoint, header, payload, out)
		c.lastEnd = time.Now()
		if err == nil || !retry || attempt == c.opts.Attempts {
			break
		}
		c.log.Info("bridge API request failed, retrying", zap.String("endpoint", endpoint),
			zap.Int("attempt", attempt), zap.Error(err))
		// Back off beyond the rate limit: 1s, 2s, … on top of MinInterval. Other calls (another
		// lock's command) may use the bridge meanwhile: a busy bridge or an unreachable one is no
		// reason to hold them up.
		<-c.turn
		held = false
		if err := sleep(ctx, time.Duration(attempt)*time.Second); err != nil {
			return fmt.Errorf("bridge API %s: back off before retrying: %w", endpoint, err)
		}
	}
	return err
}

// acquire waits for the client's turn, until ctx ends or, when bounded, until startBy.
func (c *Client) acquire(ctx context.Context, startBy time.Time, bounded bool) error {
	var deadline <-chan time.Time
	if bounded {
		t := time.NewTimer(time.Until(startBy))
		defer t.Stop()
		deadline = t.C
	}
	select {
	case c.turn <- struct{}{}:
		return nil
	case <-deadline:
		return ErrNotStarted
	case <-ctx.Done():
		return fmt.Errorf("wait for the previous request to the bridge: %w", ctx.Err())
	}
}

// waitTurn sleeps until MinInterval has passed since the previous request ended.
func (c *Client) waitTurn(ctx context.Context) error {
	if !c.lastEnd.IsZero() {
		if wait := c.lastEnd.Add(c.opts.MinInterval).Sub(time.Now()); wait > 0 {
			return sleep(ctx, wait)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt sends one request with a fresh key and reports whether a failure may be retried
// under policy.
func (c *Client) attempt(ctx context.Context, policy retryPolicy, method, path, endpoint string, header http.Header, payload []byte, out any) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	// Whether a connection to the bridge was ever obtained: until then nothing can have been
	// written, so even a lock operation is safe to send again. Once there is one, the bridge may
	// have read the request however the attempt ends.
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	var body io.Reader = http.NoBody
	if payload != nil {
		// A bytes.Reader has a known length, so Content-Length is sent: the bridge requires it on
		// every POST and PUT (http.NoBody sends "Content-Length: 0").
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return false, fmt.Errorf("build %s request: %w", endpoint, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// Set directly in the map: Header.Set would canonicalise the name to "Api_token", and every
	// known client sends it in lower case.
	req.Header["api_token"] = []string{c.apiKey()}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		c.observe(endpoint, 0, time.Since(start))
		canceled := errors.Is(ctx.Err(), context.Canceled)
		if policy == retryUnsent && connected.Load() {
			return false, fmt.Errorf("bridge API %s: %w: %w", endpoint, ErrAnswerLost, err)
		}
		return !canceled, fmt.Errorf("bridge API %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.observe(endpoint, resp.StatusCode, time.Since(start))
	if err != nil {
		if policy == retryUnsent && resp.StatusCode < 300 && out == nil {
			return false, nil // the status is the whole answer of a lock operation
		}
		if policy == retryUnsent {
			return false, fmt.Errorf("bridge API %s: %w: read answer: %w", endpoint, ErrAnswerLost, err)
		}
		return true, fmt.Errorf("bridge API %s: read answer: %w", endpoint, err)
	}
	if resp.StatusCode >= 300 {
		apiErr := &Error{Endpoint: endpoint, Status: resp.StatusCode}
		var e struct {
			Code        int    `json:"error-code"`
			Description string `json:"error-description"`
		}
		if json.Unmarshal(data, &e) == nil {
			apiErr.Code, apiErr.Description = e.Code, e.Description
		}
		// 409 Busy: the bridge refused before doing anything, so even a lock operation is safe to
		// send again.
		return resp.StatusCode == http.StatusConflict, apiErr
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return false, fmt.Errorf("bridge API %s: decode answer: %w", endpoint, err)
		}
	}
	return false, nil
}

func (c *Client) observe(endpoint string, status int, d time.Duration) {
	if c.opts.Observer != nil {
		c.opts.Observer.ObserveBridgeRequest(c.opts.Bridge, endpoint, status, d)
	}
}
