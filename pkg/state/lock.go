package state

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// kind is a kind of fact that the ordering rule tracks separately: a late battery event must not
// be dropped because a newer lock-status event arrived, and vice versa.
type kind int

const (
	kindStatus kind = iota // state, jammed, door
	kindBattery
	kindCharging
	kindConnection
	kindSettings // the name, from the Tedee Cloud's device-settings-changed
	numKinds
)

var kindNames = [numKinds]string{"status", "battery", "charging", "connection", "settings"}

// fact names a per-fact topic.
type fact string

const (
	factState     fact = "state"
	factJammed    fact = "jammed"
	factDoor      fact = "door"
	factBattery   fact = "battery"
	factCharging  fact = "charging"
	factConnected fact = "connected"
	// Diagnostics, from Bridge API readings only (no ordering kind: the last reading is the
	// lock's present).
	factRSSI     fact = "rssi"
	factFirmware fact = "firmware"
)

type lock struct {
	serial          string
	id              int64
	deviceType      int
	bridge          string
	state           *string
	jammed          *bool
	door            *string
	battery         *int // nil: never reported or not known (255)
	batteryReported bool
	charging        *bool
	connected       *bool
	// canPull is set once the lock has been seen pulling; pullSpring, when the Bridge API has
	// reported the settings, overrides it. Home Assistant offers "open" only when pulling works.
	canPull    bool
	pullSpring *bool
	name       string
	firmware   string
	rssi       *int // signal strength to its bridge, dBm; nil until a reading reports it
	cloud      *cloudFacts
	settings   *Settings // from the Bridge API's readings or the Cloud API's device list
	// json is the json payload last published: Snapshots (state.json, once a second) reuses it
	// rather than marshalling every lock again. nil when the lock changed without publishing it
	// (a restore).
	json      []byte
	updatedAt time.Time
	newest    time.Time // the newest event time applied, any kind
	// applied holds, per kind, the time of the newest event applied; seen says whether there was
	// one, because a bridge with an unset clock sends year-1 times that are still valid.
	applied [numKinds]time.Time
	seen    [numKinds]bool
	// restored says the kind's facts came from a snapshot of an earlier run, not from this
	// process: a newer snapshot may still replace them (restore.go).
	restored [numKinds]bool
	// published holds a digest of the discovery config last published per entity, so that a
	// config is sent again only when it changes and removed when the entity no longer applies.
	// A digest, not the bytes: the configs are most of a lock's memory otherwise (7 KB vs 0.9 KB
	// per lock, docs/benchmarks.md), and they are only ever compared.
	published map[homeassistant.Entity]uint64
	// discovered is what the published configs were built from; unchanged, nothing is rebuilt.
	discovered homeassistant.Lock
}

// accept applies the ordering rule: an event older than the newest applied of its kind is dropped.
// An equal time is accepted, so a redelivered event is harmless and the documentation samples,
// which all share one timestamp, apply in order.
func (l *lock) accept(k kind, ts time.Time) bool {
	if l.seen[k] && ts.Before(l.applied[k]) {
		return false
	}
	l.applied[k], l.seen[k], l.restored[k] = ts, true, false
	return true
}

// facts collects the facts a change touched, in the order they changed.
type facts []fact

// set stores v in *dst and records f when it differs from what *dst held (or *dst was unknown).
// It is the one way a webhook and a Bridge API reading update a fact, so both publish only what
// changed.
func set[T comparable](changed *facts, f fact, dst **T, v T) {
	if *dst == nil || **dst != v {
		*dst = &v
		*changed = append(*changed, f)
	}
}

// setBattery stores a raw battery level (255: not known) and records the change.
func (l *lock) setBattery(changed *facts, level int) {
	var v *int
	if tedee.BatteryKnown(level) {
		v = &level
	}
	if !l.batteryReported || !equalInt(l.battery, v) {
		l.battery, l.batteryReported = v, true
		*changed = append(*changed, factBattery)
	}
}

func equalInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// setStatus applies the status kind's facts that were reported: state, jammed and door (when
// its word is known).
func (l *lock) setStatus(changed *facts, st *tedee.LockState, jammed *bool, door *tedee.DoorState) {
	if st != nil {
		word := st.Word()
		set(changed, factState, &l.state, word)
		if word == "pulling" || word == "pulled" {
			l.canPull = true
		}
	}
	if jammed != nil {
		set(changed, factJammed, &l.jammed, *jammed)
	}
	if door != nil {
		if w := door.Word(); w != "" {
			set(changed, factDoor, &l.door, w)
		}
	}
}

// apply updates the facts the event carries that pass the ordering rule and returns those that
// changed. A state word is published again even when unchanged: a redelivered or repeated
// status event still says the lock is in that state now.
func (l *lock) apply(ev tedee.Event, ts time.Time) (changed facts, accepted bool) {
	switch ev.Name {
	case tedee.EventLockStatusChanged:
		if !l.accept(kindStatus, ts) {
			return nil, false
		}
		l.state = nil // an event publishes even an unchanged state: the lock says it is in it now
		l.setStatus(&changed, ev.State, ev.Jammed, ev.DoorState)
		// A lock that reports a state change is talking to its bridge. Until a connection event
		// says otherwise, say so: webhook-only setups may never get one, and Home Assistant keeps
		// a lock's entities unavailable until its connected topic says "true". Not a fact of the
		// connection kind, so any real connection event, even an older one, still applies.
		if l.connected == nil {
			set(&changed, factConnected, &l.connected, true)
		}
		return changed, true
	case tedee.EventBatteryLevelChanged:
		if !l.accept(kindBattery, ts) {
			return nil, false
		}
		l.battery, l.batteryReported = nil, false // an event publishes even an unchanged level
		l.setBattery(&changed, *ev.Battery)
		return changed, true
	case tedee.EventBatteryStartCharging, tedee.EventBatteryStopCharging, tedee.EventBatteryFullyCharged:
		// Fully charged means charging stopped at 100 %.
		charging := ev.Name == tedee.EventBatteryStartCharging
		if l.accept(kindCharging, ts) {
			l.charging = nil // an event publishes even an unchanged value
			set(&changed, factCharging, &l.charging, charging)
		}
		if ev.Name == tedee.EventBatteryFullyCharged && l.accept(kindBattery, ts) {
			l.battery, l.batteryReported = nil, false
			l.setBattery(&changed, 100)
		}
		return changed, len(changed) > 0
	case tedee.EventDeviceConnectionChanged:
		if !l.accept(kindConnection, ts) {
			return nil, false
		}
		l.connected = nil
		set(&changed, factConnected, &l.connected, *ev.Connected)
		return changed, true
	case tedee.EventDeviceSettingsChanged:
		// The cloud's carries the name given in the Tedee app, which names the Home Assistant
		// device; the bridge's carries no settings at all (its controller reads them instead).
		// No topic of its own: json and discovery show it.
		if name, ok := deviceName(ev.Data["name"]); ok && l.accept(kindSettings, ts) {
			l.name = name
		}
		return nil, true
	}
	return nil, true // the bell: nothing about the lock changes
}

// knownFacts lists, in a fixed order, the per-fact topics that have a value.
func (l *lock) knownFacts() []fact {
	var out []fact
	for _, f := range []struct {
		fact  fact
		known bool
	}{{factState, l.state != nil}, {factJammed, l.jammed != nil}, {factDoor, l.door != nil},
		{factBattery, l.batteryReported}, {factCharging, l.charging != nil}, {factConnected, l.connected != nil},
		{factRSSI, l.rssi != nil}, {factFirmware, l.firmware != ""}, {factSettings, l.settings != nil}} {
		if f.known {
			out = append(out, f.fact)
		}
	}
	return append(out, l.cloudKnown()...)
}

// pulls reports whether the lock can pull its spring: its settings say so, or, without settings,
// it has been seen pulling.
func (l *lock) pulls() bool {
	if l.pullSpring != nil {
		return *l.pullSpring
	}
	return l.canPull
}

// maxNameBytes bounds a device name taken from a webhook or a retained snapshot.
const maxNameBytes = 128

// maxFirmwareBytes bounds a firmware version from the Bridge API: it is copied into every
// discovery config of the device, so a 300 KB "version" would be copied seven times per lock.
// Real ones look like "2.2.31232".
const maxFirmwareBytes = 64

// deviceName returns v as a device name if it is one: a string of graphic UTF-8 (no control
// characters), at most maxNameBytes long once trimmed.
func deviceName(v any) (string, bool) { return text(v, maxNameBytes) }

// firmware returns v as a firmware version if it is one, like deviceName.
func firmware(v string) (string, bool) { return text(v, maxFirmwareBytes) }

// text returns v as a string of graphic UTF-8 of at most max bytes once trimmed, if it is one.
func text(v any, max int) (string, bool) {
	name, ok := v.(string)
	if !ok {
		return "", false
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > max || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if !unicode.IsGraphic(r) {
			return "", false
		}
	}
	return name, true
}
