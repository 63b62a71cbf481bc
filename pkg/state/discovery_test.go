package state

import (
	"strings"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/internal/hacheck"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
)

var discOpts = &homeassistant.Options{Prefix: "homeassistant", Base: "tedee", QoS: 1, Version: "test"}

// discovery returns the discovery messages among msgs as "topic" or "topic (removed)", checking
// each against Home Assistant's rules.
func discovery(t *testing.T, msgs []Message) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		if !strings.HasPrefix(m.Topic, "homeassistant/") {
			continue
		}
		if !m.Retain {
			t.Errorf("discovery config %s not retained", m.Topic)
		}
		if err := hacheck.Validate(m.Topic, m.Payload); err != nil {
			t.Error(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(m.Topic, "homeassistant/"), "/config")
		if len(m.Payload) == 0 {
			name += " (removed)"
		}
		out = append(out, name)
	}
	return out
}

func TestDiscoveryLifecycle(t *testing.T) {
	s := New("tedee", discOpts)
	apply := func(body string) []string {
		t.Helper()
		msgs, err := s.Apply("home", decode(t, body), now)
		if err != nil {
			t.Fatal(err)
		}
		return discovery(t, msgs)
	}
	got := apply(status(t0, 6, `,"jammed":0,"doorState":0`))
	want := "binary_sensor/tedee_bridge_home_cloud lock/tedee_L-1_lock sensor/tedee_L-1_battery binary_sensor/tedee_L-1_charging binary_sensor/tedee_L-1_connectivity binary_sensor/tedee_L-1_jammed sensor/tedee_L-1_lock_state"
	if strings.Join(got, " ") != want {
		t.Errorf("first event:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if got := apply(battery(t0.Add(1), 80)); len(got) != 0 {
		t.Errorf("nothing changed for discovery, yet it published %v", got)
	}
	// A door sensor reporting a paired state brings the door entity; "not paired" removes it.
	if got := strings.Join(apply(status(t0.Add(2), 6, `,"doorState":3`)), " "); got != "binary_sensor/tedee_L-1_door" {
		t.Errorf("door paired: %s", got)
	}
	if got := strings.Join(apply(status(t0.Add(3), 6, `,"doorState":1`)), " "); got != "" {
		t.Errorf("door disconnected is still paired, yet: %s", got)
	}
	if got := strings.Join(apply(status(t0.Add(4), 6, `,"doorState":0`)), " "); got != "binary_sensor/tedee_L-1_door (removed)" {
		t.Errorf("door unpaired: %s", got)
	}
	// Seeing the lock pull proves it can: the lock entity gains payload_open.
	msgs, err := s.Apply("home", decode(t, status(t0.Add(5), 8, ``)), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(discovery(t, msgs), " "); got != "lock/tedee_L-1_lock" || !strings.Contains(string(msgs[0].Payload), `"payload_open":"open"`) {
		t.Errorf("after pulling: %s %s", got, msgs[0].Payload)
	}
}

func TestDiscoveryDisabled(t *testing.T) {
	s := New("tedee", nil)
	msgs := mustApply(t, s, status(t0, 6, `,"doorState":3`))
	msgs = append(msgs, s.Republish()...)
	for _, m := range msgs {
		if strings.HasPrefix(m.Topic, "homeassistant/") {
			t.Errorf("discovery published although disabled: %s", m.Topic)
		}
	}
}

func TestRepublishAndRemove(t *testing.T) {
	s := New("tedee", discOpts)
	mustApply(t, s, status(t0, 6, `,"jammed":0,"doorState":3`))
	mustApply(t, s, battery(t0, 255))
	ev := decode(t, `{"event":"backend-connection-changed","timestamp":"2026-11-01T12:00:00Z","data":{"isConnected":1}}`)
	if _, err := s.Apply("home", ev, now); err != nil {
		t.Fatal(err)
	}
	got := byTopic(s.Republish())
	for topic, payload := range map[string]string{"tedee/L-1/state": "locked", "tedee/L-1/battery": "unknown",
		"tedee/L-1/door": "closed", "tedee/L-1/jammed": "false", "tedee/L-1/connected": "true", "tedee/home/connected": "true"} {
		if got[topic] != payload {
			t.Errorf("republished %s = %q, want %q", topic, got[topic], payload)
		}
	}
	for _, topic := range []string{"homeassistant/lock/tedee_L-1_lock/config", "homeassistant/binary_sensor/tedee_L-1_door/config",
		"homeassistant/binary_sensor/tedee_bridge_home_cloud/config", "tedee/L-1/json", "tedee/home/json"} {
		if got[topic] == "" {
			t.Errorf("republish lacks %s", topic)
		}
	}
	if _, charging := got["tedee/L-1/charging"]; charging {
		t.Errorf("republished charging, which was never reported")
	}

	removed := s.RemoveLock("L-1")
	for _, m := range removed {
		if len(m.Payload) != 0 || !m.Retain {
			t.Errorf("removal %s = %q retained=%v, want empty retained", m.Topic, m.Payload, m.Retain)
		}
	}
	if got := discovery(t, removed); len(got) != 7 {
		t.Errorf("removed %d configs (%v), want all 7 of a Lock PRO with door", len(got), got)
	}
	if got := byTopic(s.Republish()); got["tedee/L-1/json"] != "" {
		t.Errorf("removed lock still republished")
	}
}
