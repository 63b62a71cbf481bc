// Package homeassistant builds Home Assistant MQTT discovery configs for Tedee locks and bridges.
// It uses single-component discovery (one retained config per entity), which every Home Assistant
// since 2024.10 (the lock's open/opening states) understands and which lets one entity be removed
// on its own with an empty retained config. It does no I/O.
package homeassistant

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Options describe where discovery goes and what the entities point at.
type Options struct {
	Prefix  string // discovery prefix, e.g. "homeassistant"
	Base    string // tedee2mqtt's base topic, e.g. "tedee"
	QoS     int
	Version string // tedee2mqtt's version, for origin
	// OpenAllowed, when set, says whether a lock accepts open (locks.<serial>.commands): Home
	// Assistant is offered only what the lock accepts. Nil: every lock does.
	OpenAllowed func(serial string) bool
	// CodeFormat, when set (homeassistant.lock_code), makes Home Assistant ask for a code, which
	// the lock entity's command carries as JSON {"command":…,"code":…}.
	CodeFormat string
}

// SupportURL is where origin.support_url points.
const SupportURL = "https://github.com/tedee2mqtt/tedee2mqtt"

// Lock is what discovery needs to know about a lock.
type Lock struct {
	Serial     string
	Model      string // lock_pro, lock_go, type_<n>, or "" while unknown
	Name       string // from the Bridge API; "" when unknown
	Firmware   string // "" when unknown
	Bridge     string // name of the bridge it was last heard through
	CanPull    bool   // pull spring enabled, or seen pulling
	DoorPaired bool   // a door sensor has reported a paired state
	HasRSSI    bool   // a Bridge API reading has reported its signal strength
	// The Cloud API's (contract §8): see cloud.go.
	Cloud             bool     // its activity is followed: Activity, Last user, Last trigger
	Update            bool     // the cloud reports its firmware: an update entity
	Settings          []string // the settings keys the lock reported: an entity for each of these only
	DoorSensorBattery bool     // a door sensor is paired: its battery
	KeypadBattery     bool     // a keypad is paired: its battery
}

// Bridge is what discovery needs to know about a bridge.
type Bridge struct {
	Name     string // its name in tedee2mqtt's configuration, which identifies it
	Label    string // its own name, as the Tedee app shows it; "" until the Bridge API reports it
	Serial   string // "" until the Bridge API reports it
	Firmware string
	Segment  string // its topic segment: the serial when known, else the name
	API      bool   // read through the Bridge API: it has the API's diagnostic entities
	Update   bool   // the Cloud API reports its firmware: an update entity
}

// Config is one entity's discovery config.
type Config struct {
	Topic   string
	Payload []byte
}

// lockStateTemplate maps the json snapshot to Home Assistant lock states: jammed wins, pulled and
// unpulling are open, pulling is opening, semi_locked is unlocked (it is not locked), and every
// state that says nothing certain (uncalibrated, calibrating, unknown, updating) is "None", which
// Home Assistant shows as unknown.
const lockStateTemplate = "{% set s = value_json.state %}" +
	"{% if value_json.jammed %}JAMMED" +
	"{% elif s == 'locked' %}LOCKED" +
	"{% elif s in ['unlocked', 'semi_locked'] %}UNLOCKED" +
	"{% elif s == 'unlocking' %}UNLOCKING" +
	"{% elif s == 'locking' %}LOCKING" +
	"{% elif s in ['pulled', 'unpulling'] %}OPEN" +
	"{% elif s == 'pulling' %}OPENING" +
	"{% else %}None{% endif %}"

// Entity names a kind of entity; it is the last part of unique_id and object_id.
type Entity string

// The entities of a lock and of a bridge.
const (
	EntityLock         Entity = "lock"
	EntityBattery      Entity = "battery"
	EntityCharging     Entity = "charging"
	EntityConnectivity Entity = "connectivity"
	EntityJammed       Entity = "jammed"
	EntityDoor         Entity = "door"
	EntityLockState    Entity = "lock_state"
	EntityCloud        Entity = "cloud"
	// Diagnostics (contract §7); the noisy ones are disabled until a user enables them.
	EntityRSSI     Entity = "rssi"
	EntityFirmware Entity = "firmware"
	EntityAPI      Entity = "api"
	EntityLastSync Entity = "last_sync"
	EntityCallback Entity = "callback"
	EntityClock    Entity = "clock_skew_ms"
)

// LockEntities lists every entity a lock can have, in publishing order: what it is, then who moved
// it and its accessories, then its settings, then its firmware and diagnostics.
var LockEntities = []Entity{EntityLock, EntityBattery, EntityCharging, EntityConnectivity,
	EntityJammed, EntityDoor, EntityLockState, EntityActivity, EntityLastUser, EntityLastSource,
	EntityDoorSensorBattery, EntityKeypadBattery, EntityAutoLock, EntityAutoLockDelay, EntityButtonLock,
	EntityButtonUnlock, EntityPullSpring, EntityPullSpringDuration, EntityAutoPull, EntityPostponedLock,
	EntityPostponedLockDelay, EntityUpdate, EntityRSSI, EntityFirmware}

type device struct {
	Identifiers  []string `json:"identifiers"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	Name         string   `json:"name"`
	SerialNumber string   `json:"serial_number,omitempty"`
	SwVersion    string   `json:"sw_version,omitempty"`
	ViaDevice    string   `json:"via_device,omitempty"`
}

type origin struct {
	Name       string `json:"name"`
	SwVersion  string `json:"sw_version"`
	SupportURL string `json:"support_url"`
}

type availability struct {
	Topic               string `json:"topic"`
	PayloadAvailable    string `json:"payload_available,omitempty"`
	PayloadNotAvailable string `json:"payload_not_available,omitempty"`
}

// entity is the union of the keys used here; omitempty leaves out what a component does not take.
type entity struct {
	Name             *string        `json:"name"` // null: the entity is named after its device
	UniqueID         string         `json:"unique_id"`
	DefaultEntityID  string         `json:"default_entity_id"`
	Device           device         `json:"device"`
	Origin           origin         `json:"origin"`
	Availability     []availability `json:"availability"`
	AvailabilityMode string         `json:"availability_mode,omitempty"`
	StateTopic       string         `json:"state_topic"`
	ValueTemplate    string         `json:"value_template,omitempty"`
	CommandTopic     string         `json:"command_topic,omitempty"`
	PayloadLock      string         `json:"payload_lock,omitempty"`
	PayloadUnlock    string         `json:"payload_unlock,omitempty"`
	PayloadOpen      string         `json:"payload_open,omitempty"`
	CommandTemplate  string         `json:"command_template,omitempty"`
	CodeFormat       string         `json:"code_format,omitempty"`
	PayloadOn        string         `json:"payload_on,omitempty"`
	PayloadOff       string         `json:"payload_off,omitempty"`
	DeviceClass      string         `json:"device_class,omitempty"`
	StateClass       string         `json:"state_class,omitempty"`
	Unit             string         `json:"unit_of_measurement,omitempty"`
	Options          []string       `json:"options,omitempty"`
	EventTypes       []string       `json:"event_types,omitempty"`
	StateOn          string         `json:"state_on,omitempty"`
	StateOff         string         `json:"state_off,omitempty"`
	Min              *float64       `json:"min,omitempty"`
	Max              *float64       `json:"max,omitempty"`
	Step             *float64       `json:"step,omitempty"`
	Mode             string         `json:"mode,omitempty"`
	EntityCategory   string         `json:"entity_category,omitempty"`
	QoS              int            `json:"qos"`
	Retain           *bool          `json:"retain,omitempty"`
	EnabledByDefault *bool          `json:"enabled_by_default,omitempty"`
}

// idPrefix turns the base topic into the first part of every unique_id and identifier, so two
// instances with different base topics never collide: "tedee" → "tedee", "home/tedee" →
// "home_tedee".
func (o Options) idPrefix() string { return strings.ReplaceAll(o.Base, "/", "_") }

var notEntityID = regexp.MustCompile(`[^a-z0-9_]+`)

// entityID makes the object part of an entity id: lower case, [a-z0-9_] only.
func entityID(s string) string { return notEntityID.ReplaceAllString(strings.ToLower(s), "_") }

// UniqueID returns the unique_id of a lock's or bridge's entity.
func (o Options) UniqueID(id string, e Entity) string {
	return o.idPrefix() + "_" + id + "_" + string(e)
}

// ConfigTopic returns the discovery topic of an entity; the object id is its unique_id, as Home
// Assistant recommends.
func (o Options) ConfigTopic(component, uniqueID string) string {
	return o.Prefix + "/" + component + "/" + uniqueID + "/config"
}

func (o Options) origin() origin {
	return origin{Name: "tedee2mqtt", SwVersion: o.Version, SupportURL: SupportURL}
}

// BridgeIdentifier is the device identifier of a bridge, which locks name as via_device.
func (o Options) BridgeIdentifier(name string) string { return o.idPrefix() + "_bridge_" + name }

func (o Options) lockDevice(l Lock) device {
	model := "Lock"
	switch {
	case l.Model == "lock_pro":
		model = "Lock PRO"
	case l.Model == "lock_go":
		model = "Lock GO"
	case strings.HasPrefix(l.Model, "type_"):
		model = "Device type " + strings.TrimPrefix(l.Model, "type_")
	}
	name := l.Name
	if name == "" {
		name = "Tedee " + model + " " + l.Serial
	}
	d := device{Identifiers: []string{o.idPrefix() + "_" + l.Serial}, Manufacturer: "Tedee", Model: model,
		Name: name, SerialNumber: l.Serial, SwVersion: l.Firmware}
	if l.Bridge != "" {
		d.ViaDevice = o.BridgeIdentifier(l.Bridge)
	}
	return d
}

// Component returns the Home Assistant component of an entity.
func Component(e Entity) string {
	if s, ok := settings[e]; ok {
		return s.component()
	}
	switch e {
	case EntityLock:
		return "lock"
	case EntityActivity:
		return "event"
	case EntityUpdate:
		return "update"
	case EntityBattery, EntityLockState, EntityRSSI, EntityFirmware, EntityLastSync, EntityCallback, EntityClock,
		EntityLastUser, EntityLastSource, EntityDoorSensorBattery, EntityKeypadBattery:
		return "sensor"
	default:
		return "binary_sensor"
	}
}

// LockWants reports whether a lock should have an entity: charging only on a Lock PRO (a GO
// cannot charge), the door only once a door sensor has reported a paired state, the Cloud API's
// entities only for what the cloud reports, a setting only once the lock has reported it.
func LockWants(l Lock, e Entity) bool {
	if _, ok := settings[e]; ok {
		return slices.Contains(l.Settings, string(e))
	}
	switch e {
	case EntityActivity, EntityLastUser, EntityLastSource:
		return l.Cloud
	case EntityUpdate:
		return l.Update
	case EntityDoorSensorBattery:
		return l.DoorSensorBattery
	case EntityKeypadBattery:
		return l.KeypadBattery
	case EntityCharging:
		return l.Model == "lock_pro"
	case EntityDoor:
		return l.DoorPaired
	case EntityRSSI:
		return l.HasRSSI
	case EntityFirmware:
		return l.Firmware != ""
	}
	return true
}

// LockConfig returns the discovery config of one entity of a lock.
func (o Options) LockConfig(l Lock, e Entity) Config {
	topic := func(leaf string) string { return o.lockTopic(l, leaf) }
	uid := o.UniqueID(l.Serial, e)
	component := Component(e)
	c := entity{
		UniqueID:        uid,
		DefaultEntityID: component + "." + entityID(o.idPrefix()+"_"+l.Serial+"_"+string(e)),
		Device:          o.lockDevice(l),
		Origin:          o.origin(),
		// A lock's entities are unavailable when the service is offline or the lock has lost its
		// bridge: their last values would be stale.
		Availability: []availability{{Topic: o.Base + "/status"},
			{Topic: topic("connected"), PayloadAvailable: "true", PayloadNotAvailable: "false"}},
		AvailabilityMode: "all",
		QoS:              o.QoS,
	}
	name := func(s string) *string { return &s }
	switch e {
	case EntityLock:
		c.DefaultEntityID = "lock." + entityID(o.idPrefix()+"_"+l.Serial)
		c.StateTopic, c.ValueTemplate = topic("json"), lockStateTemplate
		c.CommandTopic = topic("set")
		c.PayloadLock, c.PayloadUnlock = "lock", "unlock"
		if l.CanPull && (o.OpenAllowed == nil || o.OpenAllowed(l.Serial)) {
			c.PayloadOpen = "open"
		}
		if o.CodeFormat != "" {
			// Home Assistant renders value (the payload) and code; tedee2mqtt reads the JSON.
			c.CodeFormat = o.CodeFormat
			c.CommandTemplate = `{"command":"{{ value }}","code":"{{ code }}"}`
		}
		retain := false // a lock must never move because a broker replayed a command
		c.Retain = &retain
	case EntityBattery:
		c.Name = name("Battery")
		c.StateTopic = topic("battery")
		c.ValueTemplate = "{{ 'None' if value == 'unknown' else value }}"
		c.DeviceClass, c.StateClass, c.Unit, c.EntityCategory = "battery", "measurement", "%", "diagnostic"
	case EntityCharging:
		c.Name = name("Charging")
		c.StateTopic, c.PayloadOn, c.PayloadOff = topic("charging"), "true", "false"
		c.DeviceClass, c.EntityCategory = "battery_charging", "diagnostic"
	case EntityConnectivity:
		c.Name = name("Connectivity")
		c.StateTopic, c.PayloadOn, c.PayloadOff = topic("connected"), "true", "false"
		c.DeviceClass, c.EntityCategory = "connectivity", "diagnostic"
		// Only the service's status: a disconnected lock must show "disconnected", not go
		// unavailable.
		c.Availability, c.AvailabilityMode = []availability{{Topic: o.Base + "/status"}}, ""
	case EntityJammed:
		c.Name = name("Jammed")
		c.StateTopic, c.PayloadOn, c.PayloadOff = topic("jammed"), "true", "false"
		c.DeviceClass, c.EntityCategory = "problem", "diagnostic"
	case EntityDoor:
		c.Name = name("Door")
		c.StateTopic = topic("door")
		// A disconnected or uncalibrated sensor knows nothing about the door: unknown.
		c.ValueTemplate = "{% if value == 'open' %}ON{% elif value == 'closed' %}OFF{% else %}None{% endif %}"
		c.DeviceClass = "door"
	case EntityLockState:
		c.Name = name("Lock state")
		c.StateTopic = topic("state")
		c.DeviceClass, c.Options, c.EntityCategory = "enum", tedee.StateWords, "diagnostic"
	case EntityRSSI:
		c.Name = name("Signal strength")
		c.StateTopic = topic("rssi")
		c.DeviceClass, c.StateClass, c.Unit, c.EntityCategory = "signal_strength", "measurement", "dBm", "diagnostic"
		c.EnabledByDefault = new(false) // changes at every reading
	case EntityFirmware:
		c.Name = name("Firmware")
		c.StateTopic, c.EntityCategory = topic("firmware"), "diagnostic"
		c.EnabledByDefault = new(false) // the device page shows it already
	default:
		o.cloudEntity(l, e, &c)
	}
	return Config{Topic: o.ConfigTopic(component, uid), Payload: marshal(c)}
}

// lockTopic is one of a lock's state topics.
func (o Options) lockTopic(l Lock, leaf string) string { return o.Base + "/" + l.Serial + "/" + leaf }

// BridgeConfigs returns the discovery configs of a bridge: its device with the cloud link as a
// connectivity sensor, its firmware update when the Cloud API reports it, and its API diagnostics.
func (o Options) BridgeConfigs(b Bridge) []Config {
	uid := o.UniqueID("bridge_"+b.Name, EntityCloud)
	name := "Cloud connection"
	c := entity{
		Name:            &name,
		UniqueID:        uid,
		DefaultEntityID: "binary_sensor." + entityID(uid),
		Device: device{Identifiers: []string{o.BridgeIdentifier(b.Name)}, Manufacturer: "Tedee", Model: "Bridge",
			Name: cmp.Or(b.Label, "Tedee Bridge "+b.Name), SerialNumber: b.Serial, SwVersion: b.Firmware},
		Origin:       o.origin(),
		Availability: []availability{{Topic: o.Base + "/status"}},
		StateTopic:   o.Base + "/" + b.Segment + "/connected",
		PayloadOn:    "true", PayloadOff: "false",
		DeviceClass: "connectivity", EntityCategory: "diagnostic",
		QoS: o.QoS,
	}
	configs := []Config{{Topic: o.ConfigTopic("binary_sensor", uid), Payload: marshal(c)}}
	if b.Update {
		configs = append(configs, o.bridgeUpdate(b, c.Device))
	}
	if !b.API {
		return configs
	}
	for _, e := range BridgeDiagnostics {
		configs = append(configs, o.bridgeDiagnostic(b, c.Device, e))
	}
	return configs
}

// BridgeDiagnostics are the entities a bridge read through its API has besides its cloud link.
var BridgeDiagnostics = []Entity{EntityAPI, EntityLastSync, EntityCallback, EntityClock, EntityFirmware}

// bridgeDiagnostic is the config of one of a bridge's API diagnostics (contract §7), whose
// retained topics the operator API publishes.
func (o Options) bridgeDiagnostic(b Bridge, dev device, e Entity) Config {
	uid := o.UniqueID("bridge_"+b.Name, e)
	component := Component(e)
	if e == EntityAPI {
		component = "binary_sensor"
	}
	name := func(s string) *string { return &s }
	c := entity{UniqueID: uid, DefaultEntityID: component + "." + entityID(uid), Device: dev, Origin: o.origin(),
		Availability: []availability{{Topic: o.Base + "/status"}}, StateTopic: o.Base + "/" + b.Segment + "/" + string(e),
		EntityCategory: "diagnostic", QoS: o.QoS}
	switch e {
	case EntityAPI:
		c.Name, c.DeviceClass, c.PayloadOn, c.PayloadOff = name("Bridge API"), "connectivity", "true", "false"
	case EntityLastSync:
		c.Name, c.DeviceClass = name("Last sync"), "timestamp"
	case EntityCallback:
		c.Name, c.DeviceClass, c.Options = name("Webhook"), "enum", CallbackStates
	case EntityClock:
		c.Name, c.DeviceClass, c.StateClass, c.Unit = name("Clock skew"), "duration", "measurement", "ms"
		c.EnabledByDefault = new(false) // changes at every sync
	case EntityFirmware:
		c.Name = name("Firmware")
		c.EnabledByDefault = new(false)
	}
	return Config{Topic: o.ConfigTopic(component, uid), Payload: marshal(c)}
}

// CallbackStates are the words of a bridge's callback topic.
var CallbackStates = []string{"registered", "failed", "unchecked", "not_configured"}

// marshal encodes a config made of plain types, which cannot fail.
func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
