package state

import (
	"strconv"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

type bridge struct {
	name      string
	serial    string
	firmware  string
	connected *bool
	updatedAt time.Time
	applied   time.Time
	seen      bool
	// discovered is what the published discovery config was built from; nil: not published.
	discovered *homeassistant.Bridge
}

// segment is the bridge's topic segment: its serial once known, else its name.
func (b *bridge) segment() string {
	if b.serial != "" {
		return b.serial
	}
	return b.name
}

// bridgeNamed returns the bridge, creating it on first sight.
func (s *Store) bridgeNamed(name string) *bridge {
	b, ok := s.bridges[name]
	if !ok {
		b = &bridge{name: name}
		s.bridges[name] = b
	}
	return b
}

// applyBridge handles backend-connection-changed, which names no device: the bridge is the one
// whose route received it.
func (s *Store) applyBridge(name string, ev tedee.Event, ts, now time.Time) ([]Message, error) {
	b := s.bridgeNamed(name)
	if b.seen && ts.Before(b.applied) {
		return nil, ErrStale
	}
	b.applied, b.seen = ts, true
	b.connected = ev.Connected
	b.updatedAt = now
	return append(s.bridgeDiscovery(b, false), s.bridgeState(b)...), nil
}

// BridgeInfo is a bridge as the Bridge API reports it (GET /bridge).
type BridgeInfo struct {
	Serial    string
	Firmware  string
	Connected bool
}

// SetBridge applies the bridge's details. Once its serial is known the bridge's topics move from
// <base>/<name>/… to <base>/<serial>/…, and the old ones are cleared so nothing stale is left.
func (s *Store) SetBridge(name string, info BridgeInfo, ts, now time.Time) []Message {
	b := s.bridgeNamed(name)
	var msgs []Message
	if tedee.ValidSerial(info.Serial) && info.Serial != b.serial {
		if b.connected != nil {
			old := b.segment()
			msgs = append(msgs, Message{Topic: s.topic(old, "connected"), Retain: true},
				Message{Topic: s.topic(old, "json"), Retain: true})
		}
		b.serial = info.Serial
	}
	b.firmware = info.Firmware
	if !b.seen || !ts.Before(b.applied) {
		b.applied, b.seen = ts, true
		connected := info.Connected
		b.connected = &connected
	}
	b.updatedAt = now
	msgs = append(msgs, s.bridgeDiscovery(b, false)...)
	return append(msgs, s.bridgeState(b)...)
}

// bridgeState returns the bridge's retained state topics, once its cloud link is known.
func (s *Store) bridgeState(b *bridge) []Message {
	if b.connected == nil {
		return nil
	}
	j := BridgeJSON{Name: b.name, Connected: b.connected,
		UpdatedAt: b.updatedAt.UTC().Format(timeLayout), Timestamp: b.applied.UTC().Format(timeLayout)}
	if b.serial != "" {
		j.Serial = &b.serial
	}
	return []Message{
		{Topic: s.topic(b.segment(), "connected"), Payload: []byte(strconv.FormatBool(*b.connected)), Retain: true},
		{Topic: s.topic(b.segment(), "json"), Payload: mustJSON(j), Retain: true},
	}
}
