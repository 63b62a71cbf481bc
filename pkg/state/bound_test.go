package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// batteryOf is a battery event for the lock with that serial.
func batteryOf(t *testing.T, serial string, ts time.Time) string {
	t.Helper()
	return fmt.Sprintf(`{"event":"device-battery-level-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":0,"serialNumber":%q,"batteryLevel":50}}`,
		ts.Format(time.RFC3339Nano), serial)
}

// A flood of invented serials on one bridge's route fills that bridge's share and nothing more:
// it evicts no lock, blocks no known lock, no lock the Bridge API lists, and no other bridge.
func TestLocksPerBridgeBoundAFlood(t *testing.T) {
	s := New("tedee", nil)
	s.SetMaxLocksPerBridge(3)
	for _, serial := range []string{"REAL-1", "REAL-2"} {
		snap := snapshot(6, 80)
		snap.Serial = serial
		if _, err := s.ApplySnapshot("home", snap, t0, now); err != nil {
			t.Fatal(err)
		}
	}
	accepted := 0
	for i := range 1000 {
		_, err := s.Apply("home", decode(t, batteryOf(t, fmt.Sprintf("FLOOD-%d", i), t0)), now)
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrTooManyLocks):
			t.Fatalf("flood lock %d: %v", i, err)
		}
	}
	if accepted != 3 || len(s.locks) != 5 {
		t.Errorf("flood of 1,000: %d accepted, %d locks tracked; want 3 and 5 (2 listed + 3)", accepted, len(s.locks))
	}
	// Known locks still take events; a lock the Bridge API lists always gets in.
	if _, err := s.Apply("home", decode(t, batteryOf(t, "REAL-1", t0.Add(time.Second))), now); err != nil {
		t.Errorf("event for a listed lock after the flood: %v", err)
	}
	if _, err := s.Apply("home", decode(t, batteryOf(t, "FLOOD-0", t0.Add(time.Second))), now); err != nil {
		t.Errorf("event for a lock already known: %v", err)
	}
	snap := snapshot(2, 60)
	snap.Serial = "REAL-3"
	if _, err := s.ApplySnapshot("home", snap, t0, now); err != nil {
		t.Errorf("a new lock the Bridge API lists, after the flood: %v", err)
	}
	// Another bridge has its own share.
	if _, err := s.Apply("garage", decode(t, batteryOf(t, "GARAGE-1", t0)), now); err != nil {
		t.Errorf("first lock of another bridge: %v", err)
	}
	// Removing an invented lock (the sync's job) frees its place; listing one takes it out of
	// the share.
	s.RemoveLock("FLOOD-0")
	if _, err := s.Apply("home", decode(t, batteryOf(t, "NEW-1", t0)), now); err != nil {
		t.Errorf("a new lock once an invented one is removed: %v", err)
	}
	snap.Serial = "FLOOD-1"
	if _, err := s.ApplySnapshot("home", snap, t0, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply("home", decode(t, batteryOf(t, "NEW-2", t0)), now); err != nil {
		t.Errorf("a new lock once an invented one turned out to be listed: %v", err)
	}
	if _, err := s.Apply("home", decode(t, batteryOf(t, "NEW-3", t0)), now); !errors.Is(err, ErrTooManyLocks) {
		t.Errorf("one more than the share: err = %v, want ErrTooManyLocks", err)
	}
}

// What a restart reads back is bounded the same way: a flood saved before cannot come back whole.
func TestRestoreBoundedPerBridge(t *testing.T) {
	src := New("tedee", nil)
	for i := range 5 {
		if _, err := src.Apply("home", decode(t, batteryOf(t, fmt.Sprintf("R-%d", i), t0)), now); err != nil {
			t.Fatal(err)
		}
	}
	s := New("tedee", nil)
	s.SetMaxLocksPerBridge(3)
	restored := 0
	for serial, payload := range src.Snapshots() {
		err := s.Restore("tedee/"+serial+"/json", payload, now)
		switch {
		case err == nil:
			restored++
		case !errors.Is(err, ErrTooManyLocks):
			t.Fatalf("restore %s: %v", serial, err)
		}
	}
	if restored != 3 {
		t.Errorf("restored %d of 5 snapshots of one bridge, want its share of 3", restored)
	}
}
