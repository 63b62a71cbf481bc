package tedeecloud

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrBudget: not sent, because cloud.requests_per_hour would be exceeded (counted in
	// Stats.Skipped).
	ErrBudget = errors.New("tedee cloud request budget (cloud.requests_per_hour) used up")
	// ErrRateLimited: Tedee's own limit. Either Tedee answered 429, or the request was not sent
	// because Tedee's Retry-After has not passed yet.
	ErrRateLimited = errors.New("tedee cloud rate limit reached")
	// ErrUnauthorized: 401 or 403, the key is invalid, expired or lacks a scope.
	ErrUnauthorized = errors.New("tedee cloud refused the personal access key")
	// ErrConflict: 409, a stale revision on PATCH /my/lock (re-read the lock and try again).
	ErrConflict = errors.New("tedee cloud conflict")
	// ErrNotFound: 404, no such device or operation for this account.
	ErrNotFound = errors.New("tedee cloud: not found")
	// ErrAnswerLost: the request was sent, but no usable answer came back (the connection broke,
	// the time ran out, the answer was unreadable). Tedee may or may not have acted on it: after
	// Operate, read the lock's state rather than sending the operation again.
	ErrAnswerLost = errors.New("the request was sent but its answer was lost or unreadable")
)

// scopeHelp is what a user needs to know to fix a 401 or 403.
const scopeHelp = "the personal access key is invalid, expired or lacks a scope: tedee2mqtt needs " +
	"Device.ReadWrite, DeviceActivity.Read and Lock.Operate (read-only use: Device.Read and " +
	"DeviceActivity.Read); create a key at https://portal.tedee.com/personal-access-keys"

// Bounds on what an error carries from an answer: Tedee's messages are short sentences, and a
// hostile or broken server must not fill the logs.
const (
	maxMessages   = 3
	maxMessageLen = 200
)

// APIError is an error answer from Tedee: a non-2xx status, or "success": false.
// errors.Is matches it with ErrUnauthorized (401, 403), ErrNotFound (404), ErrConflict (409) and
// ErrRateLimited (429).
type APIError struct {
	Status     int      // the HTTP status, or the envelope's statusCode if only that reports a failure
	Messages   []string // the envelope's errorMessages (at most a few, each cut short), or the start of a body that is not JSON
	Method     string
	Path       string        // relative to /api/v37, without the query
	RetryAfter time.Duration // for 429: how long nothing will be sent
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tedee cloud %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if len(e.Messages) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(e.Messages, "; "))
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		b.WriteString(" (" + scopeHelp + ")")
	case http.StatusTooManyRequests:
		fmt.Fprintf(&b, " (Tedee's limit is 700 requests per hour per account, shared with its other integrations; nothing is sent for %s)", e.RetryAfter)
	case http.StatusConflict:
		b.WriteString(" (the revision is stale: re-read the lock)")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnauthorized) and the like work.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// boundMessages keeps the first few messages, each valid UTF-8, single-line and cut short.
func boundMessages(in []string) []string {
	var out []string
	for _, m := range in {
		if len(out) == maxMessages {
			out = append(out, fmt.Sprintf("(%d more)", len(in)-maxMessages))
			break
		}
		if m = clean(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// clean makes untrusted text fit for a one-line error: valid UTF-8, no control characters,
// collapsed spaces, at most maxMessageLen bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == ' ' }), " ")
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. Missing, unreadable or past
// values get defaultRetryAfter; the wait is at least minRetryAfter (never a tight loop) and at
// most maxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	d := defaultRetryAfter
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case secs < 0:
		case secs > int64(maxRetryAfter/time.Second):
			d = maxRetryAfter
		default:
			d = time.Duration(secs) * time.Second
		}
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(max(d, minRetryAfter), maxRetryAfter)
}

// redacted hides the key in an error that might carry it (a server echoing the header, a
// transport error quoting a request), keeping errors.Is and errors.As working.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

func (c *Client) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), c.key) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), c.key, "[key]"), err: err}
}
