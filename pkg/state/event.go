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
	l, _, err := s.lockFor(ev.Serial)
	if err != nil {
		return nil, err
	}
	// (A new lock has seen nothing, so its first facts always apply.)
	changed, accepted := l.apply(ev, ts)
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
	for _, f := range changed {
		msgs = append(msgs, s.factMessage(l, f))
	}
	return append(msgs, s.lockJSON(l), s.eventMessage(bridgeName, l, ev)), nil
}
