package state

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

type bridge struct {
	name      string // in tedee2mqtt's configuration: the route and the identifier
	label     string // its own name, from the Bridge API
	serial    string
	firmware  string
	connected *bool
	updatedAt time.Time
	applied   time.Time
	seen      bool
	clock     clockWatch // whether its clock went back
	api       bool       // read through the Bridge API: it has the API's diagnostics
	update    *Update    // from the Cloud API's device list; nil without it
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
		s.catalog++
	}
	return b
}

// applyBridge handles backend-connection-changed, which names no device: the bridge is the one
// whose route received it.
func (s *Store) applyBridge(name string, ev tedee.Event, ts, now time.Time) ([]Message, error) {
	b := s.bridgeNamed(name)
	if b.seen && ts.Before(b.applied) {
		if b.applied.Sub(ts) <= clockBackMin || !b.clock.behind(ts) {
			return nil, ErrStale
		}
		s.followClock(b, ts, now)
	}
	b.clock.clear()
	b.applied, b.seen = ts, true
	b.connected = ev.Connected
	b.updatedAt = now
	return append(s.bridgeDiscovery(b, false), s.bridgeState(b)...), nil
}

// BridgeInfo is a bridge as the Bridge API reports it (GET /bridge). Empty strings and nil are
// what the bridge did not report: nothing is invented for them.
type BridgeInfo struct {
	Name      string
	Serial    string
	Firmware  string
	Connected *bool
}

// SetBridge applies the bridge's details. Once its serial is known the bridge's topics move from
// <base>/<name>/… to <base>/<serial>/…, and the old ones are cleared so nothing stale is left.
func (s *Store) SetBridge(name string, info BridgeInfo, ts, now time.Time) []Message {
	b := s.bridgeNamed(name)
	b.api = true
	s.catalog++ // a reading may rename it or report its firmware; one a minute at most
	var msgs []Message
	if tedee.ValidSerial(info.Serial) && info.Serial != b.serial {
		for _, m := range s.bridgeState(b) {
			msgs = append(msgs, Message{Topic: m.Topic, Retain: true}) // clear what was published under the old segment
		}
		b.serial = info.Serial
	}
	if fw, ok := firmware(info.Firmware); ok {
		b.firmware = fw
	}
	if name, ok := deviceName(info.Name); ok {
		b.label = name
	}
	ts = clampFuture(ts, now)
	if b.seen && b.applied.Sub(ts) > clockBackMin {
		// A reading is the bridge's present: one far behind what was applied means its clock
		// went back, and it is followed from now on.
		s.followClock(b, ts, now)
	}
	if !b.seen || !ts.Before(b.applied) {
		b.applied, b.seen = ts, true
		if info.Connected != nil {
			b.connected = info.Connected
		}
	}
	b.updatedAt = now
	msgs = append(msgs, s.bridgeDiscovery(b, false)...)
	return append(msgs, s.bridgeState(b)...)
}

// bridgeState returns the bridge's retained state topics: json once its serial or cloud link is
// known, connected once its cloud link is.
func (s *Store) bridgeState(b *bridge) []Message {
	if b.connected == nil && b.serial == "" {
		return nil
	}
	var msgs []Message
	if b.connected != nil {
		msgs = append(msgs, Message{Topic: s.topic(b.segment(), "connected"), Payload: []byte(strconv.FormatBool(*b.connected)), Retain: true})
	}
	if b.update != nil {
		msgs = append(msgs, Message{Topic: s.topic(b.segment(), "update"), Payload: mustJSON(b.update), Retain: true})
	}
	return append(msgs, Message{Topic: s.topic(b.segment(), "json"), Payload: mustJSON(b.view()), Retain: true})
}

// view is the bridge as its json topic shows it, sharing nothing with it.
func (b *bridge) view() BridgeJSON {
	j := BridgeJSON{Name: b.name, Connected: copyOf(b.connected),
		UpdatedAt: b.updatedAt.UTC().Format(timeLayout), Timestamp: b.applied.UTC().Format(timeLayout)}
	if b.serial != "" {
		j.Serial = new(b.serial)
	}
	if b.label != "" {
		j.TedeeName = new(b.label)
	}
	if b.firmware != "" {
		j.Firmware = new(b.firmware)
	}
	return j
}

// Bridges returns every bridge as its json topic shows it, ordered by name.
func (s *Store) Bridges() []BridgeJSON {
	out := make([]BridgeJSON, 0, len(s.bridges))
	for _, b := range s.bridges {
		out = append(out, b.view())
	}
	slices.SortFunc(out, func(a, b BridgeJSON) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ApplyCloudBridge applies a bridge's firmware update as the Cloud API's device list reports it,
// to the configured bridge with that serial (known once its Bridge API has been read). A bridge
// tedee2mqtt does not know by serial is left out: it would otherwise appear twice, once under its
// configured name and once under its serial, as soon as its Bridge API told the serial.
func (s *Store) ApplyCloudBridge(serial string, update Update, now time.Time) []Message {
	fw, ok := firmware(update.Installed)
	if !ok {
		return nil
	}
	update.Installed = fw
	for _, b := range s.bridges {
		if b.serial != serial || serial == "" {
			continue
		}
		if b.update != nil && *b.update == (Update{Installed: update.Installed, UpdateAvailable: update.UpdateAvailable}) {
			return nil
		}
		b.update = &Update{Installed: update.Installed, UpdateAvailable: update.UpdateAvailable}
		b.updatedAt = now
		return append(s.bridgeDiscovery(b, false), s.bridgeState(b)...)
	}
	return nil
}
