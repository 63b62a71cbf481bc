package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Restore fills in what this process has not learned yet from a lock's json snapshot that an
// earlier run published (read back from the broker's retained messages at startup), so that the
// state and the ordering rule survive a restart. What was already applied here wins: a kind of
// fact seen in this process is not touched, and a fact is only filled where it is unknown.
// Bridge snapshots (which have a "name") are skipped: a bridge is re-learned from its next event
// or sync, and restoring one no longer configured would bring it back. Nothing is published: the
// snapshot is still retained on the broker. A snapshot is untrusted input (any broker client can
// retain one): its size is bounded, its serial validated, and its times clamped like any other
// time from outside (a 2099 time would otherwise freeze the lock).
func (s *Store) Restore(topic string, payload []byte, now time.Time) error {
	if len(payload) > maxSnapshotBytes {
		return fmt.Errorf("restore %s: %d bytes, more than a snapshot of ours can be", topic, len(payload))
	}
	segment, ok := strings.CutPrefix(topic, s.base+"/")
	segment, ok2 := strings.CutSuffix(segment, "/json")
	if !ok || !ok2 || !tedee.ValidSerial(segment) {
		return fmt.Errorf("restore %s: not a json topic of ours", topic)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil {
		return fmt.Errorf("restore %s: %w", topic, err)
	}
	_, named := probe["name"]
	if _, hasID := probe["id"]; named && !hasID {
		return nil // a bridge's (a lock's has a name too, but always an id)
	}
	var j LockJSON
	if err := json.Unmarshal(payload, &j); err != nil {
		return fmt.Errorf("restore %s: %w", topic, err)
	}
	if j.Serial != segment {
		return fmt.Errorf("restore %s: snapshot is for %q", topic, j.Serial)
	}
	l, _, err := s.lockFor(j.Serial)
	if err != nil {
		return err
	}
	for k := kind(0); k < numKinds; k++ {
		if l.seen[k] {
			continue
		}
		if ts, err := time.Parse(time.RFC3339Nano, j.Timestamps[kindNames[k]]); err == nil {
			l.applied[k], l.seen[k] = clampFuture(ts, now), true
		}
	}
	if j.State != nil && slices.Contains(tedee.StateWords, *j.State) {
		fill(&l.state, j.State)
	}
	if j.Door != nil && slices.Contains(tedee.DoorWords, *j.Door) {
		fill(&l.door, j.Door)
	}
	fill(&l.jammed, j.Jammed)
	fill(&l.charging, j.Charging)
	fill(&l.connected, j.Connected)
	if !l.batteryReported && (j.Battery != nil || j.Timestamps[kindNames[kindBattery]] != "") {
		if j.Battery == nil || tedee.BatteryKnown(*j.Battery) {
			l.battery, l.batteryReported = j.Battery, true
		}
	}
	if l.id == 0 {
		s.identify(l, j.ID)
	}
	if l.deviceType == 0 && j.Model != nil {
		l.deviceType = tedee.DeviceType(*j.Model)
	}
	if l.bridge == "" && j.Bridge != nil {
		l.bridge = *j.Bridge
	}
	if l.name == "" && j.Name != nil {
		if name, ok := deviceName(*j.Name); ok {
			l.name = name
		}
	}
	if ts, err := time.Parse(time.RFC3339Nano, j.Timestamp); err == nil && clampFuture(ts, now).After(l.newest) {
		l.newest = clampFuture(ts, now)
	}
	if ts, err := time.Parse(time.RFC3339Nano, j.UpdatedAt); err == nil && l.updatedAt.IsZero() {
		l.updatedAt = clampFuture(ts, now)
	}
	return nil
}

// maxSnapshotBytes bounds a json snapshot read back: ours are well under 1 KiB.
const maxSnapshotBytes = 16 << 10

// fill sets *dst to a copy of *v where *dst is unknown: restored facts never override live ones.
func fill[T any](dst **T, v *T) {
	if *dst == nil && v != nil {
		c := *v
		*dst = &c
	}
}
