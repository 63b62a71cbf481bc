package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
)

// response waits for the operator API's answer with that transaction on response/<op>.
func response(t *testing.T, rec *brokertest.Recorder, op, transaction string) map[string]any {
	t.Helper()
	var got map[string]any
	rec.WaitUntil(t, waitTimeout, "response/"+op+" for "+transaction, func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic != "tedee/bridge/response/"+op {
				continue
			}
			var r map[string]any
			if json.Unmarshal([]byte(m.Payload), &r) == nil && r["transaction"] == transaction {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// TestOperatorAPI: bridge info and devices, every request with its transaction, errors that say
// why, a refused retained request, and get.
func TestOperatorAPI(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	startService(t, b.URL(), bridgeConfig(host, ""))
	rec.WaitFor(t, "tedee/"+goSerial+"/state", "unlocked", waitTimeout)

	rec.WaitUntil(t, waitTimeout, "info with a healthy bridge and devices with both locks", func([]brokertest.Message) bool {
		info, ok1 := rec.Last("tedee/bridge/info")
		devices, ok2 := rec.Last("tedee/bridge/devices")
		return ok1 && ok2 && strings.Contains(info.Payload, `"bridge":"home","api":true`) &&
			strings.Contains(devices.Payload, proSerial) && strings.Contains(devices.Payload, goSerial) &&
			strings.Contains(devices.Payload, `"firmware":"2.0.10724"`)
	})
	// Diagnostics (contract §7): retained topics, and the entities that read them.
	for topic, want := range map[string]string{"tedee/" + bridgeSer + "/api": "true", "tedee/" + bridgeSer + "/callback": "not_configured",
		"tedee/" + bridgeSer + "/firmware": "2.2.31232", "tedee/" + proSerial + "/rssi": "-45", "tedee/" + proSerial + "/firmware": "2.0.10724"} {
		rec.WaitFor(t, topic, want, waitTimeout)
	}
	for _, cfg := range []string{"homeassistant/binary_sensor/tedee_bridge_home_api/config", "homeassistant/sensor/tedee_bridge_home_last_sync/config",
		"homeassistant/sensor/tedee_" + proSerial + "_rssi/config"} {
		rec.WaitUntil(t, waitTimeout, cfg, func([]brokertest.Message) bool { m, ok := rec.Last(cfg); return ok && m.Payload != "" })
	}
	if m, _ := rec.Last("tedee/" + bridgeSer + "/last_sync"); !strings.HasPrefix(m.Payload, "20") {
		t.Errorf("last_sync %q, want an RFC 3339 time", m.Payload)
	}
	info, _ := rec.Last("tedee/bridge/info")
	if strings.Contains(info.Payload, bridgeToken) || !strings.Contains(info.Payload, `"version":"dev"`) {
		t.Errorf("info: %s", info.Payload)
	}

	brokertest.Publish(t, b.URL(), "tedee/bridge/request/sync", `{"transaction":"s1","bridge":"home"}`)
	if r := response(t, rec, "sync", "s1"); r["status"] != "ok" {
		t.Errorf("sync: %v", r)
	}
	brokertest.Publish(t, b.URL(), "tedee/bridge/request/health_check", `{"transaction":"h1"}`)
	if r := response(t, rec, "health_check", "h1"); r["status"] != "ok" || r["data"].(map[string]any)["healthy"] != true {
		t.Errorf("health_check: %v", r)
	}
	brokertest.Publish(t, b.URL(), "tedee/bridge/request/sync", `{"transaction":"s2","bridge":"garage"}`)
	if r := response(t, rec, "sync", "s2"); r["status"] != "error" || !strings.Contains(r["error"].(string), `"garage"`) {
		t.Errorf("sync of an unknown bridge: %v", r)
	}
	brokertest.Publish(t, b.URL(), "tedee/bridge/request/reboot", `{"transaction":"x1"}`)
	if r := response(t, rec, "reboot", "x1"); r["status"] != "error" || !strings.Contains(r["error"].(string), "health_check") {
		t.Errorf("unknown request: %v", r)
	}
	brokertest.Publish(t, b.URL(), "tedee/bridge/request/sync", `not json`)
	rec.WaitUntil(t, waitTimeout, "an error for bad JSON", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/bridge/response/sync" && strings.Contains(m.Payload, "not a JSON object") {
				return true
			}
		}
		return false
	})
	// A retained request published while the service listens arrives live: it runs once, and is
	// cleared so that it never replays (one seen retained at a (re)connection is refused:
	// pkg/operator's tests).
	brokertest.PublishRetained(t, b.URL(), map[string]string{"tedee/bridge/request/health_check": `{"transaction":"h2"}`})
	if r := response(t, rec, "health_check", "h2"); r["status"] != "ok" {
		t.Errorf("retained request received live: %v", r)
	}
	rec.WaitUntil(t, waitTimeout, "the retained request cleared", func([]brokertest.Message) bool {
		m, ok := rec.Last("tedee/bridge/request/health_check")
		return ok && m.Payload == ""
	})

	// get reads the lock again: the fake's lock moved without telling anyone (no callback).
	fb.Update(1, func(l *fakebridge.Lock) { l.State = 2 })
	brokertest.Publish(t, b.URL(), "tedee/"+proSerial+"/get", "")
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "unlocked", waitTimeout)

	brokertest.Publish(t, b.URL(), "tedee/bridge/request/device/remove", `{"transaction":"r1","serial":"`+goSerial+`"}`)
	if r := response(t, rec, "device/remove", "r1"); r["status"] != "ok" {
		t.Errorf("device/remove: %v", r)
	}
	rec.WaitUntil(t, waitTimeout, "the removed lock's entities and topics cleared", func([]brokertest.Message) bool {
		cfg, ok1 := rec.Last("homeassistant/lock/tedee_" + goSerial + "_lock/config")
		st, ok2 := rec.Last("tedee/" + goSerial + "/state")
		d, ok3 := rec.Last("tedee/bridge/devices")
		return ok1 && cfg.Payload == "" && ok2 && st.Payload == "" && ok3 && !strings.Contains(d.Payload, goSerial)
	})
}
