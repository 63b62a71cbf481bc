package homeassistant

import (
	"slices"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// This file holds the entities of the Tedee Cloud API features (contract §8): who moved the lock
// and how, its firmware update, its settings, and its accessories' batteries.

// The Cloud API's entities of a lock; EntityUpdate is a bridge's too.
const (
	EntityActivity          Entity = "activity"    // event: each activity-log entry
	EntityLastUser          Entity = "last_user"   // sensor "Last user"
	EntityLastSource        Entity = "last_source" // sensor "Last trigger"
	EntityUpdate            Entity = "update"
	EntityDoorSensorBattery Entity = "door_sensor_battery"
	EntityKeypadBattery     Entity = "keypad_battery"
	// Settings, each named after its key in <base>/<serial>/settings.
	EntityAutoLock           Entity = "auto_lock"
	EntityAutoLockDelay      Entity = "auto_lock_delay"
	EntityButtonLock         Entity = "button_lock"
	EntityButtonUnlock       Entity = "button_unlock"
	EntityPullSpring         Entity = "pull_spring"
	EntityPullSpringDuration Entity = "pull_spring_duration"
	EntityAutoPull           Entity = "auto_pull"
	EntityPostponedLock      Entity = "postponed_lock"
	EntityPostponedLockDelay Entity = "postponed_lock_delay"
)

// setting describes one settings entity: a switch, or a number of seconds from min to max.
type setting struct {
	name     string
	number   bool
	min, max float64
	disabled bool // not enabled until a user enables it
}

func (s setting) component() string {
	if s.number {
		return "number"
	}
	return "switch"
}

// settings are the lock settings Home Assistant can change. Tedee documents no range for these
// delays (tedee-cloud-api.md §2.5: "UNKNOWN"), so the ranges are a guess that covers every value
// seen in its docs and in other clients and keeps a slip of the finger from sending an absurd
// one; Tedee validates what it receives, and a refusal is answered on settings/set/result.
var settings = map[Entity]setting{
	EntityAutoLock: {name: "Auto lock"},
	// Seen: 10 and 60. Up to an hour, the one range Tedee documents for a lock delay
	// (openDoorAlertThreshold, "from 1 minute up to 1 hour").
	EntityAutoLockDelay: {name: "Auto lock delay", number: true, min: 1, max: 3600},
	EntityButtonLock:    {name: "Button lock"},
	EntityButtonUnlock:  {name: "Button unlock"},
	// Turning the pull spring off resets its calibration ("Setting it to false will reset pull
	// spring calibration"): a switch a stray tap could flip is not offered until a user enables it.
	EntityPullSpring: {name: "Pull spring", disabled: true},
	// Seen: 2, 5, 7 and 10 seconds. The motor holds the latch meanwhile: half a minute at most.
	EntityPullSpringDuration: {name: "Pull spring duration", number: true, min: 1, max: 30},
	EntityAutoPull:           {name: "Auto pull"},
	EntityPostponedLock:      {name: "Postponed lock"},
	// Seen: 5 and 10; Homey's Tedee app offers 1–60.
	EntityPostponedLockDelay: {name: "Postponed lock delay", number: true, min: 1, max: 60},
}

// SettingEntities are the settings entities, in the settings payload's order.
var SettingEntities = []Entity{EntityAutoLock, EntityAutoLockDelay, EntityButtonLock, EntityButtonUnlock,
	EntityPullSpring, EntityPullSpringDuration, EntityAutoPull, EntityPostponedLock, EntityPostponedLockDelay}

// unknownAsNone turns the contract's "unknown" into "None", which Home Assistant's MQTT sensor
// shows as unknown.
const unknownAsNone = "{{ 'None' if value == 'unknown' else value }}"

// activityTemplate turns <base>/<serial>/activity ({"event","source","user","at","code"}) into what
// Home Assistant's MQTT event wants: a JSON object whose event_type is one of event_types, the
// other keys becoming the event's attributes. user is null (or absent) when Tedee does not say;
// source "" (none) becomes null too. A retained message is ignored by Home Assistant, and the
// topic is not retained: an event happens once.
const activityTemplate = "{{ {'event_type': value_json.event, 'source': value_json.get('source') or none, " +
	"'user': value_json.get('user'), 'at': value_json.get('at'), 'code': value_json.get('code')} | to_json }}"

// updateTemplate turns <base>/<…>/update ({"installed","latest","update_available"}) into the JSON
// Home Assistant's MQTT update reads (installed_version, latest_version). Tedee reports whether an
// update is available, not its version, so latest is null. Home Assistant's update entity is "on"
// when latest_version differs from installed_version and is newer, or cannot be compared with it
// (update/__init__.py: AwesomeVersionCompareException gives STATE_ON), and unknown when either is
// null. So, without inventing a version number:
//   - no update: latest_version is the installed version (off);
//   - an update of unknown version: "newer than <installed>", a label no version scheme parses,
//     so Home Assistant shows it as the latest version and the entity is on. It names the installed
//     version so that a skipped update is offered again once a later one is installed (Home
//     Assistant forgets a skip when latest_version changes);
//   - the version, should Tedee ever report it: that version;
//   - installed or update_available unknown: null (unknown).
//
// No command_topic: Tedee offers no firmware install through its API, so Home Assistant shows no
// Install button (and lists the update on the device page, not among its own updates).
const updateTemplate = "{% set i = value_json.get('installed') %}{% set u = value_json.get('update_available') %}" +
	"{% set l = value_json.get('latest') %}" +
	"{{ {'installed_version': i, 'latest_version': none if i is none or u is none " +
	"else ((l or 'newer than ' ~ i) if u else i)} | to_json }}"

// cloudEntity fills in a lock's Cloud API entity; c already holds what every lock entity has,
// availability included (unavailable while the lock has lost its bridge, like the others).
func (o Options) cloudEntity(l Lock, e Entity, c *entity) {
	topic := func(leaf string) string { return o.lockTopic(l, leaf) }
	if s, ok := settings[e]; ok {
		o.settingEntity(l, e, s, c)
		return
	}
	switch e {
	case EntityActivity:
		c.Name = new("Activity")
		c.StateTopic, c.ValueTemplate = topic("activity"), activityTemplate
		c.EventTypes = tedee.ActivityEvents
	case EntityLastUser:
		c.Name = new("Last user")
		c.StateTopic, c.ValueTemplate = topic("last_user"), unknownAsNone
	case EntityLastSource:
		c.Name = new("Last trigger")
		c.StateTopic, c.ValueTemplate = topic("last_source"), unknownAsNone
	case EntityUpdate:
		c.Name = new("Firmware update")
		c.StateTopic, c.ValueTemplate = topic("update"), updateTemplate
		c.DeviceClass, c.EntityCategory = "firmware", "diagnostic"
	case EntityDoorSensorBattery, EntityKeypadBattery:
		c.Name, c.StateTopic = new("Door sensor battery"), topic("door_sensor_battery")
		if e == EntityKeypadBattery {
			c.Name, c.StateTopic = new("Keypad battery"), topic("keypad_battery")
		}
		c.ValueTemplate = unknownAsNone
		c.DeviceClass, c.StateClass, c.Unit, c.EntityCategory = "battery", "measurement", "%", "diagnostic"
	}
}

// settingEntity: state from <base>/<serial>/settings, where a key is absent when the lock did not
// report it (unknown, "None" to Home Assistant), and each change a JSON object with that one key
// on settings/set. Never retained: a replayed write must not undo a later change made elsewhere.
func (o Options) settingEntity(l Lock, e Entity, s setting, c *entity) {
	key := string(e)
	c.Name = new(s.name)
	c.StateTopic, c.CommandTopic = o.lockTopic(l, "settings"), o.lockTopic(l, "settings/set")
	c.Retain, c.EntityCategory = new(false), "config"
	if s.disabled {
		c.EnabledByDefault = new(false)
	}
	value := "{% set v = value_json.get('" + key + "') %}"
	if s.number {
		c.ValueTemplate = value + "{{ 'None' if v is none else v }}"
		// Home Assistant renders value as an integer when it is one, which step 1 makes it.
		c.CommandTemplate = `{"` + key + `":{{ value }}}`
		c.Min, c.Max, c.Step = new(s.min), new(s.max), new(1.0)
		c.Mode, c.Unit, c.DeviceClass = "box", "s", "duration"
		return
	}
	// The state is compared with state_on/state_off, which default to the payloads: they are
	// set apart because the payloads are JSON commands.
	c.ValueTemplate = value + "{{ 'None' if v is none else ('ON' if v else 'OFF') }}"
	c.PayloadOn, c.PayloadOff = `{"`+key+`":true}`, `{"`+key+`":false}`
	c.StateOn, c.StateOff = "ON", "OFF"
}

// bridgeUpdate is a bridge's firmware update entity, from the Cloud API's device list.
func (o Options) bridgeUpdate(b Bridge, dev device) Config {
	uid := o.UniqueID("bridge_"+b.Name, EntityUpdate)
	c := entity{Name: new("Firmware update"), UniqueID: uid, DefaultEntityID: "update." + entityID(uid), Device: dev,
		Origin: o.origin(), Availability: []availability{{Topic: o.Base + "/status"}},
		StateTopic: o.Base + "/" + b.Segment + "/update", ValueTemplate: updateTemplate,
		DeviceClass: "firmware", EntityCategory: "diagnostic", QoS: o.QoS}
	return Config{Topic: o.ConfigTopic("update", uid), Payload: marshal(c)}
}

// Equal reports whether two locks get the same discovery. Lock has a slice (Settings) and cannot
// be compared with ==; a nil and an empty Settings are the same. Field by field: it runs for
// every event, and reflect.DeepEqual allocated. TestLockEqual fails for a field left out here.
func (l Lock) Equal(m Lock) bool {
	return l.Serial == m.Serial && l.Model == m.Model && l.Name == m.Name && l.Firmware == m.Firmware &&
		l.Bridge == m.Bridge && l.CanPull == m.CanPull && l.DoorPaired == m.DoorPaired && l.HasRSSI == m.HasRSSI &&
		l.Cloud == m.Cloud && l.Update == m.Update && l.DoorSensorBattery == m.DoorSensorBattery &&
		l.KeypadBattery == m.KeypadBattery && slices.Equal(l.Settings, m.Settings)
}
