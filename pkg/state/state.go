// Package state is the core of tedee2mqtt: it keeps what is known about every lock and bridge and
// turns each decoded Tedee event into the MQTT messages that describe the change. It does no I/O:
// time comes in with every call and messages go out as return values, so it is tested without a
// network.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// MaxLocks bounds how many locks one process tracks, so that a flood of invented serials cannot
// grow memory without limit. A property manager with thousands of locks stays far below it.
const MaxLocks = 10000

// maxFutureSkew is how far ahead of our clock an event time may be before it is treated as "now"
// for ordering. Without it, one event stamped by a bridge with a wrong clock (say, a year ahead)
// would make every later, correct event look old and freeze the lock's state.
const maxFutureSkew = 10 * time.Minute

var (
	// ErrStale means every fact in the event is older than what was already applied; nothing is
	// published.
	ErrStale = errors.New("older than the state already applied")
	// ErrUnknownEvent means the event is not one tedee2mqtt understands; nothing is published.
	ErrUnknownEvent = errors.New("unknown event")
	// ErrTooManyLocks means the event names a new lock while MaxLocks are already tracked.
	ErrTooManyLocks = errors.New("too many locks")
)

// Message is one MQTT publication.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

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

// Store holds the state of every lock and bridge seen. It is safe for concurrent use.
type Store struct {
	base    string
	disc    *homeassistant.Options // nil: no Home Assistant discovery
	mu      sync.Mutex
	locks   map[string]*lock
	bridges map[string]*bridge
	serials map[int64]string // device id → serial, for events that name devices by id
	seed    maphash.Seed     // for the digests of published discovery configs
}

// New returns an empty store publishing under baseTopic (e.g. "tedee"), with Home Assistant
// discovery when disc is not nil.
func New(baseTopic string, disc *homeassistant.Options) *Store {
	return &Store{base: baseTopic, disc: disc, locks: map[string]*lock{}, bridges: map[string]*bridge{},
		serials: map[int64]string{}, seed: maphash.MakeSeed()}
}

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
	updatedAt  time.Time
	newest     time.Time // the newest event time applied, any kind
	// applied holds, per kind, the time of the newest event applied; seen says whether there was
	// one, because a bridge with an unset clock sends year-1 times that are still valid.
	applied [numKinds]time.Time
	seen    [numKinds]bool
	// published holds a digest of the discovery config last published per entity, so that a
	// config is sent again only when it changes and removed when the entity no longer applies.
	// A digest, not the bytes: the configs are most of a lock's memory otherwise (7 KB vs 0.9 KB
	// per lock, docs/benchmarks.md), and they are only ever compared.
	published map[homeassistant.Entity]uint64
	// discovered is what the published configs were built from; unchanged, nothing is rebuilt.
	discovered homeassistant.Lock
}

// identify records the lock's device id, by which the Tedee Cloud names it.
func (s *Store) identify(l *lock, id int64) {
	if id == 0 || id == l.id {
		return
	}
	if l.id != 0 && s.serials[l.id] == l.serial {
		delete(s.serials, l.id)
	}
	l.id = id
	s.serials[id] = l.serial
}

// SerialOf returns the serial of the lock with that device id, if a bridge has reported it.
func (s *Store) SerialOf(deviceID int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	serial, ok := s.serials[deviceID]
	return serial, ok
}

// accept applies the ordering rule: an event older than the newest applied of its kind is dropped.
// An equal time is accepted, so a redelivered event is harmless and the documentation samples,
// which all share one timestamp, apply in order.
func (l *lock) accept(k kind, ts time.Time) bool {
	if l.seen[k] && ts.Before(l.applied[k]) {
		return false
	}
	l.applied[k], l.seen[k] = ts, true
	return true
}

// fact names a per-fact topic.
type fact string

const (
	factState     fact = "state"
	factJammed    fact = "jammed"
	factDoor      fact = "door"
	factBattery   fact = "battery"
	factCharging  fact = "charging"
	factConnected fact = "connected"
)

// Apply applies an event received from the named bridge at time now and returns what to publish.
// An empty bridgeName means the event came from the Tedee Cloud, which does not say through which
// bridge the lock talks: the lock keeps the bridge it had.
func (s *Store) Apply(bridgeName string, ev tedee.Event, now time.Time) ([]Message, error) {
	if !ev.Known() {
		return nil, ErrUnknownEvent
	}
	ts := ev.Timestamp
	if ts.After(now.Add(maxFutureSkew)) {
		ts = now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Name == tedee.EventBackendConnectionChanged {
		return s.applyBridge(bridgeName, ev, ts, now)
	}
	l, ok := s.locks[ev.Serial]
	if !ok {
		if len(s.locks) >= MaxLocks {
			return nil, ErrTooManyLocks
		}
		l = &lock{serial: ev.Serial, published: map[homeassistant.Entity]uint64{}}
		s.locks[ev.Serial] = l
	}
	changed := l.apply(ev, ts)
	// (A new lock has seen nothing, so its first facts always apply.)
	if len(changed) == 0 && ev.Name != tedee.EventDeviceSettingsChanged && ev.Name != tedee.EventBellButtonPressed {
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

// apply updates the facts the event carries that pass the ordering rule and returns those that
// were applied.
func (l *lock) apply(ev tedee.Event, ts time.Time) []fact {
	var changed []fact
	switch ev.Name {
	case tedee.EventLockStatusChanged:
		if !l.accept(kindStatus, ts) {
			return nil
		}
		word := ev.State.Word()
		l.state = &word
		changed = append(changed, factState)
		if word == "pulling" || word == "pulled" {
			l.canPull = true
		}
		// Jammed and door ride along on every status change but rarely change with it: their
		// retained topics are published only when they do (the event message still has them).
		if ev.Jammed != nil && (l.jammed == nil || *l.jammed != *ev.Jammed) {
			l.jammed = ev.Jammed
			changed = append(changed, factJammed)
		}
		if ev.DoorState != nil {
			if door := ev.DoorState.Word(); door != "" && (l.door == nil || *l.door != door) {
				l.door = &door
				changed = append(changed, factDoor)
			}
		}
		// A lock that reports a state change is talking to its bridge. Until a connection event
		// says otherwise, say so: webhook-only setups may never get one, and Home Assistant keeps
		// a lock's entities unavailable until its connected topic says "true". Not a fact of the
		// connection kind, so any real connection event, even an older one, still applies.
		if l.connected == nil {
			connected := true
			l.connected = &connected
			changed = append(changed, factConnected)
		}
	case tedee.EventBatteryLevelChanged:
		if l.accept(kindBattery, ts) {
			l.battery, l.batteryReported = nil, true
			if tedee.BatteryKnown(*ev.Battery) {
				l.battery = ev.Battery
			}
			changed = append(changed, factBattery)
		}
	case tedee.EventBatteryStartCharging, tedee.EventBatteryStopCharging:
		if l.accept(kindCharging, ts) {
			charging := ev.Name == tedee.EventBatteryStartCharging
			l.charging = &charging
			changed = append(changed, factCharging)
		}
	case tedee.EventBatteryFullyCharged:
		// Fully charged means charging stopped at 100 %.
		if l.accept(kindCharging, ts) {
			charging := false
			l.charging = &charging
			changed = append(changed, factCharging)
		}
		if l.accept(kindBattery, ts) {
			full := 100
			l.battery, l.batteryReported = &full, true
			changed = append(changed, factBattery)
		}
	case tedee.EventDeviceConnectionChanged:
		if l.accept(kindConnection, ts) {
			l.connected = ev.Connected
			changed = append(changed, factConnected)
		}
	case tedee.EventDeviceSettingsChanged:
		// The cloud's carries the name given in the Tedee app, which names the Home Assistant
		// device; the bridge's carries no settings at all (its controller reads them instead).
		// No topic of its own: json and discovery show it.
		if name, ok := deviceName(ev.Data["name"]); ok && l.accept(kindSettings, ts) {
			l.name = name
		}
	}
	return changed
}

func (s *Store) topic(segment, leaf string) string { return s.base + "/" + segment + "/" + leaf }

func (s *Store) factMessage(l *lock, f fact) Message {
	var payload string
	switch f {
	case factState:
		payload = *l.state
	case factJammed:
		payload = strconv.FormatBool(*l.jammed)
	case factDoor:
		payload = *l.door
	case factBattery:
		payload = "unknown"
		if l.battery != nil {
			payload = strconv.Itoa(*l.battery)
		}
	case factCharging:
		payload = strconv.FormatBool(*l.charging)
	case factConnected:
		payload = strconv.FormatBool(*l.connected)
	}
	return Message{Topic: s.topic(l.serial, string(f)), Payload: []byte(payload), Retain: true}
}

// timeLayout is RFC 3339 with fixed milliseconds, the precision Tedee uses.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// LockJSON is the payload of <base>/<serial>/json: everything known about a lock. Facts never
// reported are null.
type LockJSON struct {
	Serial    string  `json:"serial"`
	ID        int64   `json:"id"`
	Name      *string `json:"name"` // as named in the Tedee app; null until the Bridge API or the Tedee Cloud says
	Model     *string `json:"model"`
	State     *string `json:"state"`
	Jammed    *bool   `json:"jammed"`
	Door      *string `json:"door"`
	Battery   *int    `json:"battery"`
	Charging  *bool   `json:"charging"`
	Connected *bool   `json:"connected"`
	Bridge    *string `json:"bridge"` // null when only the Tedee Cloud has reported the lock
	UpdatedAt string  `json:"updated_at"`
	Timestamp string  `json:"timestamp"`
	// Timestamps holds the newest event time applied per kind of fact (status, battery, charging,
	// connection), so the ordering rule can survive a restart.
	Timestamps map[string]string `json:"timestamps"`
}

func (s *Store) lockJSON(l *lock) Message {
	j := LockJSON{
		Serial: l.serial, ID: l.id, State: l.state, Jammed: l.jammed, Door: l.door,
		Battery: l.battery, Charging: l.charging, Connected: l.connected,
		UpdatedAt: l.updatedAt.UTC().Format(timeLayout), Timestamp: l.newest.UTC().Format(timeLayout),
		Timestamps: map[string]string{},
	}
	if l.deviceType != 0 {
		model := tedee.Model(l.deviceType)
		j.Model = &model
	}
	if l.bridge != "" {
		j.Bridge = &l.bridge
	}
	if l.name != "" {
		j.Name = &l.name
	}
	for k := kind(0); k < numKinds; k++ {
		if l.seen[k] {
			j.Timestamps[kindNames[k]] = l.applied[k].UTC().Format(timeLayout)
		}
	}
	return Message{Topic: s.topic(l.serial, "json"), Payload: mustJSON(j), Retain: true}
}

// EventJSON is the payload of <base>/<serial>/event: the event as received, normalised so that
// the three delivery formats give the same message, with the facts it carried as words.
type EventJSON struct {
	Event     string         `json:"event"`
	Timestamp string         `json:"timestamp"`
	Source    string         `json:"source"`           // "bridge" or "cloud"
	Bridge    string         `json:"bridge,omitempty"` // the bridge whose webhook it was
	Serial    string         `json:"serial,omitempty"`
	DeviceID  int64          `json:"device_id,omitempty"`
	Model     string         `json:"model,omitempty"`
	State     string         `json:"state,omitempty"`
	Jammed    *bool          `json:"jammed,omitempty"`
	Door      string         `json:"door,omitempty"`
	Battery   *int           `json:"battery,omitempty"`
	Connected *bool          `json:"connected,omitempty"`
	Data      map[string]any `json:"data"`
}

func (s *Store) eventMessage(bridgeName string, l *lock, ev tedee.Event) Message {
	j := EventJSON{
		Event: ev.Name, Timestamp: ev.Timestamp.UTC().Format(timeLayout), Source: "bridge", Bridge: bridgeName,
		Serial: ev.Serial, DeviceID: ev.DeviceID, Jammed: ev.Jammed, Connected: ev.Connected, Data: ev.Data,
	}
	if bridgeName == "" {
		j.Source = "cloud"
	}
	if ev.DeviceType != 0 {
		j.Model = tedee.Model(ev.DeviceType)
	}
	if ev.State != nil {
		j.State = ev.State.Word()
	}
	if ev.DoorState != nil {
		j.Door = ev.DoorState.Word()
	}
	if ev.Battery != nil && tedee.BatteryKnown(*ev.Battery) {
		j.Battery = ev.Battery
	}
	payload, err := json.Marshal(j)
	if err != nil {
		// Data came out of encoding/json and marshals back; should it ever not, the event is
		// still worth publishing without it.
		j.Data = nil
		payload = mustJSON(j)
	}
	return Message{Topic: s.topic(l.serial, "event"), Payload: payload, Retain: false}
}

// deviceName returns v as a device name if it is one: a string of graphic UTF-8 (no control
// characters), at most maxNameBytes long once trimmed.
func deviceName(v any) (string, bool) {
	name, ok := v.(string)
	if !ok {
		return "", false
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if !unicode.IsGraphic(r) {
			return "", false
		}
	}
	return name, true
}

// maxNameBytes bounds a device name taken from a webhook or a retained snapshot.
const maxNameBytes = 128

// pulls reports whether the lock can pull its spring: its settings say so, or, without settings,
// it has been seen pulling.
func (l *lock) pulls() bool {
	if l.pullSpring != nil {
		return *l.pullSpring
	}
	return l.canPull
}

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

// BridgeJSON is the payload of <base>/<bridge>/json.
type BridgeJSON struct {
	Name      string  `json:"name"`
	Serial    *string `json:"serial"`
	Connected *bool   `json:"connected"`
	UpdatedAt string  `json:"updated_at"`
	Timestamp string  `json:"timestamp"`
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

// bridgeDiscovery returns the bridge's discovery config if it is new or changed, or always when
// force is set.
func (s *Store) bridgeDiscovery(b *bridge, force bool) []Message {
	if s.disc == nil {
		return nil
	}
	info := homeassistant.Bridge{Name: b.name, Serial: b.serial, Firmware: b.firmware, Segment: b.segment()}
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
		Firmware: l.firmware, DoorPaired: l.door != nil && *l.door != "not_paired"}
	if l.deviceType != 0 {
		info.Model = tedee.Model(l.deviceType)
	}
	if !force && info == l.discovered && len(l.published) > 0 {
		return nil
	}
	l.discovered = info
	var msgs []Message
	for _, e := range homeassistant.LockEntities {
		if !homeassistant.LockWants(info, e) {
			if _, ok := l.published[e]; ok {
				uid := s.disc.UniqueID(l.serial, e)
				msgs = append(msgs, Message{Topic: s.disc.ConfigTopic(homeassistant.Component(e), uid), Retain: true})
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

// Republish returns every discovery config and every retained state topic, for when Home
// Assistant comes back online or the broker connection is re-established (a broker restarted
// without persistence has forgotten them).
func (s *Store) Republish() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var msgs []Message
	for _, b := range s.bridges {
		msgs = append(msgs, s.bridgeDiscovery(b, true)...)
		msgs = append(msgs, s.bridgeState(b)...)
	}
	for _, l := range s.locks {
		msgs = append(msgs, s.lockDiscovery(l, true)...)
		for _, f := range l.knownFacts() {
			msgs = append(msgs, s.factMessage(l, f))
		}
		msgs = append(msgs, s.lockJSON(l))
	}
	return msgs
}

// knownFacts lists, in a fixed order, the per-fact topics that have a value.
func (l *lock) knownFacts() []fact {
	var facts []fact
	for _, f := range []struct {
		fact  fact
		known bool
	}{{factState, l.state != nil}, {factJammed, l.jammed != nil}, {factDoor, l.door != nil},
		{factBattery, l.batteryReported}, {factCharging, l.charging != nil}, {factConnected, l.connected != nil}} {
		if f.known {
			facts = append(facts, f.fact)
		}
	}
	return facts
}

// RemoveLock forgets a lock (the bridge no longer reports it) and returns the messages that
// remove its discovery configs and clear its retained topics.
func (s *Store) RemoveLock(serial string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[serial]
	if !ok {
		return nil
	}
	delete(s.locks, serial)
	if s.serials[l.id] == serial {
		delete(s.serials, l.id)
	}
	var msgs []Message
	if s.disc != nil {
		for _, e := range homeassistant.LockEntities {
			if _, ok := l.published[e]; ok {
				uid := s.disc.UniqueID(serial, e)
				msgs = append(msgs, Message{Topic: s.disc.ConfigTopic(homeassistant.Component(e), uid), Retain: true})
			}
		}
	}
	for _, f := range append(l.knownFacts(), "json") {
		msgs = append(msgs, Message{Topic: s.topic(serial, string(f)), Retain: true})
	}
	return msgs
}

// mustJSON marshals the payload types of this package, which hold only strings, numbers, booleans
// and string maps and so cannot fail to marshal.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// LockSnapshot is a lock as the Bridge API reports it (GET /lock).
type LockSnapshot struct {
	ID         int64
	Serial     string
	Name       string
	DeviceType int
	Firmware   string
	Connected  bool
	State      tedee.LockState
	Jammed     bool
	DoorState  *tedee.DoorState // nil: firmware without door sensor support
	Battery    int              // 0–100, or 255 for "not known"
	Charging   bool
	PullSpring bool // pull spring enabled in the lock's settings
}

// ApplySnapshot applies a lock as polled from the Bridge API. ts is the bridge's time when the
// poll started: each kind of fact applies only if no newer event of that kind has been applied,
// so a poll never rolls back a webhook that arrived meanwhile. Only facts that changed are
// published, with the json snapshot and any discovery change; no event message, since nothing
// happened.
func (s *Store) ApplySnapshot(bridgeName string, snap LockSnapshot, ts, now time.Time) ([]Message, error) {
	if !tedee.ValidSerial(snap.Serial) {
		return nil, fmt.Errorf("lock %d: serial %q cannot be a topic segment", snap.ID, snap.Serial)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[snap.Serial]
	if !ok {
		if len(s.locks) >= MaxLocks {
			return nil, ErrTooManyLocks
		}
		l = &lock{serial: snap.Serial, published: map[homeassistant.Entity]uint64{}}
		s.locks[snap.Serial] = l
	}
	s.identify(l, snap.ID)
	l.deviceType, l.bridge, l.firmware = snap.DeviceType, bridgeName, snap.Firmware
	if name, ok := deviceName(snap.Name); ok {
		l.name = name
	}
	pull := snap.PullSpring
	l.pullSpring = &pull
	var changed []fact
	setString := func(f fact, dst **string, v string) {
		if *dst == nil || **dst != v {
			*dst = &v
			changed = append(changed, f)
		}
	}
	setBool := func(f fact, dst **bool, v bool) {
		if *dst == nil || **dst != v {
			*dst = &v
			changed = append(changed, f)
		}
	}
	if l.accept(kindStatus, ts) {
		setString(factState, &l.state, snap.State.Word())
		setBool(factJammed, &l.jammed, snap.Jammed)
		if snap.DoorState != nil {
			if door := snap.DoorState.Word(); door != "" {
				setString(factDoor, &l.door, door)
			}
		}
	}
	if l.accept(kindBattery, ts) {
		var level *int
		if tedee.BatteryKnown(snap.Battery) {
			level = &snap.Battery
		}
		if !l.batteryReported || !equalInt(l.battery, level) {
			l.battery, l.batteryReported = level, true
			changed = append(changed, factBattery)
		}
	}
	if l.accept(kindCharging, ts) {
		setBool(factCharging, &l.charging, snap.Charging)
	}
	if l.accept(kindConnection, ts) {
		setBool(factConnected, &l.connected, snap.Connected)
	}
	if ts.After(l.newest) {
		l.newest = ts
	}
	msgs := s.bridgeDiscovery(s.bridgeNamed(bridgeName), false)
	msgs = append(msgs, s.lockDiscovery(l, false)...)
	for _, f := range changed {
		msgs = append(msgs, s.factMessage(l, f))
	}
	if len(changed) > 0 || !ok {
		l.updatedAt = now
		msgs = append(msgs, s.lockJSON(l))
	}
	return msgs, nil
}

func equalInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// BridgeInfo is a bridge as the Bridge API reports it (GET /bridge).
type BridgeInfo struct {
	Serial    string
	Firmware  string
	Connected bool
}

// SetBridge applies the bridge's details. Once its serial is known the bridge's topics move from
// <base>/<name>/… to <base>/<serial>/…, and the old ones are cleared so nothing stale is left.
func (s *Store) SetBridge(name string, info BridgeInfo, ts, now time.Time) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// LockState returns the lock's current state word, if known.
func (s *Store) LockState(serial string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[serial]; ok && l.state != nil {
		return *l.state, true
	}
	return "", false
}

// LocksOf returns the serials of the locks last heard through the named bridge.
func (s *Store) LocksOf(bridgeName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for serial, l := range s.locks {
		if l.bridge == bridgeName {
			out = append(out, serial)
		}
	}
	return out
}

// Restore fills in what this process has not learned yet from a lock's json snapshot that an
// earlier run published (read back from the broker's retained messages at startup), so that the
// state and the ordering rule survive a restart. What was already applied here wins: a kind of
// fact seen in this process is not touched, and a fact is only filled where it is unknown.
// Bridge snapshots (which have a "name") are skipped: a bridge is re-learned from its next event
// or sync, and restoring one no longer configured would bring it back. Nothing is published: the
// snapshot is still retained on the broker.
func (s *Store) Restore(topic string, payload []byte) error {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[j.Serial]
	if !ok {
		if len(s.locks) >= MaxLocks {
			return ErrTooManyLocks
		}
		l = &lock{serial: j.Serial, published: map[homeassistant.Entity]uint64{}}
		s.locks[j.Serial] = l
	}
	for k := kind(0); k < numKinds; k++ {
		if l.seen[k] {
			continue
		}
		if ts, err := time.Parse(time.RFC3339Nano, j.Timestamps[kindNames[k]]); err == nil {
			l.applied[k], l.seen[k] = ts, true
		}
	}
	if l.state == nil && j.State != nil && slices.Contains(tedee.StateWords, *j.State) {
		l.state = j.State
	}
	if l.door == nil && j.Door != nil && slices.Contains(doorWords, *j.Door) {
		l.door = j.Door
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
		l.deviceType = deviceType(*j.Model)
	}
	if l.bridge == "" && j.Bridge != nil {
		l.bridge = *j.Bridge
	}
	if l.name == "" && j.Name != nil {
		if name, ok := deviceName(*j.Name); ok {
			l.name = name
		}
	}
	if ts, err := time.Parse(time.RFC3339Nano, j.Timestamp); err == nil && ts.After(l.newest) {
		l.newest = ts
	}
	if ts, err := time.Parse(time.RFC3339Nano, j.UpdatedAt); err == nil && l.updatedAt.IsZero() {
		l.updatedAt = ts
	}
	return nil
}

// doorWords are the values of the door topic.
var doorWords = []string{"open", "closed", "not_paired", "disconnected", "uncalibrated"}

func fill(dst **bool, v *bool) {
	if *dst == nil && v != nil {
		b := *v
		*dst = &b
	}
}

// deviceType reverses tedee.Model.
func deviceType(model string) int {
	switch model {
	case "lock_pro":
		return 2
	case "lock_go":
		return 4
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(model, "type_")); err == nil && n > 0 {
		return n
	}
	return 0
}
