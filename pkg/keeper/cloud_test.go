package cloud

import (
	"context"
	"errors"
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

func newReceiver(store *state.Store) (*Receiver, *sink) {
	out := &sink{}
	return NewReceiver(store, map[int64]string{12345: "CLOUD-1"}, out.publish, func() time.Time { return now }), out
}

// TestFixtures: every documented cloud webhook, the seed's lock-status-changed first.
func TestFixtures(t *testing.T) {
	r, out := newReceiver(state.New("tedee", nil))
	ctx := context.Background()
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
		if err := r.HandleCloudEvent(ctx, decode(t, fixture(t, tt.name)), ""); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
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
	ctx := context.Background()
	body := fixture(t, "lock-status-changed")
	if err := r.HandleCloudEvent(ctx, decode(t, body), ""); err != nil {
		t.Fatal(err)
	}
	out.take()
	other := strings.Replace(body, "<user-identity>", "second-user", 1)
	other = strings.Replace(other, `"timestamp": "2022-11-09T14:15:30.244Z"`, `"timestamp": "2022-11-09T14:15:31.001Z"`, 1)
	if err := r.HandleCloudEvent(ctx, decode(t, other), ""); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second user's copy: err = %v, want ErrDuplicate", err)
	}
	if got := out.take(); len(got) != 0 {
		t.Errorf("duplicate published %v", got)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	r, _ := newReceiver(state.New("tedee", nil))
	ctx := context.Background()
	battery := func(eventTime, id string) tedee.CloudEvent {
		idField := ""
		if id != "" {
			idField = `"id":"` + id + `",`
		}
		return decode(t, `{`+idField+`"event":"device-battery-level-changed","timestamp":"2026-11-01T10:00:01Z","userIdentity":"u","data":{"deviceId":12345,"deviceType":2,"eventTime":"`+eventTime+`","batteryLevel":50}}`)
	}
	if err := r.HandleCloudEvent(ctx, battery("2026-11-01T10:00:00Z", "3fa85f64"), ""); err != nil {
		t.Fatal(err)
	}
	// The same id is the same delivery, whatever else differs.
	if err := r.HandleCloudEvent(ctx, battery("2026-11-01T10:00:05Z", "3fa85f64"), ""); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same id: %v", err)
	}
	// So is the same Idempotency-Key header.
	if err := r.HandleCloudEvent(ctx, battery("2026-11-01T10:00:06Z", ""), "key-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.HandleCloudEvent(ctx, battery("2026-11-01T10:00:07Z", ""), "key-1"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same Idempotency-Key: %v", err)
	}
	if err := r.HandleCloudEvent(ctx, battery("2026-11-01T10:00:08Z", "other"), "key-2"); err != nil {
		t.Errorf("a new delivery: %v", err)
	}
}

func TestUnmappedDevice(t *testing.T) {
	r, out := newReceiver(state.New("tedee", nil))
	body := strings.Replace(fixture(t, "lock-status-changed"), "12345", "999", 1)
	if err := r.HandleCloudEvent(context.Background(), decode(t, body), ""); !errors.Is(err, ErrUnmapped) {
		t.Errorf("err = %v, want ErrUnmapped", err)
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
	if err := r.HandleCloudEvent(context.Background(), decode(t, fixture(t, "lock-status-changed")), ""); !errors.Is(err, state.ErrStale) {
		t.Errorf("older cloud event: err = %v, want ErrStale", err)
	}
	if got := out.take(); len(got) != 0 {
		t.Errorf("older cloud event published %v", got)
	}
	if s, _ := store.LockState("BRIDGE-1"); s != "unlocked" {
		t.Errorf("state rolled back to %s", s)
	}
	newer := strings.Replace(fixture(t, "lock-status-changed"), "2022-11-09T14:15:28.327Z", "2022-11-09T14:15:35.000Z", 1)
	if err := r.HandleCloudEvent(context.Background(), decode(t, newer), ""); err != nil {
		t.Fatal(err)
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
