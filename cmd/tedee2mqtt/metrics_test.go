package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
)

// scrapeMetrics GETs /metrics and returns every sample keyed "name{labels}" as written.
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	status, body := request(t, http.MethodGet, base+"/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	return httpcheck.Samples(t, strings.NewReader(body))
}

func webhookSeries(event, outcome string) string {
	return fmt.Sprintf(`tedee2mqtt_webhooks_total{event=%q,outcome=%q,source="bridge"}`, event, outcome)
}

// TestMetrics runs the service, sends webhooks with every common outcome and checks that
// /metrics counted each exactly once, and that MQTT delivery is visible.
func TestMetrics(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	svc := startService(t, b.URL(), "bridges:\n  - name: home\n", "TEDEE2MQTT_HTTP_SECRET="+testSecret)
	auth := []string{"Authorization", "Bearer " + testSecret}

	before := scrapeMetrics(t, svc.base)
	if before["tedee2mqtt_mqtt_connected"] != 1 {
		t.Errorf("mqtt_connected = %v while ready, want 1", before["tedee2mqtt_mqtt_connected"])
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "tedee2mqtt_mqtt_pending_messages",
		"tedee2mqtt_mqtt_dropped_events_total", "tedee2mqtt_out_of_order_events_total"} {
		if _, ok := before[name]; !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}

	lock := func(ts string, state int) string {
		return fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":1,"serialNumber":"M-1","state":%d,"jammed":0}}`, ts, state)
	}
	sends := []struct {
		path, body string
		header     []string
		status     int
	}{
		{"/webhook/home", lock("2026-11-01T10:00:02.000Z", 6), auth, 204},
		{"/webhook/home", lock("2026-11-01T10:00:03.000Z", 2), auth, 204},
		{"/webhook/home", lock("2026-11-01T10:00:01.000Z", 6), auth, 204}, // stale
		{"/webhook/home", `{"event":"keypad-pressed","timestamp":"2026-11-01T10:00:04.000Z","data":{"serialNumber":"M-1"}}`, auth, 204},
		{"/webhook/home", `{"event":"lock-status-changed",`, auth, 400},
		{"/webhook/home", lock("2026-11-01T10:00:05.000Z", 6), nil, 401},
		{"/webhook/home", lock("2026-11-01T10:00:05.000Z", 6), []string{"Authorization", "Bearer wrong"}, 401},
		{"/webhook/garage", lock("2026-11-01T10:00:05.000Z", 6), auth, 404},
	}
	for _, s := range sends {
		if status, body := request(t, http.MethodPost, svc.base+s.path, s.body, s.header...); status != s.status {
			t.Fatalf("POST %s %s: %d %s, want %d", s.path, s.body, status, body, s.status)
		}
	}
	rec.WaitFor(t, "tedee/M-1/state", "unlocked", waitTimeout)

	after := scrapeMetrics(t, svc.base)
	for series, delta := range map[string]float64{
		webhookSeries("lock-status-changed", "applied"): 2,
		webhookSeries("lock-status-changed", "stale"):   1,
		webhookSeries("other", "unknown_event"):         1,
		webhookSeries("invalid", "invalid"):             1,
		webhookSeries("unknown", "unauthorized"):        2,
		webhookSeries("unknown", "unknown_bridge"):      1,
		"tedee2mqtt_out_of_order_events_total":          1,
	} {
		if got := after[series] - before[series]; got != delta {
			t.Errorf("%s moved by %v, want %v", series, got, delta)
		}
	}
	for series := range after {
		if strings.HasPrefix(series, "tedee2mqtt_webhooks_total{") && strings.Contains(series, "keypad") {
			t.Errorf("unbounded event label: %s", series)
		}
	}

	// Publishes are counted as the broker acknowledges them: the state seen on the broker above
	// was acknowledged, and nothing failed against a healthy broker.
	deadline := time.Now().Add(waitTimeout)
	for {
		m := scrapeMetrics(t, svc.base)
		ok := m[`tedee2mqtt_mqtt_publishes_total{result="ok"}`] - before[`tedee2mqtt_mqtt_publishes_total{result="ok"}`]
		if ok > 0 && m["tedee2mqtt_mqtt_pending_messages"] == 0 {
			if e := m[`tedee2mqtt_mqtt_publishes_total{result="error"}`]; e != 0 {
				t.Errorf("mqtt_publishes_total{result=error} = %v against a healthy broker", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishes ok moved by %v, pending %v", ok, m["tedee2mqtt_mqtt_pending_messages"])
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The request logger and the webhook's lines carry the id answered in X-Request-Id.
	req, _ := http.NewRequest(http.MethodPost, svc.base+"/webhook/home", strings.NewReader(`{"event":`))
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id in the answer")
	}
	deadline = time.Now().Add(waitTimeout)
	for strings.Count(svc.logs.String(), `"request_id":"`+id+`"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("request_id %s not on the webhook and request log lines; logs:\n%s", id, svc.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsWhileBrokerDown: with the broker gone, mqtt_connected drops to 0 and what is
// accepted meanwhile shows as pending.
func TestMetricsWhileBrokerDown(t *testing.T) {
	b := brokertest.Start(t)
	svc := startService(t, b.URL(), "")
	b.Stop(t)
	deadline := time.Now().Add(waitTimeout)
	for scrapeMetrics(t, svc.base)["tedee2mqtt_mqtt_connected"] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("mqtt_connected still 1 with the broker stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, body := send(t, svc.base, "", "lock-status-changed.json", "DOWN-1"); status != http.StatusNoContent {
		t.Fatalf("webhook: %d %s", status, body)
	}
	if p := scrapeMetrics(t, svc.base)["tedee2mqtt_mqtt_pending_messages"]; p == 0 {
		t.Errorf("mqtt_pending_messages = 0 with an event accepted while the broker is down")
	}
	b.Restart(t)
	deadline = time.Now().Add(30 * time.Second)
	for m := scrapeMetrics(t, svc.base); m["tedee2mqtt_mqtt_connected"] != 1 || m["tedee2mqtt_mqtt_pending_messages"] != 0; m = scrapeMetrics(t, svc.base) {
		if time.Now().After(deadline) {
			t.Fatalf("after restart: connected %v, pending %v", m["tedee2mqtt_mqtt_connected"], m["tedee2mqtt_mqtt_pending_messages"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
