package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// intake is what the bridge route and the cloud route do differently. serve runs the rest of a
// webhook request, the same for both, so that both are counted, refused and answered alike.
type intake interface {
	// admit authenticates the request and checks where it is addressed, before anything is read,
	// so that a stranger learns nothing, not even which bridge names exist. It returns the fields
	// that name the route in every log line about the request; its only errors are *refusal.
	admit(c echo.Context) ([]zap.Field, error)
	// decode reads the event the request carries. A *refusal is answered as it says; any other
	// error is a malformed event (400, with the error's text).
	decode(c echo.Context) (delivery, error)
}

// delivery is a decoded event ready to be handed over.
type delivery struct {
	event string      // the Observer's event label: a documented event name or EventOther
	at    time.Time   // when it happened, for the log
	log   []zap.Field // what names the event in the log lines about it
	// handOver gives the event to its handler, which says what became of it.
	handOver func(context.Context) (state.Outcome, error)
}

// refusal is a request answered before its event reached a handler: the labels it is counted
// under, and the status and JSON error it is answered with.
type refusal struct {
	event, outcome string
	status         int
	msg            string
}

func (r *refusal) Error() string { return r.msg }

// serve runs one webhook request: observe its outcome, authenticate, read and decode, hand over,
// answer. malformed is the log message for a request whose event does not decode.
func (s *Server) serve(c echo.Context, source, malformed string, in intake) error {
	// Counted once whatever the way out (a panic too, as an error).
	event, outcome := EventUnknown, OutcomeError
	defer func() { s.observe(source, event, outcome) }()
	log := s.log
	refuse := func(err error) error {
		var r *refusal
		if !errors.As(err, &r) {
			log.Info(malformed, zap.String("error", s.redact(err.Error())))
			r = &refusal{event: EventInvalid, outcome: OutcomeInvalid, status: http.StatusBadRequest, msg: err.Error()}
		}
		event, outcome = r.event, r.outcome
		if r.status != http.StatusBadRequest { // malformed ones are logged above, with why
			s.refusals.note(log, r.status, s.redact(r.msg), time.Now())
		}
		return jsonError(c, r.status, r.msg)
	}
	route, err := in.admit(c)
	if err != nil {
		return refuse(err)
	}
	// Lazily: on the usual path nothing is logged, and encoding these fields for every request
	// cost more than reading its body.
	log = log.WithLazy(append([]zap.Field{zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID))}, route...)...)
	d, err := in.decode(c)
	if err != nil {
		return refuse(err)
	}
	event = d.event
	verdict, err := d.handOver(c.Request().Context())
	var resp error
	outcome, resp = answer(c, log.WithLazy(d.log...), verdict, err, d.at)
	return resp
}

func (s *Server) observe(source, event, outcome string) {
	if s.opts.Observer != nil {
		s.opts.Observer.Webhook(source, event, outcome)
	}
}

// eventLabel is an event's label for the Observer: its name when it is documented, else EventOther,
// so that a sender cannot make up label values.
func eventLabel(known bool, name string) string {
	if known {
		return name
	}
	return EventOther
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

// readBody reads at most MaxBodyBytes; more is a 413, whether announced by Content-Length or not.
// Its errors are *refusal.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	tooLarge := func() error {
		return &refusal{event: EventUnknown, outcome: OutcomeTooLarge, status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("body larger than %d bytes", s.opts.MaxBodyBytes)}
	}
	if req.ContentLength > s.opts.MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var over *http.MaxBytesError
		if errors.As(err, &over) {
			return nil, tooLarge()
		}
		return nil, &refusal{event: EventUnknown, outcome: OutcomeInvalid, status: http.StatusBadRequest,
			msg: fmt.Sprintf("read body: %v", err)}
	}
	return body, nil
}

func jsonError(c echo.Context, status int, msg string) error {
	return c.JSON(status, map[string]string{"error": msg})
}
