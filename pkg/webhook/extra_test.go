package webhook

import (
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestExtraRoutesOutsideWebhookCap: routes added through Options.Extra (the status page) are
// served, and a request held open on one (an event stream) takes no webhook slot: with
// MaxConcurrent 1 and such a request open, a webhook is still accepted.
func TestExtraRoutesOutsideWebhookCap(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	rec := &recorder{}
	base := start(t, Options{MaxConcurrent: 1, Extra: func(e *echo.Echo) {
		e.GET("/api/events", func(c echo.Context) error {
			close(held)
			<-release
			return c.NoContent(http.StatusOK)
		})
	}}, rec)
	go func() {
		resp, err := http.Get(base + "/api/events")
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the extra route was not served")
	}
	if r := do(t, "POST", base+"/webhook", fixture(t, "lock-status-changed.json")); r.status != http.StatusNoContent {
		t.Fatalf("webhook while an extra route's request is open: %d %s; want 204", r.status, r.body)
	}
	if got := rec.got(); len(got) != 1 {
		t.Errorf("events handled: %v", got)
	}
}
