package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// outcomes is an Observer that records "source event outcome" per request.
type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *outcomes) Webhook(source, event, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, source+" "+event+" "+outcome)
}

func (o *outcomes) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.got
	o.got = nil
	return got
}

// TestObserverOutcomes: every webhook request is reported exactly once, with a bounded event
// label and the outcome matching its answer.
func TestObserverOutcomes(t *testing.T) {
	obs := &outcomes{}
	rec := &recorder{}
	const secret = "observer-secret"
	auth := []string{"Authorization", "Bearer " + secret}
	base := start(t, Options{Bridges: []string{"home"}, Secret: secret, MaxBodyBytes: 1024, Observer: obs}, rec)
	lock := fixture(t, "lock-status-changed.json")
	unknown := strings.Replace(lock, "lock-status-changed", "keypad-pressed", 1)
	tests := []struct {
		name, method, path, body string
		header                   []string
		outcome                  state.Outcome
		handlerErr               error
		status                   int
		want                     string
	}{
		{"applied", "POST", "/webhook/home", lock, auth, "", nil, 204, "bridge lock-status-changed applied"},
		{"applied GET", "GET", "/webhook/home" + fixture(t, "device-battery-level-changed.get"), "", auth, "", nil, 204,
			"bridge device-battery-level-changed applied"},
		{"stale", "POST", "/webhook/home", lock, auth, state.Stale, nil, 204, "bridge lock-status-changed stale"},
		{"unknown event", "POST", "/webhook/home", unknown, auth, state.UnknownEvent, nil, 204, "bridge other unknown_event"},
		{"malformed", "POST", "/webhook/home", `{"event":`, auth, "", nil, 400, "bridge invalid invalid"},
		{"bad serial", "GET", "/webhook/home?event=lock-status-changed&timestamp=2023-07-25T14:41:48.825Z&serialNumber=%23&state=6", "", auth, "", nil, 400,
			"bridge invalid invalid"},
		{"POST with path", "POST", "/webhook/home/event=x", lock, auth, "", nil, 404, "bridge invalid invalid"},
		{"no secret", "POST", "/webhook/home", lock, nil, "", nil, 401, "bridge unknown unauthorized"},
		{"unknown bridge", "POST", "/webhook/garage", lock, auth, "", nil, 404, "bridge unknown unknown_bridge"},
		{"too large", "POST", "/webhook/home", lock + strings.Repeat(" ", 2000), auth, "", nil, 413, "bridge unknown too_large"},
		{"too many locks", "POST", "/webhook/home", lock, auth, "", state.ErrTooManyLocks, 503, "bridge lock-status-changed error"},
		{"handler failed", "POST", "/webhook/home", lock, auth, "", errors.New("boom"), 500, "bridge lock-status-changed error"},
	}
	for _, tt := range tests {
		rec.mu.Lock()
		rec.outcome, rec.err = tt.outcome, tt.handlerErr
		rec.mu.Unlock()
		if r := do(t, tt.method, base+tt.path, tt.body, tt.header...); r.status != tt.status {
			t.Errorf("%s: status %d %s, want %d", tt.name, r.status, r.body, tt.status)
		}
		if got := obs.take(); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%s: observed %q, want [%q]", tt.name, got, tt.want)
		}
	}
	// Health, readiness and unknown routes are not webhooks.
	for _, path := range []string{"/healthz", "/readyz", "/nothing", "/metrics"} {
		do(t, "GET", base+path, "")
	}
	if got := obs.take(); len(got) != 0 {
		t.Errorf("non-webhook requests observed: %q", got)
	}
}

func TestMetricsRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("tedee2mqtt_up 1\n"))
	})
	base := start(t, Options{Metrics: metrics, Secret: "s3cret-token"}, &recorder{})
	// Served without the webhook secret: it guards webhooks only.
	if r := do(t, "GET", base+"/metrics", ""); r.status != 200 || r.body != "tedee2mqtt_up 1\n" {
		t.Errorf("GET /metrics: %d %q", r.status, r.body)
	}
	without := start(t, Options{}, &recorder{})
	if r := do(t, "GET", without+"/metrics", ""); r.status != 404 {
		t.Errorf("GET /metrics with no handler: %d, want 404", r.status)
	}
}

// TestRequestID: every answer carries an X-Request-Id, the webhook's log lines carry the same
// request_id, a sane id from a proxy is kept and anything else is replaced.
func TestRequestID(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	srv, err := New(Options{Listen: "127.0.0.1:0", MaxBodyBytes: 1024, Bridges: []string{"home"}}, &recorder{}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string, header ...string) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/webhook/home", strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		srv.http.Handler.ServeHTTP(w, req)
		return w.Header().Get("X-Request-Id")
	}
	idsOf := func(msg string) []string {
		var ids []string
		for _, e := range logs.FilterMessage(msg).TakeAll() {
			ids = append(ids, e.ContextMap()["request_id"].(string))
		}
		return ids
	}

	id := post(`{"event":`)
	if len(id) < 16 {
		t.Fatalf("X-Request-Id = %q, want a generated id", id)
	}
	if got := idsOf("rejected malformed webhook"); !slices.Equal(got, []string{id}) {
		t.Errorf("malformed webhook logged with request ids %q, want [%q]", got, id)
	}
	if got := idsOf("request"); !slices.Equal(got, []string{id}) {
		t.Errorf("request log line has request ids %q, want [%q]", got, id)
	}

	if id := post(fixture(t, "lock-status-changed.json"), "X-Request-Id", "proxy-42.a:b"); id != "proxy-42.a:b" {
		t.Errorf("a proxy's id was replaced by %q", id)
	}
	if got := idsOf("webhook applied"); !slices.Equal(got, []string{"proxy-42.a:b"}) {
		t.Errorf("applied webhook logged with request ids %q", got)
	}
	logs.TakeAll()

	for _, bad := range []string{"a b", "line\nbreak", strings.Repeat("x", 65), `"quoted"`} {
		if id := post(`{}`, "X-Request-Id", bad); id == bad || len(id) < 16 {
			t.Errorf("client id %q: answered %q, want a generated id", bad, id)
		}
	}
}
