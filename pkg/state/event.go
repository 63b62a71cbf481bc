package state

import (
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Apply applies an event received from the named bridge at time now and returns what to publish.
// An empty bridgeName means the event came from the Tedee Cloud, which does not say through which
// bridge the lock talks: the lock keeps the bridge it had.
func (s *Store) Apply(bridgeName string, ev tedee.Event, now time.Time) ([]Message, error) {
	if !ev.Known() {
		return nil, ErrUnknownEvent
	}
	ts := clampFuture(ev.Timestamp, now)
	if ev.Name == tedee.EventBackendConnectionChanged {
		return s.applyBridge(bridgeName, ev, ts, now)
	}
	l, err := s.lockFrom(bridgeName, ev.Serial)
	if err != nil {
		return nil, err
	}
	described, before := l.described(), orEmpty(l.state)
	defer func() {
		if l.described() != described {
			s.catalog++
		}
	}()
	// (A new lock has seen nothing, so its first facts always apply.)
	changed, accepted := l.apply(ev, ts)
	if bridgeName != "" {
		b := s.bridgeNamed(bridgeName)
		if !accepted && l.behind(ev.Name, ts) && b.clock.behind(ts) {
			s.followClock(b, ts, now)
			l.rewind(ts)
			changed, accepted = l.apply(ev, ts)
		} else if accepted {
			b.clock.clear()
		}
	}
	if !accepted {
		return nil, ErrStale
	}
	s.identify(l, ev.DeviceID)
	if ev.Name == tedee.EventBellButtonPressed {
		return []Message{s.eventMessage(bridgeName, l, ev)}, nil // someone rang: nothing about the lock changed
	}
	if ev.DeviceType != 0 {
		l.deviceType = ev.DeviceType
	}
	var msgs []Message
	if bridgeName != "" {
		l.bridge = bridgeName
		// Discovery goes first so that Home Assistant has the entities when their state arrives.
		msgs = s.bridgeDiscovery(s.bridgeNamed(bridgeName), false)
	}
	l.updatedAt = now
	if ts.After(l.newest) {
		l.newest = ts
	}
	msgs = append(msgs, s.lockDiscovery(l, false)...)
	s.notifyState(l, before)
	for _, f := range changed {
		msgs = append(msgs, s.factMessage(l, f))
	}
	return append(msgs, s.lockJSON(l), s.eventMessage(bridgeName, l, ev)), nil
}

// behind reports whether the event is older than what was applied for its kind of fact by more
// than clockBackMin: a sign that the sender's clock went back, not a late retry.
func (l *lock) behind(event string, ts time.Time) bool {
	k, ok := eventKinds[event]
	return ok && l.seen[k] && l.applied[k].Sub(ts) > clockBackMin
}

// eventKinds maps the events under the ordering rule to their kind of fact.
var eventKinds = map[string]kind{
	tedee.EventLockStatusChanged:       kindStatus,
	tedee.EventBatteryLevelChanged:     kindBattery,
	tedee.EventBatteryStartCharging:    kindCharging,
	tedee.EventBatteryStopCharging:     kindCharging,
	tedee.EventBatteryFullyCharged:     kindCharging,
	tedee.EventDeviceConnectionChanged: kindConnection,
	tedee.EventDeviceSettingsChanged:   kindSettings,
}
