package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

const cloudSecret = "cloud-path-secret-0123456789"

func cloudFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "tedee", "testdata", "cloud", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCloudWebhooks: the seed's lock-status-changed and the other cloud events reach the lock's
// topics; the copy sent for a second user is dropped; a wrong path secret and an unmapped device
// publish nothing; a cloud event older than the bridge's newest changes nothing; the path secret
// never reaches the logs.
func TestCloudWebhooks(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	svc := startService(t, b.URL(), "bridges:\n  - name: home\ncloud:\n  enabled: true\n  path_secret: "+cloudSecret+
		"\n  devices:\n    \"12345\": CLOUD-1\n", "TEDEE2MQTT_HTTP_SECRET="+testSecret)
	url := svc.base + "/webhook/cloud/" + cloudSecret
	post := func(url, body string, want int) {
		t.Helper()
		if status, resp := request(t, "POST", url, body); status != want {
			t.Fatalf("POST %s: %d %s, want %d", body, status, resp, want)
		}
	}
	// Authenticated by the path secret alone, though bridges need the bearer token.
	post(url, cloudFixture(t, "lock-status-changed"), http.StatusNoContent)
	rec.WaitFor(t, "tedee/CLOUD-1/state", "locked", waitTimeout)
	rec.WaitFor(t, "tedee/CLOUD-1/door", "closed", waitTimeout)
	for _, name := range []string{"device-battery-level-changed", "device-connection-changed", "device-settings-changed", "bell-button-pressed"} {
		post(url, cloudFixture(t, name), http.StatusNoContent)
	}
	rec.WaitFor(t, "tedee/CLOUD-1/battery", "80", waitTimeout)
	rec.WaitFor(t, "tedee/CLOUD-1/connected", "true", waitTimeout)
	// The settings event names the lock as in the Tedee app.
	rec.WaitUntil(t, waitTimeout, `json with "name":"Home"`, func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/CLOUD-1/json" && strings.Contains(m.Payload, `"name":"Home"`) {
				return true
			}
		}
		return false
	})

	// The second user's copy, a wrong secret and an unmapped device publish nothing.
	post(url, strings.Replace(cloudFixture(t, "lock-status-changed"), "<user-identity>", "user-2", 1), http.StatusNoContent)
	post(svc.base+"/webhook/cloud/wrong-secret-0123456789", strings.Replace(cloudFixture(t, "lock-status-changed"), `"state": 6`, `"state": 2`, 1), http.StatusNotFound)
	post(svc.base+"/webhook/cloud", cloudFixture(t, "lock-status-changed"), http.StatusNotFound)
	post(url, strings.Replace(cloudFixture(t, "device-battery-level-changed"), "12345", "777", 1), http.StatusNoContent)
	// A bridge reports the lock unlocked after the cloud's old event; the cloud's copy of an older
	// change arrives late.
	if status, resp := request(t, "POST", svc.base+"/webhook/home",
		`{"event":"lock-status-changed","timestamp":"2022-11-09T14:16:00.000Z","data":{"deviceType":2,"deviceId":12345,"serialNumber":"CLOUD-1","state":2,"jammed":0}}`,
		"Authorization", "Bearer "+testSecret); status != http.StatusNoContent {
		t.Fatalf("bridge webhook: %d %s", status, resp)
	}
	rec.WaitFor(t, "tedee/CLOUD-1/state", "unlocked", waitTimeout)
	late := strings.Replace(cloudFixture(t, "lock-status-changed"), "2022-11-09T14:15:28.327Z", "2022-11-09T14:15:59.000Z", 1)
	post(url, late, http.StatusNoContent)
	// Marker: a newer battery level, after which nothing else may have been published.
	post(url, strings.Replace(strings.Replace(cloudFixture(t, "device-battery-level-changed"), `"batteryLevel": 80`, `"batteryLevel": 79`, 1),
		"2022-11-09T14:15:28.327Z", "2022-11-09T14:17:00.000Z", 1), http.StatusNoContent)
	rec.WaitFor(t, "tedee/CLOUD-1/battery", "79", waitTimeout)
	rec.WaitUntil(t, waitTimeout, "the marker's event message", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/CLOUD-1/event" && strings.Contains(m.Payload, `"batteryLevel":79`) {
				return true
			}
		}
		return false
	})

	var events, states []string
	for _, m := range rec.Messages() {
		switch m.Topic {
		case "tedee/CLOUD-1/event":
			events = append(events, m.Payload)
		case "tedee/CLOUD-1/state":
			// The connection's republish may repeat a state; only changes count here.
			if len(states) == 0 || states[len(states)-1] != m.Payload {
				states = append(states, m.Payload)
			}
		}
		if strings.Contains(m.Topic, "777") {
			t.Errorf("unmapped device published %s", m.Topic)
		}
	}
	if got := strings.Join(states, ","); got != "locked,unlocked" {
		t.Errorf("state messages %s, want locked,unlocked (no duplicate, no wrong secret, no rollback)", got)
	}
	// 5 fixtures + the bridge's event + the marker; no duplicate, no rejected or stale event.
	if len(events) != 7 {
		t.Errorf("%d event messages, want 7: %v", len(events), events)
	}

	resp, err := http.Get(svc.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tedee2mqtt_webhooks_total{event="lock-status-changed",outcome="duplicate",source="cloud"} 1`,
		`tedee2mqtt_webhooks_total{event="device-battery-level-changed",outcome="unmapped",source="cloud"} 1`,
		`tedee2mqtt_webhooks_total{event="lock-status-changed",outcome="stale",source="cloud"} 1`,
		`tedee2mqtt_webhooks_total{event="unknown",outcome="unauthorized",source="cloud"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(svc.logs.String(), cloudSecret) {
		t.Errorf("the cloud path secret appears in the logs")
	}
}
