package state

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var (
	t0  = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(24 * time.Hour)
)

// lines renders messages one per line as "topic [retained] payload", the form the golden files
// and table expectations use.
func lines(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		r := ""
		if m.Retain {
			r = " [retained]"
		}
		out[i] = m.Topic + r + " " + string(m.Payload)
	}
	return out
}

// byTopic returns the payload per topic, for tests that care about a few topics only.
func byTopic(msgs []Message) map[string]string {
	m := map[string]string{}
	for _, msg := range msgs {
		m[msg.Topic] = string(msg.Payload)
	}
	return m
}

func decode(t *testing.T, body string) tedee.Event {
	t.Helper()
	ev, err := tedee.DecodeJSON([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return ev
}

func status(ts time.Time, state int, extra string) string {
	return fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":7,"serialNumber":"L-1","state":%d%s}}`,
		ts.Format(time.RFC3339Nano), state, extra)
}

func battery(ts time.Time, level int) string {
	return fmt.Sprintf(`{"event":"device-battery-level-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":7,"serialNumber":"L-1","batteryLevel":%d}}`,
		ts.Format(time.RFC3339Nano), level)
}

func simple(name string, ts time.Time) string {
	return fmt.Sprintf(`{"event":%q,"timestamp":%q,"data":{"deviceType":2,"deviceId":7,"serialNumber":"L-1"}}`, name, ts.Format(time.RFC3339Nano))
}

// TestStateTopic drives every Tedee state value of contract §5 through Apply.
func TestStateTopic(t *testing.T) {
	want := map[int]string{0: "uncalibrated", 1: "calibrating", 2: "unlocked", 3: "semi_locked", 4: "unlocking",
		5: "locking", 6: "locked", 7: "pulled", 8: "pulling", 9: "unknown", 18: "updating", 255: "unpulling",
		10: "unknown", 17: "unknown", 254: "unknown", 1000: "unknown"}
	for value, word := range want {
		s := New("tedee", nil)
		msgs, err := s.Apply("home", decode(t, status(t0, value, `,"jammed":0`)), now)
		if err != nil {
			t.Fatalf("state %d: %v", value, err)
		}
		got := byTopic(msgs)
		if got["tedee/L-1/state"] != word {
			t.Errorf("state %d: tedee/L-1/state = %q, want %q", value, got["tedee/L-1/state"], word)
		}
		if !strings.Contains(got["tedee/L-1/json"], `"state":"`+word+`"`) {
			t.Errorf("state %d: json = %s, want state %q", value, got["tedee/L-1/json"], word)
		}
	}
}

func TestApplyLockStatus(t *testing.T) {
	s := New("tedee", nil)
	msgs, err := s.Apply("home", decode(t, status(t0, 6, `,"jammed":0,"doorState":3,"source":18`)), now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"tedee/L-1/state [retained] locked",
		"tedee/L-1/jammed [retained] false",
		"tedee/L-1/door [retained] closed",
		// A lock reporting a state change is talking to its bridge (no connection event yet).
		"tedee/L-1/connected [retained] true",
		`tedee/L-1/json [retained] {"serial":"L-1","id":7,"name":null,"model":"lock_pro","firmware":null,"state":"locked","jammed":false,"door":"closed","battery":null,"charging":null,"connected":true,"bridge":"home","updated_at":"2026-11-02T12:00:00.000Z","timestamp":"2026-11-01T12:00:00.000Z","timestamps":{"status":"2026-11-01T12:00:00.000Z"}}`,
		`tedee/L-1/event {"event":"lock-status-changed","timestamp":"2026-11-01T12:00:00.000Z","source":"bridge","bridge":"home","serial":"L-1","device_id":7,"model":"lock_pro","state":"locked","jammed":false,"door":"closed","data":{"deviceId":7,"deviceType":2,"doorState":3,"jammed":0,"serialNumber":"L-1","source":18,"state":6}}`,
	}
	if diff := cmp.Diff(want, lines(msgs)); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestMissingOrUnknownDoorKeepsDoor(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, status(t0, 6, `,"doorState":2`))
	for _, extra := range []string{``, `,"doorState":999`} {
		msgs := mustApply(t, s, status(t0.Add(time.Minute), 2, extra))
		got := byTopic(msgs)
		if _, ok := got["tedee/L-1/door"]; ok {
			t.Errorf("door published for %q: %v", extra, got)
		}
		if !strings.Contains(got["tedee/L-1/json"], `"door":"open"`) {
			t.Errorf("door lost for %q: %s", extra, got["tedee/L-1/json"])
		}
	}
}

func mustApply(t *testing.T, s *Store, body string) []Message {
	t.Helper()
	msgs, err := s.Apply("home", decode(t, body), now)
	if err != nil {
		t.Fatalf("Apply(%s): %v", body, err)
	}
	return msgs
}

func TestOrdering(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, status(t0.Add(2*time.Second), 6, `,"jammed":0`))

	// An older status event is dropped and publishes nothing.
	msgs, err := s.Apply("home", decode(t, status(t0.Add(time.Second), 2, `,"jammed":0`)), now)
	if !errors.Is(err, ErrStale) || msgs != nil {
		t.Fatalf("older status: msgs=%v err=%v, want ErrStale and nothing", lines(msgs), err)
	}
	// An older event of another kind of fact still applies.
	got := byTopic(mustApply(t, s, battery(t0, 50)))
	if got["tedee/L-1/battery"] != "50" || !strings.Contains(got["tedee/L-1/json"], `"state":"locked"`) {
		t.Errorf("older battery after newer status: %v", got)
	}
	// The same time again is accepted (redelivery is harmless).
	if _, err := s.Apply("home", decode(t, status(t0.Add(2*time.Second), 5, ``)), now); err != nil {
		t.Errorf("equal timestamp: %v", err)
	}
	// Each kind keeps its own clock.
	mustApply(t, s, simple(tedee.EventBatteryStartCharging, t0.Add(time.Hour)))
	if _, err := s.Apply("home", decode(t, simple(tedee.EventBatteryStopCharging, t0.Add(time.Minute))), now); !errors.Is(err, ErrStale) {
		t.Errorf("older stop-charging: err = %v, want ErrStale", err)
	}
	if _, err := s.Apply("home", decode(t, battery(t0.Add(-time.Second), 10)), now); !errors.Is(err, ErrStale) {
		t.Errorf("older battery: err = %v, want ErrStale", err)
	}
}

func TestBattery(t *testing.T) {
	s := New("tedee", nil)
	got := byTopic(mustApply(t, s, battery(t0, 90)))
	if got["tedee/L-1/battery"] != "90" || !strings.Contains(got["tedee/L-1/json"], `"battery":90`) {
		t.Errorf("battery 90: %v", got)
	}
	got = byTopic(mustApply(t, s, battery(t0.Add(time.Second), 255)))
	if got["tedee/L-1/battery"] != "unknown" || !strings.Contains(got["tedee/L-1/json"], `"battery":null`) {
		t.Errorf("battery 255: %v", got)
	}
	if strings.Contains(got["tedee/L-1/event"], `"battery"`+":255") {
		t.Errorf("event shows 255 as a level: %s", got["tedee/L-1/event"])
	}
	got = byTopic(mustApply(t, s, battery(t0.Add(2*time.Second), 101)))
	if got["tedee/L-1/battery"] != "unknown" {
		t.Errorf("battery 101: %v", got)
	}
}

func TestFullyCharged(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, simple(tedee.EventBatteryStartCharging, t0))
	got := byTopic(mustApply(t, s, simple(tedee.EventBatteryFullyCharged, t0.Add(time.Second))))
	if got["tedee/L-1/charging"] != "false" || got["tedee/L-1/battery"] != "100" {
		t.Errorf("fully charged: %v", got)
	}
}

func TestBridgeConnection(t *testing.T) {
	s := New("tedee", nil)
	ev := decode(t, `{"event":"backend-connection-changed","timestamp":"2026-11-01T12:00:00Z","data":{"isConnected":0}}`)
	msgs, err := s.Apply("home", ev, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"tedee/home/connected [retained] false",
		`tedee/home/json [retained] {"name":"home","tedee_name":null,"serial":null,"firmware":null,"connected":false,"updated_at":"2026-11-02T12:00:00.000Z","timestamp":"2026-11-01T12:00:00.000Z"}`,
	}
	if diff := cmp.Diff(want, lines(msgs)); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	old := decode(t, `{"event":"backend-connection-changed","timestamp":"2026-11-01T11:00:00Z","data":{"isConnected":1}}`)
	if _, err := s.Apply("home", old, now); !errors.Is(err, ErrStale) {
		t.Errorf("older bridge event: err = %v, want ErrStale", err)
	}
	// Another bridge has its own clock.
	if _, err := s.Apply("office", old, now); err != nil {
		t.Errorf("other bridge: %v", err)
	}
}

func TestUnknownEvent(t *testing.T) {
	s := New("tedee", nil)
	msgs, err := s.Apply("home", decode(t, `{"event":"door-bell","timestamp":"2026-11-01T12:00:00Z","data":{"serialNumber":"L-1"}}`), now)
	if !errors.Is(err, ErrUnknownEvent) || msgs != nil {
		t.Errorf("unknown event: msgs=%v err=%v", msgs, err)
	}
}

// TestFutureTimestampDoesNotFreeze: one event from a bridge whose clock is far ahead must not make
// every later correct event look old.
func TestFutureTimestampDoesNotFreeze(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, status(now.AddDate(1, 0, 0), 6, ``))
	later := now.Add(time.Second)
	if _, err := s.Apply("home", decode(t, status(later, 2, ``)), later); err != nil {
		t.Fatalf("correct event after a far-future one: %v", err)
	}
}

func TestMaxLocks(t *testing.T) {
	s := New("tedee", nil)
	for i := 0; i < MaxLocks; i++ {
		s.locks[fmt.Sprint("S", i)] = &lock{}
	}
	if _, err := s.Apply("home", decode(t, battery(t0, 1)), now); !errors.Is(err, ErrTooManyLocks) {
		t.Errorf("new lock beyond MaxLocks: err = %v", err)
	}
}

// TestFixturesGolden applies every documented bridge sample in turn, as a bridge would send them,
// and compares everything published with testdata/fixtures.golden (go test -update rewrites it).
func TestFixturesGolden(t *testing.T) {
	order := []string{"device-connection-changed", "lock-status-changed", "device-battery-level-changed",
		"device-battery-start-charging", "device-battery-stop-charging", "device-battery-fully-charged",
		"device-settings-changed", "backend-connection-changed"}
	s := New("tedee", nil)
	var out []string
	for _, name := range order {
		body, err := os.ReadFile(filepath.Join("..", "tedee", "testdata", "bridge", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := s.Apply("home", decode(t, string(body)), now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, "# "+name)
		out = append(out, lines(msgs)...)
	}
	got := strings.Join(out, "\n") + "\n"
	golden := filepath.Join("testdata", "fixtures.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("published messages differ from %s (-want +got):\n%s", golden, diff)
	}
}

// TestStatusPublishesOnlyChangedExtras: jammed and door come with every status change; their
// retained topics are sent again only when they change, the state and the event every time.
func TestStatusPublishesOnlyChangedExtras(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, status(t0, 6, `,"jammed":0,"doorState":3`))
	for i, tc := range []struct {
		extra string
		want  []string // per-fact topics published, besides state, json and event
	}{
		{`,"jammed":0,"doorState":3`, nil},
		{`,"jammed":1,"doorState":3`, []string{"tedee/L-1/jammed"}},
		{`,"jammed":1,"doorState":2`, []string{"tedee/L-1/door"}},
		{`,"jammed":0,"doorState":3`, []string{"tedee/L-1/jammed", "tedee/L-1/door"}},
		{``, nil}, // neither reported: both stay as they were
	} {
		got := byTopic(mustApply(t, s, status(t0.Add(time.Duration(i+1)*time.Second), 2, tc.extra)))
		for _, topic := range []string{"tedee/L-1/state", "tedee/L-1/json", "tedee/L-1/event"} {
			if _, ok := got[topic]; !ok {
				t.Errorf("step %d (%s): %s not published", i, tc.extra, topic)
			}
			delete(got, topic)
		}
		var extras []string
		for _, topic := range []string{"tedee/L-1/jammed", "tedee/L-1/door"} {
			if _, ok := got[topic]; ok {
				extras = append(extras, topic)
			}
		}
		if !slices.Equal(extras, tc.want) {
			t.Errorf("step %d (%s): published %v, want %v", i, tc.extra, extras, tc.want)
		}
	}
}
