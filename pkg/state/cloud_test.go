package state

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

func cloudStore(t *testing.T) *Store {
	t.Helper()
	s := New("tedee", nil)
	if _, err := s.ApplyCloudDevice(CloudDevice{ID: 7, Serial: "L-1", Name: "Front", DeviceType: 2}, now); err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(id int64, code int, event, source, user string, moves bool, at time.Time) ActivityEntry {
	return ActivityEntry{ID: id, Code: code, Event: event, Source: source, User: user, Moves: moves, At: at}
}

func TestCloudDeviceFacts(t *testing.T) {
	s := New("tedee", nil)
	ninety, low := 90, 5
	d := CloudDevice{ID: 7, Serial: "L-1", Name: "Front", DeviceType: 2,
		Update:      &Update{Installed: "2.2.1", UpdateAvailable: true},
		Settings:    &Settings{AutoLock: new(true), AutoLockDelay: new(10), PullSpring: new(false)},
		Accessories: true, DoorSensor: &Accessory{Battery: &ninety}, Keypad: &Accessory{}}
	got := byTopic(must(t)(s.ApplyCloudDevice(d, now)))
	for topic, want := range map[string]string{
		"tedee/L-1/update":              `{"installed":"2.2.1","latest":null,"update_available":true}`,
		"tedee/L-1/settings":            `{"auto_lock":true,"auto_lock_delay":10,"pull_spring":false}`,
		"tedee/L-1/door_sensor_battery": "90",
		"tedee/L-1/keypad_battery":      "unknown",
		"tedee/L-1/firmware":            "2.2.1",
	} {
		if got[topic] != want {
			t.Errorf("%s = %q, want %q", topic, got[topic], want)
		}
	}
	if serial, ok := s.SerialOf(7); !ok || serial != "L-1" {
		t.Errorf("SerialOf(7) = %q %v", serial, ok)
	}
	if s.Locks()[0].Name == nil || *s.Locks()[0].Name != "Front" {
		t.Errorf("name = %v", s.Locks()[0].Name)
	}
	if got := s.Locks()[0].Accessories; !slices.Equal(got, []string{"door_sensor", "keypad"}) {
		t.Errorf("accessories = %v", got)
	}

	// The same list again changes nothing.
	if msgs := must(t)(s.ApplyCloudDevice(d, now)); len(msgs) != 0 {
		t.Errorf("unchanged device list published %v", lines(msgs))
	}
	// The keypad is unpaired and the sensor's battery drops: the keypad's topic is cleared.
	d.Keypad, d.DoorSensor = nil, &Accessory{Battery: &low}
	got = byTopic(must(t)(s.ApplyCloudDevice(d, now)))
	if v, ok := got["tedee/L-1/keypad_battery"]; !ok || v != "" {
		t.Errorf("keypad_battery = %q (%v), want cleared", v, ok)
	}
	if got["tedee/L-1/door_sensor_battery"] != "5" {
		t.Errorf("door_sensor_battery = %q", got["tedee/L-1/door_sensor_battery"])
	}
	// A reading without the accessories (a settings write's) leaves them as they were.
	if got := byTopic(must(t)(s.ApplyCloudDevice(CloudDevice{ID: 7, Serial: "L-1"}, now))); len(got) != 0 {
		t.Errorf("a reading without accessories published %v", got)
	}
	// Republish carries what is known and nothing of the keypad.
	all := byTopic(s.Republish())
	if _, ok := all["tedee/L-1/keypad_battery"]; ok {
		t.Error("republish has the unpaired keypad's battery")
	}
	if all["tedee/L-1/settings"] == "" || all["tedee/L-1/update"] == "" {
		t.Errorf("republish lacks settings or update: %v", all)
	}
}

func must(t *testing.T) func([]Message, error) []Message {
	return func(m []Message, err error) []Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

func TestActivityFirstFetchPublishesOnlyWhatIsNew(t *testing.T) {
	s := cloudStore(t)
	trigger := t0
	entries := []ActivityEntry{
		entry(3, 61, "unlocked", "pin", "Anna", true, trigger.Add(2*time.Second)),
		entry(2, 34, "locked", "button", "", true, trigger.Add(-time.Hour)), // from before: not replayed
		entry(4, 62, "wrong_pin", "pin", "", false, trigger.Add(time.Second)),
	}
	msgs := s.ApplyActivity("L-1", entries, trigger.Add(-30*time.Second), now)
	want := []string{
		`tedee/L-1/activity {"event":"wrong_pin","source":"pin","user":null,"at":"2026-11-01T12:00:01.000Z","code":62}`,
		`tedee/L-1/activity {"event":"unlocked","source":"pin","user":"Anna","at":"2026-11-01T12:00:02.000Z","code":61}`,
		`tedee/L-1/last_user [retained] Anna`,
		`tedee/L-1/last_source [retained] pin`,
	}
	if got := lines(msgs); !slices.Equal(got[:len(got)-1], want) {
		t.Errorf("messages:\n%v\nwant\n%v", got, want)
	}

	// The next fetch: entries already handled are not published again; an entry not seen
	// before is, even dated before the newest (it reached the cloud late).
	late := entry(5, 38, "locked", "manual", "", true, trigger.Add(time.Second))
	msgs = s.ApplyActivity("L-1", append(entries, late), trigger, now)
	got := lines(msgs)
	if len(got) != 1 || got[0] != `tedee/L-1/activity {"event":"locked","source":"manual","user":null,"at":"2026-11-01T12:00:01.000Z","code":38}` {
		t.Errorf("second fetch: %v", got)
	}
	// ... and it does not replace who last moved the lock: Anna's entry is newer.
	if j := s.Locks()[0]; *j.LastUser != "Anna" || *j.LastSource != "pin" {
		t.Errorf("last = %v %v", *j.LastUser, *j.LastSource)
	}

	// A newer moving entry without a user: who is unknown, how is known.
	msgs = s.ApplyActivity("L-1", []ActivityEntry{entry(6, 34, "locked", "button", "", true, trigger.Add(time.Minute))}, trigger, now)
	if b := byTopic(msgs); b["tedee/L-1/last_user"] != "unknown" || b["tedee/L-1/last_source"] != "button" {
		t.Errorf("button lock: %v", b)
	}
}

func TestActivityNotReplayedAfterRestart(t *testing.T) {
	s := cloudStore(t)
	moved := entry(3, 61, "unlocked", "pin", "Anna", true, t0)
	s.ApplyActivity("L-1", []ActivityEntry{moved}, t0.Add(-time.Minute), now)
	snaps := s.Snapshots()

	restarted := New("tedee", nil)
	if err := restarted.Restore("tedee/L-1/json", snaps["L-1"], now); err != nil {
		t.Fatal(err)
	}
	if j := restarted.Locks()[0]; j.LastUser == nil || *j.LastUser != "Anna" {
		t.Fatalf("restored last_user = %v", j.LastUser)
	}
	// The first fetch after the restart sees the same entry: not published again, although
	// notBefore (the process's start) would let it through.
	newer := entry(4, 32, "locked", "app", "Ben", true, t0.Add(time.Minute))
	got := lines(restarted.ApplyActivity("L-1", []ActivityEntry{newer, moved}, t0.Add(-time.Hour), now))
	if len(got) != 4 || got[0] != `tedee/L-1/activity {"event":"locked","source":"app","user":"Ben","at":"2026-11-01T12:01:00.000Z","code":32}` {
		t.Errorf("after restart: %v", got)
	}
}

func TestActivityUnknownLockAndBound(t *testing.T) {
	s := cloudStore(t)
	if msgs := s.ApplyActivity("NOPE", []ActivityEntry{entry(1, 32, "locked", "app", "A", true, t0)}, t0, now); msgs != nil {
		t.Errorf("unknown lock: %v", lines(msgs))
	}
	var many []ActivityEntry
	for i := range 500 {
		many = append(many, entry(int64(i), 42, "power_on", "", "", false, t0.Add(time.Duration(i)*time.Second)))
	}
	s.ApplyActivity("L-1", many, t0.Add(-time.Hour), now)
	if n := len(s.locks["L-1"].cloud.seen); n > maxSeenActivity {
		t.Errorf("remembers %d ids", n)
	}
}

func TestCloudStateOnlyForLocksWithoutBridge(t *testing.T) {
	s := cloudStore(t)
	var told []string
	s.OnStateChange(func(serial string) { told = append(told, serial) })
	locked := tedee.LockState(6)
	msgs := must(t)(s.ApplyCloudState(LockSnapshot{ID: 7, Serial: "L-1", State: &locked}, t0, now))
	if byTopic(msgs)["tedee/L-1/state"] != "locked" {
		t.Fatalf("cloud-only lock: %v", lines(msgs))
	}
	if !slices.Equal(told, []string{"L-1"}) {
		t.Errorf("state change told %v", told)
	}
	if _, ok := s.bridges[""]; ok {
		t.Error("a cloud reading created a bridge without a name")
	}
	// Once a bridge reports the lock, the cloud's (later, laggier) reading is ignored.
	must(t)(s.Apply("home", decode(t, status(t0.Add(time.Minute), 2, "")), now))
	if msgs := must(t)(s.ApplyCloudState(LockSnapshot{ID: 7, Serial: "L-1", State: &locked}, t0.Add(2*time.Minute), now)); len(msgs) != 0 {
		t.Errorf("bridged lock took the cloud's state: %v", lines(msgs))
	}
	if st, _ := s.LockState("L-1"); st != "unlocked" {
		t.Errorf("state = %s", st)
	}
}

func TestCloudBridgeUpdate(t *testing.T) {
	s := New("tedee", nil)
	// Unknown by serial: left out rather than shown twice.
	if msgs := s.ApplyCloudBridge("10000001-000001", Update{Installed: "2.2.1", UpdateAvailable: true}, now); msgs != nil {
		t.Errorf("unknown bridge: %v", lines(msgs))
	}
	s.SetBridge("home", BridgeInfo{Serial: "10000001-000001", Firmware: "2.2.1"}, now, now)
	got := byTopic(s.ApplyCloudBridge("10000001-000001", Update{Installed: "2.2.1", UpdateAvailable: true}, now))
	if got["tedee/10000001-000001/update"] != `{"installed":"2.2.1","latest":null,"update_available":true}` {
		t.Errorf("bridge update: %v", got)
	}
	if msgs := s.ApplyCloudBridge("10000001-000001", Update{Installed: "2.2.1", UpdateAvailable: true}, now); msgs != nil {
		t.Errorf("unchanged: %v", lines(msgs))
	}
	if _, ok := byTopic(s.Republish())["tedee/10000001-000001/update"]; !ok {
		t.Error("republish lacks the bridge's update")
	}
}

func TestStateChangeToldOnlyForANewState(t *testing.T) {
	s := New("tedee", nil)
	var told int
	s.OnStateChange(func(string) { told++ })
	for i, st := range []int{6, 6, 2, 2, 6} { // locked, locked again (door opened), unlocked, …
		door := []string{"3", "2", "2", "3", "3"}[i]
		if _, err := s.Apply("home", decode(t, status(t0.Add(time.Duration(i)*time.Second), st, `,"doorState":`+door)), now); err != nil {
			t.Fatal(err)
		}
	}
	if told != 3 {
		t.Errorf("told %d times, want 3 (locked, unlocked, locked)", told)
	}
}

// TestBridgeSettings: the Bridge API's deviceSettings are the lock's settings topic too, without
// the Cloud API; Home Assistant gets switches for them only with it (writes go through it).
func TestBridgeSettings(t *testing.T) {
	s := New("tedee", &homeassistant.Options{Prefix: "homeassistant", Base: "tedee"})
	snap := LockSnapshot{ID: 7, Serial: "L-1", DeviceType: 2, Settings: &Settings{AutoLock: new(false), PullSpring: new(true), PullSpringDuration: new(3)}}
	got := byTopic(must(t)(s.ApplySnapshot("home", snap, t0, now)))
	if got["tedee/L-1/settings"] != `{"auto_lock":false,"pull_spring":true,"pull_spring_duration":3}` {
		t.Errorf("settings = %q", got["tedee/L-1/settings"])
	}
	for topic := range got {
		if strings.Contains(topic, "/switch/") || strings.Contains(topic, "/number/") {
			t.Errorf("a settings entity without the Cloud API: %s", topic)
		}
	}
	if msgs := must(t)(s.ApplySnapshot("home", snap, t0, now)); byTopic(msgs)["tedee/L-1/settings"] != "" {
		t.Errorf("unchanged settings published again")
	}
	got = byTopic(must(t)(s.ApplyCloudDevice(CloudDevice{ID: 7, Serial: "L-1"}, now)))
	if _, ok := got["homeassistant/switch/tedee_L-1_auto_lock/config"]; !ok {
		t.Errorf("no auto_lock switch once the Cloud API has the lock: %v", lines(must(t)(s.ApplyCloudDevice(CloudDevice{ID: 7, Serial: "L-1"}, now))))
	}
}

// CanOpen is the status page's rule for its Open button, the same as discovery's for
// payload_open: unknown locks and locks never seen pulling (without settings) cannot open.
func TestCanOpen(t *testing.T) {
	s := New("tedee", nil)
	if s.CanOpen("L-1") {
		t.Error("an unknown lock can open")
	}
	mustApply(t, s, status(t0, 6, ""))
	if s.CanOpen("L-1") {
		t.Error("a lock never seen pulling, its pull spring unknown, can open")
	}
	mustApply(t, s, status(t0.Add(time.Second), 8, ""))
	if !s.CanOpen("L-1") {
		t.Error("a lock seen pulling cannot open")
	}
}
