package statuspage

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// coalesce is how long a stream waits after a change before sending the state: a burst of
// changes (a sync, a flood of webhooks) becomes one event, not one per change.
const coalesce = 100 * time.Millisecond

// writeTimeout bounds one event's write: a client that stops reading is dropped instead of
// holding its goroutine and connection.
const writeTimeout = 10 * time.Second

// events is GET /api/events: the state at once, then again after every change (coalesced), and
// a heartbeat when idle. The stream ends when the client goes or the service stops, so that
// the server's graceful shutdown is not held by open pages.
func (s *Server) events(c echo.Context) error {
	select {
	case <-s.done:
		return jsonError(c, http.StatusServiceUnavailable, "shutting down")
	default:
	}
	select {
	case s.clients <- struct{}{}:
		defer func() { <-s.clients }()
	default:
		c.Response().Header().Set("Retry-After", "10")
		return jsonError(c, http.StatusServiceUnavailable, "too many status pages open")
	}
	rc := http.NewResponseController(c.Response())
	// The server's read timeout is meant for webhooks; once it expires it would end this
	// request's context (net/http's background read fails) and with it the stream.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		s.log.Debug("clear read deadline", zap.Error(err))
	}
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // a proxy (nginx) must not hold events back
	c.Response().WriteHeader(http.StatusOK)

	var last []byte
	send := func(force bool) error {
		payload, err := marshal(s.snapshot())
		if err != nil {
			return err
		}
		var msg []byte
		switch {
		case !bytes.Equal(payload, last):
			msg = fmt.Appendf(nil, "event: state\ndata: %s\n\n", payload)
			last = payload
		case force:
			msg = []byte(": heartbeat\n\n")
		default:
			return nil
		}
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return fmt.Errorf("set write deadline: %w", err)
		}
		if _, err := c.Response().Write(msg); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
		if err := rc.Flush(); err != nil {
			return fmt.Errorf("flush event: %w", err)
		}
		return nil
	}

	changed := s.opts.State.Changed() // before the first read, so that no change is missed
	if err := send(false); err != nil {
		s.log.Debug("status stream ended", zap.Error(err))
		return nil
	}
	heartbeat := time.NewTicker(s.opts.Heartbeat)
	defer heartbeat.Stop()
	done := c.Request().Context().Done()
	for {
		force := false
		select {
		case <-s.done:
			return nil
		case <-done:
			return nil
		case <-changed:
			select {
			case <-time.After(coalesce):
			case <-s.done:
				return nil
			case <-done:
				return nil
			}
			changed = s.opts.State.Changed()
		case <-heartbeat.C:
			// The bridges' health (last sync) changes without a change of the state: the
			// heartbeat sends it when it did, else a comment.
			force = true
		}
		if err := send(force); err != nil {
			// A client that went away: nothing to answer, and not worth more than a debug line.
			s.log.Debug("status stream ended", zap.Error(err))
			return nil
		}
	}
}
