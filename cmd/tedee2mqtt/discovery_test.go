package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/hacheck"
)

// wantDiscovery is the exact set of retained discovery topics after the webhooks sendTwoLocks
// sends: a Lock PRO with a paired door sensor, a Lock GO without, and their bridge.
var wantDiscovery = []string{
	"homeassistant/binary_sensor/tedee_GO-1_connectivity/config",
	"homeassistant/binary_sensor/tedee_GO-1_jammed/config",
	"homeassistant/binary_sensor/tedee_PRO-1_charging/config",
	"homeassistant/binary_sensor/tedee_PRO-1_connectivity/config",
	"homeassistant/binary_sensor/tedee_PRO-1_door/config",
	"homeassistant/binary_sensor/tedee_PRO-1_jammed/config",
	"homeassistant/binary_sensor/tedee_bridge_home_cloud/config",
	"homeassistant/lock/tedee_GO-1_lock/config",
	"homeassistant/lock/tedee_PRO-1_lock/config",
	"homeassistant/sensor/tedee_GO-1_battery/config",
	"homeassistant/sensor/tedee_GO-1_lock_state/config",
	"homeassistant/sensor/tedee_PRO-1_battery/config",
	"homeassistant/sensor/tedee_PRO-1_lock_state/config",
}

func sendTwoLocks(t *testing.T, svc *service) {
	t.Helper()
	for _, body := range []string{
		`{"event":"lock-status-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"PRO-1","state":6,"jammed":0,"doorState":3}}`,
		`{"event":"lock-status-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":4,"deviceId":2,"serialNumber":"GO-1","state":2,"jammed":0,"doorState":0}}`,
		`{"event":"device-battery-level-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":4,"deviceId":2,"serialNumber":"GO-1","batteryLevel":255}}`,
	} {
		if status, resp := request(t, "POST", svc.base+"/webhook/home", body); status != http.StatusNoContent {
			t.Fatalf("webhook: %d %s", status, resp)
		}
	}
}

// discoveryConfigs returns the retained discovery configs, checked against Home Assistant's rules.
func discoveryConfigs(t *testing.T, url string) map[string]string {
	t.Helper()
	got := brokertest.Retained(t, url, "homeassistant/#")
	for topic, payload := range got {
		if err := hacheck.Validate(topic, []byte(payload)); err != nil {
			t.Error(err)
		}
	}
	return got
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func uniqueIDs(t *testing.T, configs map[string]string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for topic, payload := range configs {
		var c struct {
			UniqueID string `json:"unique_id"`
		}
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		ids[topic] = c.UniqueID
	}
	return ids
}

func TestHomeAssistantDiscovery(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "homeassistant/#")
	svc := startService(t, b.URL(), "bridges:\n  - name: home\n")
	sendTwoLocks(t, svc)
	rec.WaitUntil(t, waitTimeout, "all discovery configs", func(msgs []brokertest.Message) bool {
		seen := map[string]bool{}
		for _, m := range msgs {
			seen[m.Topic] = true
		}
		return len(seen) == len(wantDiscovery)
	})
	configs := discoveryConfigs(t, b.URL())
	if got := strings.Join(keys(configs), "\n"); got != strings.Join(wantDiscovery, "\n") {
		t.Fatalf("retained discovery topics:\n%s\nwant:\n%s", got, strings.Join(wantDiscovery, "\n"))
	}
	ids := uniqueIDs(t, configs)

	// Clearing a config (as when a user deletes the entity) and Home Assistant's birth message
	// bring it back.
	cleared := "homeassistant/sensor/tedee_GO-1_battery/config"
	publish(t, b.URL(), cleared, "", true)
	publish(t, b.URL(), "homeassistant/status", "online", false)
	rec.WaitFor(t, cleared, configs[cleared], waitTimeout)

	// A restarted service publishes the same configs with the same unique_ids. Clear them all
	// first, so that what is retained afterwards can only come from the new process.
	svc.stop(t)
	for _, topic := range wantDiscovery {
		publish(t, b.URL(), topic, "", true)
	}
	if left := brokertest.Retained(t, b.URL(), "homeassistant/#"); len(left) != 0 {
		t.Fatalf("configs not cleared: %v", keys(left))
	}
	svc2 := startService(t, b.URL(), "bridges:\n  - name: home\n")
	sendTwoLocks(t, svc2)
	rec.WaitUntil(t, waitTimeout, "every config published again", func([]brokertest.Message) bool {
		return len(brokertest.Retained(t, b.URL(), "homeassistant/#")) == len(wantDiscovery)
	})
	if got := uniqueIDs(t, discoveryConfigs(t, b.URL())); !equalMaps(got, ids) {
		t.Errorf("unique_ids changed across a restart:\n%v\nwas\n%v", got, ids)
	}
}

func TestHomeAssistantDisabled(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	svc := startService(t, b.URL(), "homeassistant:\n  enabled: false\n")
	sendTwoLocksDefault(t, svc)
	rec.WaitFor(t, "tedee/GO-1/battery", "unknown", waitTimeout)
	publish(t, b.URL(), "homeassistant/status", "online", false)
	time.Sleep(3 * time.Second) // longer than the republish delay
	for _, m := range rec.Messages() {
		if strings.HasPrefix(m.Topic, "homeassistant/") && m.Topic != "homeassistant/status" {
			t.Errorf("discovery published although disabled: %s", m.Topic)
		}
	}
}

func sendTwoLocksDefault(t *testing.T, svc *service) {
	t.Helper()
	for _, body := range []string{
		`{"event":"lock-status-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"PRO-1","state":6}}`,
		`{"event":"device-battery-level-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":4,"deviceId":2,"serialNumber":"GO-1","batteryLevel":255}}`,
	} {
		if status, resp := request(t, "POST", svc.base+"/webhook", body); status != http.StatusNoContent {
			t.Fatalf("webhook: %d %s", status, resp)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// publish sends one message as another MQTT client would (Home Assistant, or a user).
func publish(t *testing.T, url, topic, payload string, retained bool) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-publisher-" + time.Now().Format("150405.000000000")))
	if tok := c.Connect(); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// TestRepublishAfterBrokerRestart: a broker restarted without persistence has lost every retained
// message; on reconnecting, tedee2mqtt publishes discovery and state again.
func TestRepublishAfterBrokerRestart(t *testing.T) {
	b := brokertest.Start(t)
	svc := startService(t, b.URL(), "bridges:\n  - name: home\n")
	sendTwoLocks(t, svc)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	rec.WaitFor(t, "tedee/GO-1/battery", "unknown", waitTimeout)
	b.Stop(t)
	b.Restart(t)
	deadline := time.Now().Add(30 * time.Second) // paho's reconnect back-off
	for {
		got := brokertest.Retained(t, b.URL(), "#")
		complete := got["tedee/PRO-1/state"] == "locked" && got["tedee/GO-1/battery"] == "unknown" && got["tedee/status"] == "online"
		for _, topic := range wantDiscovery {
			complete = complete && got[topic] != ""
		}
		if complete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the broker restart, retained topics are %v", keys(got))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
