package tedeecloud

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// DefaultURL is Tedee's production API.
const DefaultURL = "https://api.tedee.com"

// Version is the API version requests are sent to (<URL>/api/v37/...). v37 is the current one;
// the earlier v1.3x versions are being retired through 2027.
const Version = "v37"

// DefaultRequestsPerHour is the budget when Options.RequestsPerHour is not set: below Tedee's 700
// per account, leaving room for the user's other integrations and the app.
const DefaultRequestsPerHour = 600

// DefaultTimeout bounds one request when Options.HTTPClient is nil.
const DefaultTimeout = 15 * time.Second

// MaxResponseBytes caps how much of an answer is read, so that a broken server or proxy cannot
// make the service grow without bound. A device list of a large account is well under 1 MiB.
const MaxResponseBytes = 4 << 20

// Options configure a Client.
type Options struct {
	URL             string           // base URL; "" = DefaultURL. Trailing slash tolerated.
	Key             string           // personal access key; sent as "Authorization: PersonalKey <key>"
	RequestsPerHour int              // client-side budget (cloud.requests_per_hour); <=0 means 600
	HTTPClient      *http.Client     // nil: a client with a 15 s timeout
	Now             func() time.Time // nil: time.Now (tests drive the budget's clock)
}

// String describes the options without the key, so that logging them by mistake leaks nothing.
func (o Options) String() string {
	return fmt.Sprintf("tedeecloud.Options{URL: %q, Key: %s, RequestsPerHour: %d}", o.URL, keyHint(o.Key), o.RequestsPerHour)
}

// GoString keeps %#v from printing the key too.
func (o Options) GoString() string { return o.String() }

func keyHint(key string) string {
	if key == "" {
		return "(none)"
	}
	return "(set)"
}

// Client talks to the Tedee Cloud API for one account. It is safe for concurrent use; requests
// run in parallel, and only the budget's bookkeeping is serialised.
type Client struct {
	base   string // e.g. "https://api.tedee.com/api/v37", no trailing slash
	key    string
	http   *http.Client
	now    func() time.Time
	budget *budget
}

// New checks the options and returns a client; it does not contact Tedee.
func New(opts Options) (*Client, error) {
	base, err := baseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	key := strings.TrimSpace(opts.Key)
	if key == "" {
		return nil, errors.New("tedee cloud: no personal access key (create one at https://portal.tedee.com/personal-access-keys)")
	}
	// A key with a space or control character inside would break the header; the key itself is
	// not quoted in the error.
	if strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, errors.New("tedee cloud: the personal access key contains whitespace or control characters: copy it again from the Tedee portal")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	perHour := opts.RequestsPerHour
	if perHour <= 0 {
		perHour = DefaultRequestsPerHour
	}
	return &Client{base: base, key: key, http: hc, now: now, budget: newBudget(perHour)}, nil
}

// baseURL validates the configured URL and appends the versioned API path.
func baseURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("tedee cloud: parse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("tedee cloud: URL %q: the scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return "", fmt.Errorf("tedee cloud: URL %q has no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("tedee cloud: URL %q: a query or fragment is not allowed (give the base, e.g. %s)", u.Redacted(), DefaultURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String() + "/api/" + Version, nil
}

// String describes the client without its key.
func (c *Client) String() string {
	return fmt.Sprintf("tedeecloud.Client{URL: %q, RequestsPerHour: %d}", c.base, c.budget.perHour)
}

// GoString keeps %#v from printing the key.
func (c *Client) GoString() string { return c.String() }

// Stats are the client's request counts.
type Stats struct {
	// Totals since start: requests sent; requests refused by the budget; 429s received plus
	// requests refused while waiting out a Retry-After.
	Sent, Skipped, RateLimited int64
	UsedLastHour               int       // requests sent in the sliding hour
	BlockedUntil               time.Time // zero unless Tedee said to wait and the wait is not over
	// The budget (Options.RequestsPerHour or its default) and the part of it only Interactive
	// requests may use.
	Budget, Reserve int
}

// Stats returns the current counts.
func (c *Client) Stats() Stats { return c.budget.stats(c.now()) }
