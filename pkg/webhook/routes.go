package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// cloudPrefix is the route of Tedee Cloud webhooks; "cloud" is reserved as a bridge name.
const cloudPrefix = "/webhook/cloud"

// isCloudPath reports whether an escaped path is the cloud route's.
func isCloudPath(escapedPath string) bool {
	rest, ok := strings.CutPrefix(escapedPath, cloudPrefix)
	return ok && (rest == "" || rest[0] == '/')
}

// sourceOf is the Observer's source label of a request to an escaped path.
func sourceOf(escapedPath string) string {
	if isCloudPath(escapedPath) {
		return SourceCloud
	}
	return SourceBridge
}

// webhook serves every webhook route: the cloud's, which authenticates by its path secret rather
// than the bridges' bearer token, and the bridges'.
func (s *Server) webhook(c echo.Context) error {
	path := c.Request().URL.EscapedPath()
	if isCloudPath(path) {
		secret := strings.Trim(strings.TrimPrefix(path, cloudPrefix), "/")
		return s.serve(c, SourceCloud, "rejected malformed cloud webhook", &cloudIntake{s: s, secret: secret})
	}
	return s.serve(c, SourceBridge, "rejected malformed webhook", &bridgeIntake{s: s})
}

// bridgeIntake serves every bridge delivery format:
//
//	POST /webhook/<bridge>                       JSON body
//	GET  /webhook/<bridge>?event=…&timestamp=…   query string
//	GET  /webhook/<bridge>/event=…/timestamp=…   path segments (GET+NO_PARAMS)
//
// and the same without /<bridge> for the default bridge when none is configured.
type bridgeIntake struct {
	s            *Server
	bridge, tail string // set by admit
}

func (b *bridgeIntake) admit(c echo.Context) ([]zap.Field, error) {
	req := c.Request()
	if fromBrowser(req.Header) {
		return nil, &refusal{event: EventUnknown, outcome: OutcomeUnauthorized, status: http.StatusForbidden,
			msg: "webhooks are not accepted from web browsers"}
	}
	b.bridge, b.tail = route(req.URL.EscapedPath())
	if !b.s.bridgeAuthorized(b.bridge, req.Header.Get("Authorization")) {
		return nil, &refusal{event: EventUnknown, outcome: OutcomeUnauthorized, status: http.StatusUnauthorized,
			msg: "missing or wrong bearer token"}
	}
	if !b.s.bridges[b.bridge] {
		return nil, &refusal{event: EventUnknown, outcome: OutcomeUnknownBridge, status: http.StatusNotFound,
			msg: fmt.Sprintf("unknown bridge %s", strconv.Quote(truncate(b.bridge)))}
	}
	return []zap.Field{zap.String("bridge", b.bridge)}, nil
}

func (b *bridgeIntake) decode(c echo.Context) (delivery, error) {
	req := c.Request()
	var ev tedee.Event
	var err error
	switch {
	case req.Method == http.MethodPost && b.tail == "":
		var body []byte
		if body, err = b.s.readBody(c); err != nil {
			return delivery{}, err
		}
		ev, err = tedee.DecodeJSON(body)
	case req.Method == http.MethodPost:
		return delivery{}, &refusal{event: EventInvalid, outcome: OutcomeInvalid, status: http.StatusNotFound,
			msg: "POST webhooks go to /webhook/<bridge> with a JSON body"}
	case b.tail != "":
		ev, err = tedee.DecodePath(b.tail)
	default:
		ev, err = tedee.DecodeQuery(req.URL.RawQuery)
	}
	if err != nil {
		return delivery{}, err
	}
	bridge := b.bridge
	return delivery{
		event: eventLabel(ev.Known(), ev.Name),
		at:    ev.Timestamp,
		log:   []zap.Field{zap.String("event", ev.Name), zap.String("serial", ev.Serial)},
		handOver: func(ctx context.Context) (state.Outcome, error) {
			return b.s.handler.HandleEvent(ctx, bridge, ev)
		},
	}, nil
}

// fromBrowser reports whether a request carries what browsers add and a Tedee Bridge never sends:
// an Origin, or the Fetch Metadata headers. A web page a user on the LAN opens can send GET
// requests and simple POSTs to the webhook port without the page being able to read the answer;
// refusing them keeps such a page from forging lock states even on a route without a secret.
func fromBrowser(h http.Header) bool {
	return h.Get("Origin") != "" || h.Get("Sec-Fetch-Site") != "" || h.Get("Sec-Fetch-Mode") != ""
}

// route splits the escaped path after /webhook into the bridge name and the rest. A first segment
// with "=" is already a GET+NO_PARAMS pair: the request went to the bare /webhook.
func route(escapedPath string) (bridge, tail string) {
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

// cloudIntake serves POST /webhook/cloud/<path secret>.
type cloudIntake struct {
	s      *Server
	secret string // the path's secret, as sent
}

// admit answers a wrong or missing secret, or the cloud route being disabled, with 404, so that
// a stranger learns nothing.
func (ci *cloudIntake) admit(echo.Context) ([]zap.Field, error) {
	s := ci.s
	if s.opts.Cloud == nil || s.opts.CloudPathSecret == "" || !sameSecret(ci.secret, &s.cloudSecret) {
		return nil, &refusal{event: EventUnknown, outcome: OutcomeUnauthorized, status: http.StatusNotFound, msg: "not found"}
	}
	return []zap.Field{zap.String("source", SourceCloud)}, nil
}

// maxIdempotencyKey bounds the Idempotency-Key remembered; a longer one is not something the
// cloud sends, and not worth remembering.
const maxIdempotencyKey = 128

func (ci *cloudIntake) decode(c echo.Context) (delivery, error) {
	req := c.Request()
	if req.Method != http.MethodPost {
		return delivery{}, &refusal{event: EventInvalid, outcome: OutcomeInvalid, status: http.StatusMethodNotAllowed,
			msg: "cloud webhooks are POST requests"}
	}
	body, err := ci.s.readBody(c)
	if err != nil {
		return delivery{}, err
	}
	ev, err := tedee.DecodeCloud(body)
	if err != nil {
		return delivery{}, err
	}
	key := req.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		key = ""
	}
	return delivery{
		event: eventLabel(ev.KnownCloud(), ev.Name),
		at:    ev.Timestamp,
		log:   []zap.Field{zap.String("event", ev.Name), zap.Int64("device_id", ev.DeviceID)},
		handOver: func(ctx context.Context) (state.Outcome, error) {
			return ci.s.opts.Cloud.HandleCloudEvent(ctx, ev, key)
		},
	}, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
