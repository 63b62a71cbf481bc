// Package tedeeapi is a client for the Tedee Bridge's local HTTP API (v1.0): bridge and lock
// details, lock operations and webhook (callback) registration. It authenticates with a plain or
// encrypted token, sends one request at a time at most once per second as Tedee asks, and retries
// what is worth retrying.
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
	"strconv"
	"sync"
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
	// Attempts bounds the tries of one call (network errors and 409 Busy are retried). Default 3.
	Attempts int
	// Timeout bounds one attempt. Default 10s.
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

	mu        sync.Mutex // held for the whole of a call, so requests never overlap
	lastEnd   time.Time
	lastKeyMs int64 // millisecond stamp of the last encrypted key, which must never repeat
}

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
	return &Client{opts: opts, log: log, base: opts.BaseURL + "/v1.0"}
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
// then tries up to Attempts times. body, when not nil, is sent as JSON; out, when not nil, receives
// the JSON answer.
func (c *Client) call(ctx context.Context, method, path, endpoint string, header http.Header, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode %s body: %w", endpoint, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for attempt := 1; attempt <= c.opts.Attempts; attempt++ {
		if err = c.waitTurn(ctx); err != nil {
			return err
		}
		var retry bool
		retry, err = c.attempt(ctx, method, path, endpoint, header, payload, out)
		c.lastEnd = time.Now()
		if err == nil || !retry || attempt == c.opts.Attempts {
			break
		}
		c.log.Info("bridge API request failed, retrying", zap.String("endpoint", endpoint),
			zap.Int("attempt", attempt), zap.Error(err))
		// Back off beyond the rate limit: 1s, 2s, … on top of MinInterval.
		if err := sleep(ctx, time.Duration(attempt)*time.Second); err != nil {
			return err
		}
	}
	return err
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

// attempt sends one request with a fresh key and reports whether a failure is worth retrying.
func (c *Client) attempt(ctx context.Context, method, path, endpoint string, header http.Header, payload []byte, out any) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
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
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(ctxErr, context.Canceled) {
			return false, fmt.Errorf("bridge API %s: %w", endpoint, err)
		}
		return true, fmt.Errorf("bridge API %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.observe(endpoint, resp.StatusCode, time.Since(start))
	if err != nil {
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
