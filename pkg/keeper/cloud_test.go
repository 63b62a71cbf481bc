package keeper

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

type sink struct {
	mu   sync.Mutex
	msgs []state.Message
}

func (s *sink) publish(msgs ...state.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
}

func (s *sink) take() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, m := range s.msgs {
		out[m.Topic] = string(m.Payload)
	}
	s.msgs = nil
	return out
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tedee", "testdata", "cloud", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode(t *testing.T, body string) tedee.CloudEvent {
	t.Helper()
	ev, err := tedee.DecodeCloud([]byte(body))
	if err != nil {
		t.Fatalf("DecodeCloud(%s): %v", body, err)
	}
	return ev
}

func (s *sink) Publish(msgs ...state.Message) { s.publish(msgs...) }
func (s *sink) Restate(msgs ...state.Message) { s.publish(msgs...) }

func newReceiver(store *state.Store) (*Keeper, *sink) {
	out := &sink{}
	return New(store, out, Options{CloudDevices: map[int64]string{12345: "CLOUD-1"}}), out
}

// handle applies a cloud webhook and returns its outcome; a failure ends the test.
func handle(t *testing.T, k *Keeper, ev tedee.CloudEvent, idempotencyKey string) state.Outcome {
	t.Helper()
	o, err := k.CloudEvent(ev, idempotencyKey, now)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestFixtures: every documented cloud webhook, the seed's lock-status-changed first.
func TestFixtures(t *testing.T) {
	r, out := newReceiver(state.New("tedee", nil))
	tests := []struct {
		name string
		want map[string]string
	}{
		{"lock-status-changed", map[string]string{"tedee/CLOUD-1/state": "locked", "tedee/CLOUD-1/door": "closed"}},
		{"device-battery-level-changed", map[string]string{"tedee/CLOUD-1/battery": "80"}},
		{"device-connection-changed", map[string]string{"tedee/CLOUD-1/connected": "true"}},
		{"device-settings-changed", map[string]string{}},
		{"bell-button-pressed", map[string]string{}},
	}
	for _, tt := range tests {
		if o := handle(t, r, decode(t, fixture(t, tt.name)), ""); o != state.Applied {
			t.Fatalf("%s: %v", tt.name, o)
		}
		got := out.take()
		for topic, payload := range tt.want {
			if got[topic] != payload {
				t.Errorf("%s: %s = %q, want %q", tt.name, topic, got[topic], payload)
			}
		}
		ev := got["tedee/CLOUD-1/event"]
		if !strings.Contains(ev, `"event":"`+tt.name+`"`) || !strings.Contains(ev, `"source":"cloud"`) || strings.Contains(ev, "userIdentity") {
			t.Errorf("%s: event message %s", tt.name, ev)
		}
		if tt.name == "bell-button-pressed" {
			if len(got) != 1 {
				t.Errorf("the bell published more than its event: %v", got)
			}
			// eventTime without a zone, read as UTC.
			if !strings.Contains(ev, `"timestamp":"2024-12-13T07:36:36.692Z"`) {
				t.Errorf("bell event time: %s", ev)
			}
		}
	}
}

// TestOneChangePerUserIsDeliveredOnce: the cloud sends the same change to every user of the lock.
func TestOneChangePerUserIsDeliveredOnce(t *testing.T) {
	r, out := newReceiver(state.New("tedee", nil))
	body := fixture(t, "lock-status-changed")
	if o := handle(t, r, decode(t, body), ""); o != state.Applied {
		t.Fatal(o)
	}
	out.take()
	other := strings.Replace(body, "<user-identity>", "second-user", 1)
	other = strings.Replace(other, `"timestamp": "2022-11-09T14:15:30.244Z"`, `"timestamp": "2022-11-09T14:15:31.001Z"`, 1)
	if o := handle(t, r, decode(t, other), ""); o != state.Duplicate {
		t.Errorf("second user's copy: outcome %v, want ErrDuplicate", o)
	}
	if got := out.take(); len(got) != 0 {
		t.Errorf("duplicate published %v", got)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	r, _ := newReceiver(state.New("tedee", nil))
	battery := func(eventTime, id string) tedee.CloudEvent {
		idField := ""
		if id != "" {
			idField = `"id":"` + id + `",`
		}
		return decode(t, `{`+idField+`"event":"device-battery-level-changed","timestamp":"2026-11-01T10:00:01Z","userIdentity":"u","data":{"deviceId":12345,"deviceType":2,"eventTime":"`+eventTime+`","batteryLevel":50}}`)
	}
	if o := handle(t, r, battery("2026-11-01T10:00:00Z", "3fa85f64"), ""); o != state.Applied {
		t.Fatal(o)
	}
	// The same id is the same delivery, whatever else differs.
	if o := handle(t, r, battery("2026-11-01T10:00:05Z", "3fa85f64"), ""); o != state.Duplicate {
		t.Errorf("same id: %v", o)
	}
	// So is the same Idempotency-Key header.
	if o := handle(t, r, battery("2026-11-01T10:00:06Z", ""), "key-1"); o != state.Applied {
		t.Fatal(o)
	}
	if o := handle(t, r, battery("2026-11-01T10:00:07Z", ""), "key-1"); o != state.Duplicate {
		t.Errorf("same Idempotency-Key: %v", o)
	}
	if o := handle(t, r, battery("2026-11-01T10:00:08Z", "other"), "key-2"); o != state.Applied {
		t.Errorf("a new delivery: %v", o)
	}
}

func TestUnmappedDevice(t *testing.T) {
	r, out := newReceiver(state.New("tedee", nil))
	body := strings.Replace(fixture(t, "lock-status-changed"), "12345", "999", 1)
	if o := handle(t, r, decode(t, body), ""); o != state.Unmapped {
		t.Errorf("outcome %v, want ErrUnmapped", o)
	}
	if got := out.take(); len(got) != 0 {
		t.Errorf("unmapped device published %v", got)
	}
}

// TestBridgeMappingAndNoRollback: a lock a bridge reported is found by its device id, and a cloud
// event older than the bridge's newest does not roll the state back.
func TestBridgeMappingAndNoRollback(t *testing.T) {
	store := state.New("tedee", nil)
	bridgeEv, err := tedee.DecodeJSON([]byte(`{"event":"lock-status-changed","timestamp":"2022-11-09T14:15:29.000Z","data":{"deviceType":2,"deviceId":12345,"serialNumber":"BRIDGE-1","state":2,"jammed":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Apply("home", bridgeEv, now); err != nil {
		t.Fatal(err)
	}
	r, out := newReceiver(store) // cloud.devices maps 12345 to CLOUD-1; the bridge's lock list wins
	// The seed's eventTime (14:15:28.327) is older than the bridge's unlocked (14:15:29).
	if o := handle(t, r, decode(t, fixture(t, "lock-status-changed")), ""); o != state.Stale {
		t.Errorf("older cloud event: outcome %v, want ErrStale", o)
	}
	if got := out.take(); len(got) != 0 {
		t.Errorf("older cloud event published %v", got)
	}
	if s, _ := store.LockState("BRIDGE-1"); s != "unlocked" {
		t.Errorf("state rolled back to %s", s)
	}
	newer := strings.Replace(fixture(t, "lock-status-changed"), "2022-11-09T14:15:28.327Z", "2022-11-09T14:15:35.000Z", 1)
	if o := handle(t, r, decode(t, newer), ""); o != state.Applied {
		t.Fatal(o)
	}
	if got := out.take(); got["tedee/BRIDGE-1/state"] != "locked" || got["tedee/CLOUD-1/state"] != "" {
		t.Errorf("newer cloud event: %v", got)
	}
}

func TestRecentIsBounded(t *testing.T) {
	r := newRecent(3, time.Minute)
	for i, k := range []string{"a", "b", "c", "d"} {
		if r.seenOrAdd(now.Add(time.Duration(i)), k) {
			t.Errorf("%s seen before it was added", k)
		}
	}
	if len(r.seen) != 3 || r.seenOrAdd(now, "a") {
		t.Errorf("oldest key not evicted: %v", r.seen)
	}
	if !r.seenOrAdd(now.Add(time.Second), "d") {
		t.Errorf("recent key forgotten")
	}
	if r.seenOrAdd(now.Add(2*time.Minute), "d") {
		t.Errorf("key remembered past its window")
	}
}
