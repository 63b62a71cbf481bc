package tedeecloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
)

// envelope is the body of every Tedee Cloud answer.
type envelope struct {
	Result        json.RawMessage `json:"result"`
	Success       *bool           `json:"success"`
	ErrorMessages []string        `json:"errorMessages"`
	StatusCode    int             `json:"statusCode"`
}

// request is one call: path is relative to the versioned base and has no query.
type request struct {
	method string
	path   string
	query  url.Values
	body   any // sent as JSON when not nil
	// def is the priority when the context carries none.
	def Priority
}

// do sends one request, at most once, and decodes the envelope's result into out (when not nil).
// It never retries: the caller decides, and a lock operation must never be sent twice.
func (c *Client) do(ctx context.Context, r request, out any) error {
	err := c.send(ctx, r, out)
	return c.redact(err)
}

func (c *Client) send(ctx context.Context, r request, out any) error {
	what := r.method + " " + r.path
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("tedee cloud %s: encode the body: %w", what, err)
		}
	}
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader = http.NoBody
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return fmt.Errorf("tedee cloud %s: build the request: %w", what, err)
	}
	req.Header.Set("Authorization", "PersonalKey "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tedee2mqtt")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// A request whose caller has given up is not sent, and so not counted.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tedee cloud %s: %w", what, err)
	}
	if err := c.budget.admit(c.now(), priorityOf(ctx, r.def)); err != nil {
		return fmt.Errorf("tedee cloud %s: %w", what, err)
	}
	// Whether any of the request was written: until then Tedee cannot have seen it.
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	}))
	resp, err := c.http.Do(req)
	if err != nil {
		if wrote.Load() {
			return fmt.Errorf("tedee cloud %s: %w: %w", what, ErrAnswerLost, err)
		}
		return fmt.Errorf("tedee cloud %s: %w", what, err)
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if resp.StatusCode == http.StatusTooManyRequests {
		wait := retryAfter(resp.Header.Get("Retry-After"), c.now())
		c.budget.rateLimited(c.now(), wait)
		e := c.apiError(r, resp.StatusCode, data)
		e.RetryAfter = wait
		return e
	}
	if readErr != nil {
		if resp.StatusCode/100 != 2 {
			return c.apiError(r, resp.StatusCode, nil)
		}
		return fmt.Errorf("tedee cloud %s: %w: read the answer (%d): %w", what, ErrAnswerLost, resp.StatusCode, readErr)
	}
	if len(data) > MaxResponseBytes {
		return fmt.Errorf("tedee cloud %s: %w: the answer (%d) is larger than %d bytes", what, ErrAnswerLost, resp.StatusCode, MaxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		return c.apiError(r, resp.StatusCode, data)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("tedee cloud %s: %w: decode the answer (%d): %w", what, ErrAnswerLost, resp.StatusCode, err)
	}
	if env.Success != nil && !*env.Success {
		status := resp.StatusCode
		if env.StatusCode != 0 && env.StatusCode/100 != 2 {
			status = env.StatusCode
		}
		return c.apiError(r, status, data)
	}
	if out == nil {
		return nil
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return fmt.Errorf("tedee cloud %s: %w: the answer (%d) has no result", what, ErrAnswerLost, resp.StatusCode)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("tedee cloud %s: %w: decode the result: %w", what, ErrAnswerLost, err)
	}
	return nil
}

// apiError builds the error for a failed answer. The body may be Tedee's envelope, empty, or
// anything else (a proxy's HTML page): its errorMessages, or else the start of the text, go
// into the error, bounded and without the key.
func (c *Client) apiError(r request, status int, data []byte) *APIError {
	e := &APIError{Status: status, Method: r.method, Path: r.path}
	var env envelope
	var msgs []string
	if json.Unmarshal(data, &env) == nil {
		msgs = env.ErrorMessages
	} else if text := strings.TrimSpace(string(data)); text != "" {
		msgs = []string{text}
	}
	// The key goes before the messages are cut short, so that no part of it survives a cut.
	for i, m := range msgs {
		msgs[i] = strings.ReplaceAll(m, c.key, "[key]")
	}
	e.Messages = boundMessages(msgs)
	return e
}
