package state

import (
	"errors"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"strings"
	"testing"
	"time"
)

// rebooted is a time from a bridge whose clock went back: it restarted without NTP.
var rebooted = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func wantState(t *testing.T, s *Store, want string) {
	t.Helper()
	if got, _ := s.LockState("L-1"); got != want {
		t.Fatalf("state = %q, want %q", got, want)
	}
}

func applyErr(s *Store, body string, t *testing.T) error {
	_, err := s.Apply("home", decode(t, body), now)
	return err
}

// TestClockBackFollowedAfterThreeEvents: a bridge whose clock went back is followed again from
// its third event in a row; until then its events are dropped as stale.
func TestClockBackFollowedAfterThreeEvents(t *testing.T) {
	s := New("tedee", nil)
	var noticed []string
	s.OnClockBack(func(bridge string, from, to, _ time.Time) {
		noticed = append(noticed, bridge+" "+from.Format(time.RFC3339)+" → "+to.Format(time.RFC3339))
	})
	mustApply(t, s, status(t0, 6, ``))
	for i, st := range []int{2, 6} {
		if err := applyErr(s, status(rebooted.Add(time.Duration(i)*time.Second), st, ``), t); !errors.Is(err, ErrStale) {
			t.Fatalf("event %d after the clock went back: %v, want stale (not yet 3 in a row)", i+1, err)
		}
	}
	wantState(t, s, "locked")
	mustApply(t, s, status(rebooted.Add(2*time.Second), 2, ``))
	wantState(t, s, "unlocked")
	if len(noticed) != 1 || !strings.HasPrefix(noticed[0], "home 2026-11-01T12:00:00Z → 2000-01-01T00:00:02Z") {
		t.Errorf("clock hook told %q", noticed)
	}
	// From now on the new clock orders events as before: an older one is dropped.
	if err := applyErr(s, status(rebooted.Add(time.Second), 6, ``), t); !errors.Is(err, ErrStale) {
		t.Errorf("older event on the new clock: %v, want stale", err)
	}
	// Other facts of the lock follow the new clock too.
	mustApply(t, s, battery(rebooted.Add(3*time.Second), 40))
}

// TestLateRetriesStillDropped: late retries (an hour late, far more than the future skew) are
// dropped, one at a time or interleaved with current events, and never make a run.
func TestLateRetriesStillDropped(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, status(t0, 6, ``))
	late := t0.Add(-time.Hour)
	for i := range 5 {
		if err := applyErr(s, status(late.Add(time.Duration(i)*time.Second), 2, ``), t); !errors.Is(err, ErrStale) {
			t.Fatalf("late retry %d: %v, want stale", i, err)
		}
		if i%2 == 1 {
			mustApply(t, s, status(t0.Add(time.Duration(i)*time.Second), 6, ``)) // a current event breaks the run
		}
	}
	wantState(t, s, "locked")
	// Retries that arrive out of order among themselves break the run too.
	for i, d := range []time.Duration{3, 1, 2, 0} {
		if err := applyErr(s, status(late.Add(d*time.Second), 2, ``), t); !errors.Is(err, ErrStale) {
			t.Fatalf("out-of-order retry %d: %v, want stale", i, err)
		}
	}
	wantState(t, s, "locked")
	// A few minutes late is a late retry, however many there are.
	for i := range 4 {
		if err := applyErr(s, status(t0.Add(-5*time.Minute+time.Duration(i)*time.Second), 2, ``), t); !errors.Is(err, ErrStale) {
			t.Fatalf("retry %d minutes late: %v, want stale", i, err)
		}
	}
	wantState(t, s, "locked")
}

// TestClockBackFollowedByOnePoll: a Bridge API reading is the bridge's present, so one reading far
// behind what was applied is followed at once, and the bridge's own topics follow it too.
func TestClockBackFollowedByOnePoll(t *testing.T) {
	s := New("tedee", nil)
	mustApply(t, s, status(t0, 6, ``))
	mustApply(t, s, `{"event":"backend-connection-changed","timestamp":"2026-11-01T12:00:00Z","data":{"isConnected":1}}`)
	s.SetBridge("home", BridgeInfo{Connected: new(false)}, rebooted, now)
	if got := byTopic(s.Republish())["tedee/home/connected"]; got != "false" {
		t.Errorf("bridge cloud link after a reading on the new clock: %q", got)
	}
	if _, err := s.ApplySnapshot("home", snapshot(2, 50), rebooted, now); err != nil {
		t.Fatal(err)
	}
	wantState(t, s, "unlocked")
	mustApply(t, s, status(rebooted.Add(time.Second), 6, ``)) // webhooks on the new clock apply at once
	wantState(t, s, "locked")
}

// TestFutureTimesCountAsNowEverywhere: a poll, a bridge reading and a restored snapshot from a
// clock in 2099 do not freeze the lock.
func TestFutureTimesCountAsNowEverywhere(t *testing.T) {
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New("tedee", nil)
	if _, err := s.ApplySnapshot("home", snapshot(6, 50), future, now); err != nil {
		t.Fatal(err)
	}
	s.SetBridge("home", BridgeInfo{Connected: new(true)}, future, now)
	mustApply(t, s, status(now.Add(time.Second), 2, ``))
	wantState(t, s, "unlocked")
	if j := byTopic(s.Republish())["tedee/L-1/json"]; strings.Contains(j, "2099") {
		t.Errorf("a 2099 time was kept: %s", j)
	}

	planted := `{"serial":"L-1","id":7,"state":"locked","timestamp":"2099-01-01T00:00:00.000Z",` +
		`"updated_at":"2099-01-01T00:00:00.000Z","timestamps":{"status":"2099-01-01T00:00:00.000Z"}}`
	r := New("tedee", nil)
	if err := r.Restore("tedee/L-1/json", []byte(planted), now); err != nil {
		t.Fatal(err)
	}
	mustApply(t, r, status(now.Add(time.Second), 2, ``))
	wantState(t, r, "unlocked")
}

// TestRestoreRefusesOversizedSnapshot: a retained "snapshot" of any size is not parsed.
func TestRestoreRefusesOversizedSnapshot(t *testing.T) {
	s := New("tedee", nil)
	big := `{"serial":"L-1","name":"` + strings.Repeat("x", maxSnapshotBytes) + `"}`
	if err := s.Restore("tedee/L-1/json", []byte(big), now); err == nil {
		t.Error("an oversized snapshot was restored")
	}
}

// TestSnapshotInventsNothing: a reading without battery, connection, charging or jammed leaves
// them unknown (a missing battery is not 0 %).
func TestSnapshotInventsNothing(t *testing.T) {
	s := New("tedee", nil)
	msgs, err := s.ApplySnapshot("home", LockSnapshot{ID: 7, Serial: "L-1", DeviceType: 2, State: new(tedee.LockState(6))}, t0, now)
	if err != nil {
		t.Fatal(err)
	}
	got := byTopic(msgs)
	for _, topic := range []string{"battery", "connected", "charging", "jammed"} {
		if p, ok := got["tedee/L-1/"+topic]; ok {
			t.Errorf("%s published as %q though not reported", topic, p)
		}
	}
	if j := got["tedee/L-1/json"]; !strings.Contains(j, `"battery":null`) || !strings.Contains(j, `"connected":null`) {
		t.Errorf("json invents facts: %s", j)
	}
	s.SetBridge("home", BridgeInfo{Serial: "B-1"}, t0, now)
	republished := byTopic(s.Republish())
	if _, ok := republished["tedee/B-1/connected"]; ok {
		t.Errorf("bridge cloud link published though not reported")
	}
	if j := republished["tedee/B-1/json"]; !strings.Contains(j, `"connected":null`) {
		t.Errorf("bridge json: %s", j)
	}
}
