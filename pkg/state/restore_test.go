package state

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapshotOf returns the json snapshot a store would have left retained for a lock.
func snapshotOf(t *testing.T, s *Store, serial string) []byte {
	t.Helper()
	for _, m := range s.Republish() {
		if m.Topic == "tedee/"+serial+"/json" {
			return m.Payload
		}
	}
	t.Fatalf("no json for %s", serial)
	return nil
}

// TestRestoreKeepsStateAndOrdering: a new store restored from an old one's snapshot drops events
// older than what the old one applied, and its next snapshot carries the old facts.
func TestRestoreKeepsStateAndOrdering(t *testing.T) {
	old := New("tedee", nil)
	mustApply(t, old, status(t0.Add(2*time.Second), 6, `,"jammed":0,"doorState":3`))
	mustApply(t, old, battery(t0.Add(2*time.Second), 80))
	mustApply(t, old, simple("device-battery-start-charging", t0.Add(2*time.Second)))

	s := New("tedee", nil)
	if err := s.Restore("tedee/L-1/json", snapshotOf(t, old, "L-1"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply("home", decode(t, status(t0.Add(time.Second), 2, `,"jammed":0`)), now); !errors.Is(err, ErrStale) {
		t.Errorf("older status after restore: err = %v, want ErrStale", err)
	}
	got := byTopic(mustApply(t, s, battery(t0.Add(3*time.Second), 70)))
	j := got["tedee/L-1/json"]
	for _, want := range []string{`"state":"locked"`, `"door":"closed"`, `"jammed":false`, `"battery":70`,
		`"charging":true`, `"connected":true`, `"model":"lock_pro"`, `"id":7`, `"bridge":"home"`} {
		if !strings.Contains(j, want) {
			t.Errorf("json after restore lacks %s: %s", want, j)
		}
	}
	if serial, ok := s.SerialOf(7); !ok || serial != "L-1" {
		t.Errorf("device id not restored: %q %v", serial, ok)
	}
}

// TestRestoreNeverOverridesLive: what this process learned before the snapshot arrived wins.
func TestRestoreNeverOverridesLive(t *testing.T) {
	old := New("tedee", nil)
	mustApply(t, old, status(t0.Add(5*time.Second), 6, ``))
	s := New("tedee", nil)
	mustApply(t, s, status(t0, 2, ``)) // live, though older than the snapshot
	if err := s.Restore("tedee/L-1/json", snapshotOf(t, old, "L-1"), now); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.LockState("L-1"); st != "unlocked" {
		t.Errorf("restore overrode a live state: %s", st)
	}
}

func TestRestoreRejects(t *testing.T) {
	s := New("tedee", nil)
	for topic, payload := range map[string]string{
		"tedee/L-1/json":  `{"serial":"L-2"}`,
		"other/L-1/json":  `{"serial":"L-1"}`,
		"tedee/a+b/json":  `{"serial":"a+b"}`,
		"tedee/L-1/state": `locked`,
		"tedee/L-1/json ": `{}`,
		"tedee/L-3/json":  `not json`,
	} {
		if err := s.Restore(topic, []byte(payload), now); err == nil {
			t.Errorf("Restore(%q, %q) accepted", topic, payload)
		}
	}
	// A bridge snapshot is skipped, a bogus state word is not restored.
	if err := s.Restore("tedee/home/json", []byte(`{"name":"home","connected":true}`), now); err != nil {
		t.Errorf("bridge snapshot: %v", err)
	}
	if err := s.Restore("tedee/L-4/json", []byte(`{"serial":"L-4","state":"wide_open","door":"ajar","battery":255}`), now); err != nil {
		t.Fatal(err)
	}
	if st, ok := s.LockState("L-4"); ok {
		t.Errorf("bogus state restored: %s", st)
	}
	if len(s.bridges) != 0 {
		t.Errorf("bridge restored")
	}
}

// TestRestoreMergesByTime: two snapshots of the same lock (state.json and the broker's retained
// json), read in either order, merge to the newest of each kind of fact.
func TestRestoreMergesByTime(t *testing.T) {
	older := New("tedee", nil)
	mustApply(t, older, status(t0, 6, `,"jammed":0`))
	mustApply(t, older, battery(t0.Add(5*time.Second), 80))
	newer := New("tedee", nil)
	mustApply(t, newer, status(t0.Add(2*time.Second), 2, `,"jammed":0`))
	mustApply(t, newer, battery(t0, 30))
	a, b := snapshotOf(t, older, "L-1"), snapshotOf(t, newer, "L-1")
	for _, order := range [][][]byte{{a, b}, {b, a}} {
		s := New("tedee", nil)
		for _, snap := range order {
			if err := s.Restore("tedee/L-1/json", snap, now); err != nil {
				t.Fatal(err)
			}
		}
		j := byTopic(s.Republish())["tedee/L-1/json"]
		if !strings.Contains(j, `"state":"unlocked"`) || !strings.Contains(j, `"battery":80`) {
			t.Errorf("merged snapshot is not the newest of each kind: %s", j)
		}
		// The merged times still order what comes next.
		if _, err := s.Apply("home", decode(t, status(t0.Add(time.Second), 6, ``)), now); !errors.Is(err, ErrStale) {
			t.Errorf("event older than the newest restored status: %v, want stale", err)
		}
	}
}

// TestDifferingAfterRestart: after a restart, a lock the broker retains as the store holds it is
// not to be republished; one it lacks, or holds otherwise, is.
func TestDifferingAfterRestart(t *testing.T) {
	before := New("tedee", nil)
	for _, serial := range []string{"L-1", "L-2", "L-3"} {
		ev := decode(t, strings.Replace(status(t0, 6, ""), "L-1", serial, 1))
		if _, err := before.Apply("home", ev, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := before.ApplySnapshot("home", LockSnapshot{ID: 7, Serial: "L-1", Firmware: "2.2.1"}, t0, now); err != nil {
		t.Fatal(err)
	}
	retained := map[string][]byte{}
	for serial, payload := range before.Snapshots() {
		retained["tedee/"+serial+"/json"] = payload
	}
	delete(retained, "tedee/L-3/json") // the broker lost it
	// L-2 was unlocked while the broker was out of reach: only state.json has it.
	ev := decode(t, strings.Replace(status(t0.Add(time.Minute), 2, ""), "L-1", "L-2", 1))
	if _, err := before.Apply("home", ev, now); err != nil {
		t.Fatal(err)
	}

	after := New("tedee", nil)
	for topic, payload := range retained {
		if err := after.Restore(topic, payload, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := after.Restore("tedee/L-3/json", before.Snapshots()["L-3"], now); err != nil { // from state.json
		t.Fatal(err)
	}
	if err := after.Restore("tedee/L-2/json", before.Snapshots()["L-2"], now); err != nil {
		t.Fatal(err)
	}
	got := after.Differing(retained)
	slices.Sort(got)
	if !slices.Equal(got, []string{"L-2", "L-3"}) {
		t.Errorf("differing = %v, want L-2 (changed while the broker was away) and L-3 (lost by it)", got)
	}
	if msgs := byTopic(after.RepublishLocks(got, false)); msgs["tedee/L-2/state"] != "unlocked" {
		t.Errorf("L-2 republished as %q", msgs["tedee/L-2/state"])
	}
}

// TestCatalog: the devices list's version moves when a lock appears, is renamed or removed, and
// not when a lock only changes state.
func TestCatalog(t *testing.T) {
	s := New("tedee", nil)
	c0 := s.Catalog()
	if _, err := s.Apply("home", decode(t, status(t0, 6, "")), now); err != nil {
		t.Fatal(err)
	}
	c1 := s.Catalog()
	if c1 == c0 {
		t.Error("a new lock left the catalog as it was")
	}
	if _, err := s.Apply("home", decode(t, status(t0.Add(time.Second), 2, "")), now); err != nil {
		t.Fatal(err)
	}
	if s.Catalog() != c1 {
		t.Error("a state change moved the catalog")
	}
	if _, err := s.ApplySnapshot("home", LockSnapshot{ID: 7, Serial: "L-1", Name: "Garage"}, t0, now); err != nil {
		t.Fatal(err)
	}
	c2 := s.Catalog()
	if c2 == c1 {
		t.Error("a rename left the catalog as it was")
	}
	s.RemoveLock("L-1")
	if s.Catalog() == c2 {
		t.Error("a removal left the catalog as it was")
	}
}
