package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/metrics"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// The service's metrics count the panics the server recovers.
var _ PanicObserver = (*metrics.Metrics)(nil)

// blocking is an EventHandler that holds every event until released.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) HandleEvent(ctx context.Context, _ string, _ tedee.Event) (state.Outcome, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return state.Applied, nil
}

// panicking is an EventHandler with a bug.
type panicking struct{ value any }

func (p panicking) HandleEvent(context.Context, string, tedee.Event) (state.Outcome, error) {
	panic(p.value)
}

// panicCounter is an Observer that also counts panics.
type panicCounter struct {
	outcomes
	panics atomic.Int64
}

func (p *panicCounter) HTTPPanic() { p.panics.Add(1) }

// TestMaxConcurrent: past the cap a webhook is answered 503 at once, with a JSON error and
// Retry-After, while health, readiness and metrics are still served; once a slot frees up,
// webhooks are served again.
func TestMaxConcurrent(t *testing.T) {
	h := &blocking{entered: make(chan struct{}, 2), release: make(chan struct{})}
	obs := &outcomes{}
	base := start(t, Options{MaxConcurrent: 2, Observer: obs, Metrics: http.NotFoundHandler()}, h)
	lock := fixture(t, "lock-status-changed.json")

	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(base+"/webhook", "application/json", strings.NewReader(lock))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range 2 {
		select {
		case <-h.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the first two webhooks did not reach the handler")
		}
	}

	began := time.Now()
	r := do(t, "POST", base+"/webhook", lock)
	if elapsed := time.Since(began); elapsed > time.Second {
		t.Errorf("the webhook over the cap waited %s; it must be answered at once", elapsed)
	}
	var body struct{ Error string }
	if r.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(r.body), &body) != nil || body.Error == "" {
		t.Errorf("over the cap: %d %q, want 503 with a JSON error", r.status, r.body)
	}
	// The GET formats and the cloud route share the cap.
	if r := do(t, "GET", base+"/webhook"+fixture(t, "lock-status-changed.get"), ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET over the cap: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", base+"/webhook/cloud/whatever", "{}"); r.status != http.StatusServiceUnavailable {
		t.Errorf("cloud over the cap: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := do(t, "GET", base+path, ""); r.status != http.StatusOK {
			t.Errorf("%s at the cap: %d %s", path, r.status, r.body)
		}
	}
	if r := do(t, "GET", base+"/metrics", ""); r.status != http.StatusNotFound { // the stand-in's answer
		t.Errorf("/metrics at the cap: %d %s", r.status, r.body)
	}
	want := []string{"bridge unknown busy", "bridge unknown busy", "cloud unknown busy"}
	if got := obs.take(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("observed %q, want %q", got, want)
	}

	close(h.release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusNoContent {
			t.Errorf("a webhook within the cap: %d", s)
		}
	}
	if r := do(t, "POST", base+"/webhook", lock); r.status != http.StatusNoContent {
		t.Errorf("after the slots freed up: %d %s", r.status, r.body)
	}
}

// TestRecoverPanic: a panic in a handler is logged with its stack, counted, and answered 500 with
// a JSON error; the webhook is counted as an error; the server keeps serving.
func TestRecoverPanic(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	obs := &panicCounter{}
	srv, err := New(Options{Listen: "127.0.0.1:0", MaxBodyBytes: 1024, Observer: obs}, panicking{"boom"}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.ln.Close() })
	w := httptest.NewRecorder()
	srv.http.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(fixture(t, "lock-status-changed.json"))))
	var body struct{ Error string }
	if w.Code != http.StatusInternalServerError || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error != "internal error" {
		t.Errorf("panic answered %d %q, want 500 with a JSON error", w.Code, w.Body)
	}
	if n := obs.panics.Load(); n != 1 {
		t.Errorf("%d panics counted, want 1", n)
	}
	if got := obs.take(); strings.Join(got, ",") != "bridge lock-status-changed error" {
		t.Errorf("observed %q", got)
	}
	entries := logs.FilterMessage("panic while serving a request").All()
	if len(entries) != 1 {
		t.Fatalf("%d panic log lines, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if stack, _ := fields["stack"].(string); !strings.Contains(stack, "HandleEvent") {
		t.Errorf("logged stack does not show the panicking handler:\n%s", stack)
	}
	if fields["panic"] != "boom" || fields["request_id"] == "" {
		t.Errorf("panic log fields: %v", fields)
	}
	// The request is logged with its status too.
	var logged bool
	for _, e := range logs.FilterMessage("request").All() {
		logged = logged || e.ContextMap()["status"] == int64(http.StatusInternalServerError)
	}
	if !logged {
		t.Errorf("the 500 was not in the request log")
	}
	// Health still answers.
	w = httptest.NewRecorder()
	srv.http.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK {
		t.Errorf("healthz after a panic: %d", w.Code)
	}
}

// TestAbortHandlerPassesThrough: http.ErrAbortHandler is how a handler asks net/http to drop
// the connection quietly; it is neither answered nor counted as a bug.
func TestAbortHandlerPassesThrough(t *testing.T) {
	obs := &panicCounter{}
	srv, err := New(Options{Listen: "127.0.0.1:0", MaxBodyBytes: 1024, Observer: obs}, panicking{http.ErrAbortHandler}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.ln.Close() })
	defer func() {
		if r := recover(); r != http.ErrAbortHandler { //nolint:errorlint // the sentinel itself
			t.Errorf("recovered %v, want http.ErrAbortHandler", r)
		}
		if n := obs.panics.Load(); n != 0 {
			t.Errorf("%d panics counted, want 0", n)
		}
	}()
	srv.http.Handler.ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(fixture(t, "lock-status-changed.json"))))
	t.Error("ServeHTTP returned")
}
