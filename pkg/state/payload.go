package state

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// This file is the MQTT payload contract (contract §4): what the per-fact, json and event topics
// carry.

// timeLayout is RFC 3339 with fixed milliseconds, the precision Tedee uses.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// LockJSON is the payload of <base>/<serial>/json: everything known about a lock. Facts never
// reported are null.
type LockJSON struct {
	Serial    string  `json:"serial"`
	ID        int64   `json:"id"`
	Name      *string `json:"name"` // as named in the Tedee app; null until the Bridge API or the Tedee Cloud says
	Model     *string `json:"model"`
	Firmware  *string `json:"firmware"` // null until the Bridge API reports it
	State     *string `json:"state"`
	Jammed    *bool   `json:"jammed"`
	Door      *string `json:"door"`
	Battery   *int    `json:"battery"`
	Charging  *bool   `json:"charging"`
	Connected *bool   `json:"connected"`
	Bridge    *string `json:"bridge"` // null when only the Tedee Cloud has reported the lock
	// Who last moved the lock and how, and when, from the Cloud API's activity log; left out
	// until it says (setups without the Cloud API never see them).
	LastUser   *string `json:"last_user,omitempty"`
	LastSource *string `json:"last_source,omitempty"`
	LastMoved  *string `json:"last_moved,omitempty"`
	// Accessories paired with the lock, from the Cloud API: "door_sensor", "keypad".
	Accessories []string `json:"accessories,omitempty"`
	UpdatedAt   string   `json:"updated_at"`
	Timestamp   string   `json:"timestamp"`
	// Timestamps holds the newest event time applied per kind of fact (status, battery, charging,
	// connection), so the ordering rule can survive a restart.
	Timestamps map[string]string `json:"timestamps"`
}

// EventJSON is the payload of <base>/<serial>/event: the event as received, normalised so that
// the three delivery formats give the same message, with the facts it carried as words.
type EventJSON struct {
	Event     string          `json:"event"`
	Timestamp string          `json:"timestamp"`
	Source    string          `json:"source"`           // "bridge" or "cloud"
	Bridge    string          `json:"bridge,omitempty"` // the bridge whose webhook it was
	Serial    string          `json:"serial,omitempty"`
	DeviceID  int64           `json:"device_id,omitempty"`
	Model     string          `json:"model,omitempty"`
	State     string          `json:"state,omitempty"`
	Jammed    *bool           `json:"jammed,omitempty"`
	Door      string          `json:"door,omitempty"`
	Battery   *int            `json:"battery,omitempty"`
	Connected *bool           `json:"connected,omitempty"`
	Data      json.RawMessage `json:"data"` // the webhook's data object, bounded (boundedData)
}

// BridgeJSON is the payload of <base>/<bridge>/json.
type BridgeJSON struct {
	Name      string  `json:"name"`       // in tedee2mqtt's configuration
	TedeeName *string `json:"tedee_name"` // as the Tedee app names it; null until the Bridge API says
	Serial    *string `json:"serial"`
	Firmware  *string `json:"firmware"`
	Connected *bool   `json:"connected"` // its link to the Tedee cloud; null until reported
	UpdatedAt string  `json:"updated_at"`
	Timestamp string  `json:"timestamp"`
}

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
	case factRSSI:
		payload = strconv.Itoa(*l.rssi)
	case factFirmware:
		payload = l.firmware
	case factSettings:
		payload = string(mustJSON(l.settings))
	default:
		payload = l.cloudPayload(f)
	}
	return Message{Topic: s.topic(l.serial, string(f)), Payload: []byte(payload), Retain: true}
}

func (s *Store) lockJSON(l *lock) Message {
	payload := mustJSON(l.view())
	l.json = payload // published payloads are never modified: state.json's save shares it
	return Message{Topic: s.topic(l.serial, "json"), Payload: payload, Retain: true}
}

// view is the lock as its json topic shows it. It shares nothing with the lock, so it may be
// read after the owner's lock is released.
func (l *lock) view() LockJSON {
	j := LockJSON{
		Serial: l.serial, ID: l.id, State: copyOf(l.state), Jammed: copyOf(l.jammed), Door: copyOf(l.door),
		Battery: copyOf(l.battery), Charging: copyOf(l.charging), Connected: copyOf(l.connected),
		UpdatedAt: l.updatedAt.UTC().Format(timeLayout), Timestamp: l.newest.UTC().Format(timeLayout),
		Timestamps: map[string]string{},
	}
	if l.deviceType != 0 {
		j.Model = new(tedee.Model(l.deviceType))
	}
	if l.bridge != "" {
		j.Bridge = new(l.bridge)
	}
	if l.firmware != "" {
		j.Firmware = new(l.firmware)
	}
	if l.name != "" {
		j.Name = new(l.name)
	}
	if c := l.cloud; c != nil && !c.lastMoved.IsZero() {
		j.LastUser, j.LastSource = copyOf(c.lastUser), copyOf(c.lastSource)
		j.LastMoved = new(c.lastMoved.UTC().Format(timeLayout))
	}
	j.Accessories = l.accessories()
	for k := kind(0); k < numKinds; k++ {
		if l.seen[k] {
			j.Timestamps[kindNames[k]] = l.applied[k].UTC().Format(timeLayout)
		}
	}
	return j
}

// Locks returns every lock as its json topic shows it, ordered by serial: the read model of
// whoever follows the state without reading MQTT back (the status page, the operator API).
func (s *Store) Locks() []LockJSON {
	out := make([]LockJSON, 0, len(s.locks))
	for _, l := range s.locks {
		out = append(out, l.view())
	}
	slices.SortFunc(out, func(a, b LockJSON) int { return strings.Compare(a.Serial, b.Serial) })
	return out
}

func (s *Store) eventMessage(bridgeName string, l *lock, ev tedee.Event) Message {
	j := EventJSON{
		Event: ev.Name, Timestamp: ev.Timestamp.UTC().Format(timeLayout), Source: "bridge", Bridge: bridgeName,
		Serial: ev.Serial, DeviceID: ev.DeviceID, Jammed: ev.Jammed, Connected: ev.Connected, Data: boundedData(ev.Data),
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

// mustJSON marshals the payload types of this package, which hold only strings, numbers, booleans
// and string maps and so cannot fail to marshal.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
