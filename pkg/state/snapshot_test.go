package state

import (
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

func snapshot(state int, battery int) LockSnapshot {
	door := tedee.DoorState(3)
	return LockSnapshot{ID: 7, Serial: "L-1", Name: "Front door", DeviceType: 2, Firmware: "2.0.1", Connected: new(true),
		State: new(tedee.LockState(state)), Jammed: new(false), DoorState: &door, Battery: new(battery), Charging: new(false),
		PullSpring: new(true)}
}

func TestSnapshotFirstSight(t *testing.T) {
	s := New("tedee", discOpts)
	msgs, err := s.ApplySnapshot("home", snapshot(6, 255), t0, now)
	if err != nil {
		t.Fatal(err)
	}
	got := byTopic(msgs)
	for topic, want := range map[string]string{"tedee/L-1/state": "locked", "tedee/L-1/jammed": "false",
		"tedee/L-1/door": "closed", "tedee/L-1/battery": "unknown", "tedee/L-1/charging": "false", "tedee/L-1/connected": "true"} {
		if got[topic] != want {
			t.Errorf("%s = %q, want %q", topic, got[topic], want)
		}
	}
	if _, ok := got["tedee/L-1/event"]; ok {
		t.Errorf("a poll published an event message")
	}
	lockCfg := got["homeassistant/lock/tedee_L-1_lock/config"]
	if !strings.Contains(lockCfg, `"name":"Front door"`) || !strings.Contains(lockCfg, `"sw_version":"2.0.1"`) ||
		!strings.Contains(lockCfg, `"payload_open":"open"`) {
		t.Errorf("lock config lacks name, firmware or open: %s", lockCfg)
	}
	discovery(t, msgs) // validates every config
}

// TestSnapshotNeverRollsBack: a poll that started before a webhook's event does not undo it, an
// unchanged poll publishes only the json (the times of the ordering rule moved, and a restart
// must read them back), and a newer poll applies.
func TestSnapshotNeverRollsBack(t *testing.T) {
	s := New("tedee", nil)
	if _, err := s.ApplySnapshot("home", snapshot(6, 80), t0, now); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, status(t0.Add(2*time.Second), 2, `,"jammed":0`)) // unlocked by webhook
	msgs, err := s.ApplySnapshot("home", snapshot(6, 70), t0.Add(time.Second), now)
	if err != nil {
		t.Fatal(err)
	}
	got := byTopic(msgs)
	if _, ok := got["tedee/L-1/state"]; ok {
		t.Errorf("older poll changed the state: %v", got)
	}
	if got["tedee/L-1/battery"] != "70" {
		t.Errorf("poll newer than any battery event should apply: %v", got)
	}
	if st, _ := s.LockState("L-1"); st != "unlocked" {
		t.Errorf("state = %s, want unlocked", st)
	}
	msgs, _ = s.ApplySnapshot("home", snapshot(2, 70), t0.Add(3*time.Second), now)
	if len(msgs) != 1 || msgs[0].Topic != "tedee/L-1/json" || !strings.Contains(string(msgs[0].Payload), `"status":"2026-11-01T12:00:03.000Z"`) {
		t.Errorf("unchanged poll published %v, want only the json with its new times", lines(msgs))
	}
	if msgs, _ = s.ApplySnapshot("home", snapshot(2, 70), t0.Add(3*time.Second), now); len(msgs) != 0 {
		t.Errorf("the same poll again published %v", lines(msgs))
	}
	msgs, _ = s.ApplySnapshot("home", snapshot(6, 70), t0.Add(4*time.Second), now)
	if byTopic(msgs)["tedee/L-1/state"] != "locked" {
		t.Errorf("newer poll: %v", lines(msgs))
	}
}

func TestSnapshotSettingsDecidePulling(t *testing.T) {
	s := New("tedee", discOpts)
	snap := snapshot(2, 50)
	snap.PullSpring = new(false)
	s.ApplySnapshot("home", snap, t0, now)
	// Even after being seen pulling, settings that say "no pull spring" win.
	msgs := mustApply(t, s, status(t0.Add(time.Second), 8, ``))
	if strings.Contains(byTopic(msgs)["homeassistant/lock/tedee_L-1_lock/config"], "payload_open") {
		t.Errorf("payload_open offered although the pull spring is disabled")
	}
}

func TestSnapshotRejectsUnsafeSerial(t *testing.T) {
	s := New("tedee", nil)
	snap := snapshot(6, 50)
	snap.Serial = "a/#"
	if _, err := s.ApplySnapshot("home", snap, t0, now); err == nil {
		t.Errorf("serial %q accepted from the Bridge API", snap.Serial)
	}
}

func TestSetBridgeMovesTopicsToSerial(t *testing.T) {
	s := New("tedee", discOpts)
	ev := decode(t, `{"event":"backend-connection-changed","timestamp":"2026-11-01T12:00:00Z","data":{"isConnected":1}}`)
	if _, err := s.Apply("home", ev, now); err != nil {
		t.Fatal(err)
	}
	msgs := s.SetBridge("home", BridgeInfo{Serial: "10000001-000001", Firmware: "2.2.31232", Connected: new(false)}, t0.Add(time.Hour), now)
	got := lines(msgs)
	want := []string{"tedee/home/connected [retained] ", "tedee/home/json [retained] "}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Fatalf("first messages should clear the name topics: %q", got)
		}
	}
	topics := byTopic(msgs)
	if topics["tedee/10000001-000001/connected"] != "false" {
		t.Errorf("serial topic: %v", topics)
	}
	cfg := topics["homeassistant/binary_sensor/tedee_bridge_home_cloud/config"]
	if !strings.Contains(cfg, `"state_topic":"tedee/10000001-000001/connected"`) || !strings.Contains(cfg, `"serial_number":"10000001-000001"`) {
		t.Errorf("bridge config not moved to the serial: %s", cfg)
	}
}

// TestBridgeNamedFromTheBridge: Home Assistant shows the bridge under the name the Tedee app
// gives it once the Bridge API reports it; until then under its configuration name. Its
// identifier stays the configuration name, so the device is the same.
func TestBridgeNamedFromTheBridge(t *testing.T) {
	s := New("tedee", discOpts)
	configTopic := "homeassistant/binary_sensor/tedee_bridge_home_cloud/config"
	before := byTopic(s.SetBridge("home", BridgeInfo{Connected: new(true)}, t0, now))[configTopic]
	after := byTopic(s.SetBridge("home", BridgeInfo{Name: "Hallway bridge", Serial: "B-1", Connected: new(true)}, t0, now))[configTopic]
	if !strings.Contains(before, `"name":"Tedee Bridge home"`) {
		t.Errorf("before the bridge's name is known: %s", before)
	}
	if !strings.Contains(after, `"name":"Hallway bridge"`) || !strings.Contains(after, `"identifiers":["tedee_bridge_home"]`) {
		t.Errorf("named by the bridge: %s", after)
	}
	if j := byTopic(s.Republish())["tedee/B-1/json"]; !strings.Contains(j, `"tedee_name":"Hallway bridge"`) {
		t.Errorf("bridge json: %s", j)
	}
}

// TestFirmwareIsBounded: a firmware version that cannot be one (huge, control characters) is not
// copied into the discovery configs; a real one is.
func TestFirmwareIsBounded(t *testing.T) {
	s := New("tedee", discOpts)
	snap := snapshot(6, 50)
	snap.Firmware = strings.Repeat("9", 300<<10)
	msgs, err := s.ApplySnapshot("home", snap, t0, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if len(m.Payload) > 4<<10 {
			t.Errorf("%s is %d bytes: the firmware was copied in", m.Topic, len(m.Payload))
		}
	}
	snap.Firmware = "2.2.31232"
	msgs, _ = s.ApplySnapshot("home", snap, t0, now)
	if c := byTopic(msgs)["homeassistant/lock/tedee_L-1_lock/config"]; !strings.Contains(c, `"sw_version":"2.2.31232"`) {
		t.Errorf("a real firmware version is not shown: %s", c)
	}
	s.SetBridge("home", BridgeInfo{Firmware: "1.0\x00\n", Connected: new(true)}, t0, now)
	if c := byTopic(s.Republish())["homeassistant/binary_sensor/tedee_bridge_home_cloud/config"]; strings.Contains(c, `"sw_version":"1.0`) {
		t.Errorf("a bridge firmware with control characters is shown: %s", c)
	}
}
