package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/webhook"
)

// scrape serves the handler once and returns every sample, keyed "name{labels}" exactly as
// written in the text format (labels in name order).
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", ct)
	}
	return httpcheck.Samples(t, rec.Body)
}

func expect(t *testing.T, samples map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		got, ok := samples[k]
		if !ok {
			t.Errorf("%s missing", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

func TestWebhooks(t *testing.T) {
	m := New()
	m.Webhook("bridge", "lock-status-changed", "applied")
	m.Webhook("bridge", "lock-status-changed", "applied")
	m.Webhook("bridge", "lock-status-changed", "stale")
	// As pkg/webhook reports them: an undocumented event name ("keypad-pressed") as EventOther.
	m.Webhook("bridge", webhook.EventOther, "unknown_event")
	m.Webhook("bridge", webhook.EventOther, "unknown_event")
	m.Webhook("bridge", webhook.EventInvalid, "invalid")
	m.Webhook("bridge", webhook.EventUnknown, "unauthorized")
	s := scrape(t, m)
	expect(t, s, map[string]float64{
		`tedee2mqtt_webhooks_total{event="lock-status-changed",outcome="applied",source="bridge"}`: 2,
		`tedee2mqtt_webhooks_total{event="lock-status-changed",outcome="stale",source="bridge"}`:   1,
		`tedee2mqtt_webhooks_total{event="other",outcome="unknown_event",source="bridge"}`:         2,
		`tedee2mqtt_webhooks_total{event="invalid",outcome="invalid",source="bridge"}`:             1,
		`tedee2mqtt_webhooks_total{event="unknown",outcome="unauthorized",source="bridge"}`:        1,
		`tedee2mqtt_out_of_order_events_total`:                                                     1,
	})
}

type fakeMQTT struct {
	connected bool
	pending   int
	dropped   uint64
}

func (f fakeMQTT) Connected() bool       { return f.connected }
func (f fakeMQTT) Pending() int          { return f.pending }
func (f fakeMQTT) DroppedEvents() uint64 { return f.dropped }

func TestMQTT(t *testing.T) {
	m := New()
	// Before the client exists every MQTT series is there, at 0.
	expect(t, scrape(t, m), map[string]float64{
		`tedee2mqtt_mqtt_connected`: 0, `tedee2mqtt_mqtt_pending_messages`: 0, `tedee2mqtt_mqtt_dropped_events_total`: 0,
		`tedee2mqtt_mqtt_publishes_total{result="ok"}`: 0, `tedee2mqtt_mqtt_publishes_total{result="error"}`: 0,
	})
	m.SetMQTT(fakeMQTT{connected: true, pending: 7, dropped: 3})
	m.Published(true)
	m.Published(true)
	m.Published(false)
	expect(t, scrape(t, m), map[string]float64{
		`tedee2mqtt_mqtt_connected`: 1, `tedee2mqtt_mqtt_pending_messages`: 7, `tedee2mqtt_mqtt_dropped_events_total`: 3,
		`tedee2mqtt_mqtt_publishes_total{result="ok"}`: 2, `tedee2mqtt_mqtt_publishes_total{result="error"}`: 1,
	})
	m.SetMQTT(nil)
	expect(t, scrape(t, m), map[string]float64{`tedee2mqtt_mqtt_connected`: 0})
}

func TestBridgeAndCommands(t *testing.T) {
	m := New()
	m.ObserveBridgeRequest("home", "GET /lock", 200, 30*time.Millisecond)
	m.ObserveBridgeRequest("home", "GET /lock", 200, 2*time.Second)
	m.ObserveBridgeRequest("home", "POST /lock/{id}/unlock", 0, 5*time.Second)
	m.ObserveBridgeRequest("office", "GET /lock", 401, time.Millisecond)
	m.ObserveCommand("unlock", true)
	m.ObserveCommand("unlock", false)
	m.ObserveCommand("open", true)
	expect(t, scrape(t, m), map[string]float64{
		`tedee2mqtt_bridge_api_requests_total{bridge="home",endpoint="GET /lock",status="200"}`:                2,
		`tedee2mqtt_bridge_api_requests_total{bridge="home",endpoint="POST /lock/{id}/unlock",status="error"}`: 1,
		`tedee2mqtt_bridge_api_requests_total{bridge="office",endpoint="GET /lock",status="401"}`:              1,
		`tedee2mqtt_bridge_api_request_duration_seconds_count{bridge="home",endpoint="GET /lock"}`:             2,
		`tedee2mqtt_bridge_api_request_duration_seconds_sum{bridge="home",endpoint="GET /lock"}`:               2.03,
		`tedee2mqtt_bridge_api_request_duration_seconds_bucket{bridge="home",endpoint="GET /lock",le="0.05"}`:  1,
		`tedee2mqtt_bridge_api_request_duration_seconds_bucket{bridge="home",endpoint="GET /lock",le="+Inf"}`:  2,
		`tedee2mqtt_command_results_total{command="unlock",result="ok"}`:                                       1,
		`tedee2mqtt_command_results_total{command="unlock",result="error"}`:                                    1,
		`tedee2mqtt_command_results_total{command="open",result="ok"}`:                                         1,
	})
}

// TestEndpointsBounded: a caller passing concrete URLs cannot grow the series without bound.
func TestEndpointsBounded(t *testing.T) {
	m := New()
	for i := range 100 {
		m.ObserveBridgeRequest("home", fmt.Sprintf("GET /lock/%d", i), 200, time.Millisecond)
	}
	s := scrape(t, m)
	n := 0
	for k := range s {
		if strings.HasPrefix(k, "tedee2mqtt_bridge_api_requests_total{") {
			n++
		}
	}
	if n != maxDynamicLabels+1 {
		t.Errorf("%d series, want %d", n, maxDynamicLabels+1)
	}
	expect(t, s, map[string]float64{
		`tedee2mqtt_bridge_api_requests_total{bridge="home",endpoint="GET /lock/0",status="200"}`: 1,
		`tedee2mqtt_bridge_api_requests_total{bridge="home",endpoint="other",status="200"}`:       100 - maxDynamicLabels,
	})
}

// TestOwnRegistry: two instances do not collide (nothing touches the global registry), and the
// Go and process collectors are there.
func TestOwnRegistry(t *testing.T) {
	a, b := New(), New()
	a.Webhook("bridge", "lock-status-changed", "applied")
	sb := scrape(t, b)
	if _, ok := sb[`tedee2mqtt_webhooks_total{event="lock-status-changed",outcome="applied",source="bridge"}`]; ok {
		t.Errorf("an instance sees another's counts")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := sb[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				m.Webhook("bridge", "lock-status-changed", "applied")
				m.Published(j%2 == 0)
				m.ObserveBridgeRequest("home", fmt.Sprintf("GET /e%d", (i*100+j)%40), 200, time.Millisecond)
				m.ObserveCommand("lock", true)
			}
		})
	}
	wg.Go(func() { m.SetMQTT(fakeMQTT{connected: true}) })
	wg.Wait()
	expect(t, scrape(t, m), map[string]float64{
		`tedee2mqtt_webhooks_total{event="lock-status-changed",outcome="applied",source="bridge"}`: 800,
		`tedee2mqtt_command_results_total{command="lock",result="ok"}`:                             800,
		`tedee2mqtt_mqtt_publishes_total{result="ok"}`:                                             400,
	})
}

// TestHTTPPanics: the panic counter is exported from the start (0, so an alert on any increase
// works) and counts each recovered panic.
func TestHTTPPanics(t *testing.T) {
	m := New()
	expect(t, scrape(t, m), map[string]float64{`tedee2mqtt_http_panics_total`: 0})
	m.HTTPPanic()
	m.HTTPPanic()
	expect(t, scrape(t, m), map[string]float64{`tedee2mqtt_http_panics_total`: 2})
}

// TestRefusedConnections: both limits are exported from the start and count each refusal.
func TestRefusedConnections(t *testing.T) {
	m := New()
	expect(t, scrape(t, m), map[string]float64{`tedee2mqtt_http_refused_connections_total{limit="source"}`: 0,
		`tedee2mqtt_http_refused_connections_total{limit="total"}`: 0})
	m.ConnRefused("source")
	m.ConnRefused("source")
	m.ConnRefused("total")
	expect(t, scrape(t, m), map[string]float64{`tedee2mqtt_http_refused_connections_total{limit="source"}`: 2,
		`tedee2mqtt_http_refused_connections_total{limit="total"}`: 1})
}

func TestCloudMetrics(t *testing.T) {
	m := New()
	st := CloudStats{Sent: 12, Skipped: 3, RateLimited: 1, LastHour: 9}
	m.SetCloud(func() CloudStats { return st })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`tedee2mqtt_cloud_api_requests_total{outcome="sent"} 12`,
		`tedee2mqtt_cloud_api_requests_total{outcome="skipped"} 3`,
		`tedee2mqtt_cloud_api_requests_total{outcome="rate_limited"} 1`,
		`tedee2mqtt_cloud_api_requests_last_hour 9`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
