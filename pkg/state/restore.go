package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Restore merges a lock's json snapshot that an earlier run left (in data_dir/state.json, or
// retained on the broker and read back at startup), so that the state and the ordering rule
// survive a restart. Per kind of fact, by time: a kind applied live in this process is never
// touched; one only restored so far takes a newer snapshot's facts. So state.json and the
// broker's snapshots, in whichever order they are read, merge to the newest of each. Facts
// without a kind (id, model, bridge, name) only fill what is unknown. Bridge snapshots (which have
// a "name") are skipped: a bridge is re-learned from its next event or sync, and restoring one no
// longer configured would bring it back. Nothing is published: the caller republishes once all is
// read. A snapshot is untrusted input (any broker client can retain one): its size is bounded,
// its serial and words validated, and its times clamped like any other time from outside.
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
	l, err := s.lockFrom(orEmpty(j.Bridge), j.Serial)
	if err != nil {
		return err
	}
	l.json = nil // merged below, not published
	s.catalog++
	for k := range numKinds {
		ts, err := time.Parse(time.RFC3339Nano, j.Timestamps[kindNames[k]])
		if err != nil {
			continue
		}
		ts = clampFuture(ts, now)
		if l.seen[k] && (!l.restored[k] || !ts.After(l.applied[k])) {
			continue // applied live here, or a snapshot at least as new was read already
		}
		l.applied[k], l.seen[k], l.restored[k] = ts, true, true
		l.restoreKind(k, j)
	}
	// Snapshots from before per-kind times (or planted ones without them) only fill gaps.
	l.fillFrom(j)
	l.restoreLastMoved(j, now)
	if l.id == 0 {
		s.identify(l, j.ID)
	}
	if l.deviceType == 0 && j.Model != nil {
		l.deviceType = tedee.DeviceType(*j.Model)
	}
	if l.bridge == "" && j.Bridge != nil {
		l.bridge = *j.Bridge
	}
	if ts, err := time.Parse(time.RFC3339Nano, j.Timestamp); err == nil && clampFuture(ts, now).After(l.newest) {
		l.newest = clampFuture(ts, now)
	}
	if ts, err := time.Parse(time.RFC3339Nano, j.UpdatedAt); err == nil && clampFuture(ts, now).After(l.updatedAt) {
		l.updatedAt = clampFuture(ts, now)
	}
	return nil
}

// restoreKind takes the facts of kind k from a snapshot, as they were when it was written.
func (l *lock) restoreKind(k kind, j LockJSON) {
	switch k {
	case kindStatus:
		l.state, l.jammed, l.door = validWord(j.State, tedee.StateWords), copyOf(j.Jammed), validWord(j.Door, tedee.DoorWords)
	case kindBattery:
		l.battery, l.batteryReported = nil, true
		if j.Battery != nil && tedee.BatteryKnown(*j.Battery) {
			l.battery = copyOf(j.Battery)
		}
	case kindCharging:
		l.charging = copyOf(j.Charging)
	case kindConnection:
		l.connected = copyOf(j.Connected)
	case kindSettings:
		if j.Name != nil {
			if name, ok := deviceName(*j.Name); ok {
				l.name = name
			}
		}
	}
}

// fillFrom fills the facts still unknown from a snapshot, whatever its times.
func (l *lock) fillFrom(j LockJSON) {
	fill(&l.state, validWord(j.State, tedee.StateWords))
	fill(&l.door, validWord(j.Door, tedee.DoorWords))
	fill(&l.jammed, j.Jammed)
	fill(&l.charging, j.Charging)
	fill(&l.connected, j.Connected)
	if !l.batteryReported && j.Battery != nil && tedee.BatteryKnown(*j.Battery) {
		l.battery, l.batteryReported = copyOf(j.Battery), true
	}
	if l.name == "" && j.Name != nil {
		if name, ok := deviceName(*j.Name); ok {
			l.name = name
		}
	}
	if l.firmware == "" && j.Firmware != nil {
		if fw, ok := firmware(*j.Firmware); ok {
			l.firmware = fw
		}
	}
}

// validWord returns a copy of w if it is one of words, else nil: an unknown word restores nothing.
func validWord(w *string, words []string) *string {
	if w == nil || !slices.Contains(words, *w) {
		return nil
	}
	return copyOf(w)
}

func copyOf[T any](v *T) *T {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// maxSnapshotBytes bounds a json snapshot read back: ours are well under 1 KiB.
const maxSnapshotBytes = 16 << 10

// fill sets *dst to a copy of *v where *dst is unknown.
func fill[T any](dst **T, v *T) {
	if *dst == nil {
		*dst = copyOf(v)
	}
}

// restoreLastMoved takes who last moved the lock from a snapshot newer than what is known, so that
// last_user survives a restart and the activity log is not replayed after it.
func (l *lock) restoreLastMoved(j LockJSON, now time.Time) {
	if j.LastMoved == nil || j.LastUser == nil || j.LastSource == nil {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, *j.LastMoved)
	user, okUser := deviceName(*j.LastUser)
	source, okSource := text(*j.LastSource, 32)
	if err != nil || !okUser || !okSource {
		return
	}
	at = clampFuture(at, now)
	if c := l.cloudFacts(); at.After(c.lastMoved) {
		c.lastMoved, c.lastUser, c.lastSource = at, &user, &source
	}
}
