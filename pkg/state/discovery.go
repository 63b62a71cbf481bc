package state

import (
	"hash/maphash"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// bridgeDiscovery returns the bridge's discovery config if it is new or changed, or always when
// force is set.
func (s *Store) bridgeDiscovery(b *bridge, force bool) []Message {
	if s.disc == nil {
		return nil
	}
	info := homeassistant.Bridge{Name: b.name, Label: b.label, Serial: b.serial, Firmware: b.firmware, Segment: b.segment(),
		API: b.api, Update: b.update != nil}
	if !force && b.discovered != nil && *b.discovered == info {
		return nil
	}
	b.discovered = &info
	var msgs []Message
	for _, c := range s.disc.BridgeConfigs(info) {
		msgs = append(msgs, Message{Topic: c.Topic, Payload: c.Payload, Retain: true})
	}
	return msgs
}

// lockDiscovery returns the discovery configs of a lock that are new or changed, and empty
// retained configs that remove entities that no longer apply; with force, every config.
func (s *Store) lockDiscovery(l *lock, force bool) []Message {
	if s.disc == nil {
		return nil
	}
	info := homeassistant.Lock{Serial: l.serial, Bridge: l.bridge, CanPull: l.pulls(), Name: l.name,
		Firmware: l.firmware, DoorPaired: l.door != nil && *l.door != "not_paired", HasRSSI: l.rssi != nil}
	if l.deviceType != 0 {
		info.Model = tedee.Model(l.deviceType)
	}
	if c := l.cloud; c != nil {
		info.Cloud, info.Update = true, c.update != nil
		info.DoorSensorBattery, info.KeypadBattery = c.doorSensor != nil, c.keypad != nil
		// Settings are written through the Cloud API: without it, Home Assistant gets no
		// switches that could not switch.
		if l.settings != nil {
			info.Settings = l.settings.Keys()
		}
	}
	if !force && sameLock(info, l.discovered) && len(l.published) > 0 {
		return nil
	}
	l.discovered = info
	var msgs []Message
	for _, e := range homeassistant.LockEntities {
		if !homeassistant.LockWants(info, e) {
			if _, ok := l.published[e]; ok {
				msgs = append(msgs, s.removeConfig(l.serial, e))
				delete(l.published, e)
			}
			continue
		}
		c := s.disc.LockConfig(info, e)
		digest := maphash.Bytes(s.seed, c.Payload)
		if old, ok := l.published[e]; force || !ok || old != digest {
			msgs = append(msgs, Message{Topic: c.Topic, Payload: c.Payload, Retain: true})
			l.published[e] = digest
		}
	}
	return msgs
}

// removeDiscovery returns the empty retained configs that remove every entity published for l.
func (s *Store) removeDiscovery(l *lock) []Message {
	if s.disc == nil {
		return nil
	}
	var msgs []Message
	for _, e := range homeassistant.LockEntities {
		if _, ok := l.published[e]; ok {
			msgs = append(msgs, s.removeConfig(l.serial, e))
		}
	}
	return msgs
}

func (s *Store) removeConfig(serial string, e homeassistant.Entity) Message {
	uid := s.disc.UniqueID(serial, e)
	return Message{Topic: s.disc.ConfigTopic(homeassistant.Component(e), uid), Retain: true}
}

// sameLock reports whether discovery would build the same configs for a and b. (Lock holds a
// slice, so == does not compile.)
func sameLock(a, b homeassistant.Lock) bool { return a.Equal(b) }
