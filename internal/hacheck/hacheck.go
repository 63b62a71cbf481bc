// Package hacheck is a test oracle: it encodes what Home Assistant accepts in an MQTT discovery
// message, so that tests can check the configs the service publishes. It lives in internal/ and
// only tests import it, so that these rules never become part of the product: the product states
// what it publishes (pkg/homeassistant), and this package is the second opinion.
package hacheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The rules below are Home Assistant's, as far as they can be encoded (see the MQTT discovery,
// lock, sensor, binary_sensor, event, update, switch and number schemas; the last four in
// components.go). Home Assistant drops unknown keys silently and rejects a
// whole config for some mistakes, so a config that passes here is one it will take as meant.

// configTopic is Home Assistant's TOPIC_MATCHER for single-component discovery topics.
var configTopic = regexp.MustCompile(`^[^/]+/(?P<component>\w+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$`)

var defaultEntityID = regexp.MustCompile(`^([a-z_]+)\.[a-z0-9_]+$`)

// commonKeys are accepted by every entity component.
var commonKeys = set("name", "unique_id", "default_entity_id", "device", "origin", "availability",
	"availability_topic", "availability_mode", "availability_template", "payload_available",
	"payload_not_available", "entity_category", "icon", "json_attributes_topic",
	"json_attributes_template", "enabled_by_default", "qos", "encoding", "entity_picture")

var componentKeys = map[string]map[string]bool{
	"lock": set("command_topic", "state_topic", "value_template", "command_template", "optimistic",
		"retain", "payload_lock", "payload_unlock", "payload_open", "payload_reset", "state_locked",
		"state_unlocked", "state_locking", "state_unlocking", "state_jammed", "state_open",
		"state_opening", "code_format"),
	"sensor": set("state_topic", "value_template", "device_class", "state_class", "unit_of_measurement",
		"expire_after", "force_update", "last_reset_value_template", "options", "suggested_display_precision"),
	"binary_sensor": set("state_topic", "value_template", "device_class", "payload_on", "payload_off",
		"off_delay", "expire_after", "force_update"),
	// The rest: see components.go. event.py: MQTT_RO_SCHEMA + device_class, event_types.
	"event": set("state_topic", "value_template", "device_class", "event_types"),
	// update.py: MQTT_RO_SCHEMA (so state_topic is required) + the keys below.
	"update": set("state_topic", "value_template", "command_topic", "device_class", "display_precision",
		"latest_version_template", "latest_version_topic", "payload_install", "release_summary",
		"release_url", "retain", "title"),
	// switch.py and number.py: MQTT_RW_SCHEMA (command_topic, optimistic, retain, state_topic) + these.
	"switch": set("command_topic", "optimistic", "retain", "state_topic", "command_template",
		"payload_on", "payload_off", "state_on", "state_off", "value_template", "device_class"),
	"number": set("command_topic", "optimistic", "retain", "state_topic", "command_template",
		"device_class", "min", "max", "mode", "payload_reset", "step", "unit_of_measurement",
		"value_template"),
}

var requiredKeys = map[string][]string{
	"lock":          {"command_topic"},
	"sensor":        {"state_topic"},
	"binary_sensor": {"state_topic"},
	"event":         {"state_topic", "event_types"},
	"update":        {"state_topic"},
	"switch":        {"command_topic"},
	"number":        {"command_topic"},
}

var sensorClasses = set("date", "enum", "timestamp", "apparent_power", "aqi", "area", "atmospheric_pressure",
	"battery", "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide", "conductivity", "current",
	"data_rate", "data_size", "distance", "duration", "energy", "energy_distance", "energy_storage",
	"frequency", "gas", "humidity", "illuminance", "irradiance", "moisture", "monetary", "nitrogen_dioxide",
	"nitrogen_monoxide", "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "power_factor", "power",
	"precipitation", "precipitation_intensity", "pressure", "reactive_power", "signal_strength",
	"sound_pressure", "speed", "sulphur_dioxide", "temperature", "temperature_delta",
	"volatile_organic_compounds", "volatile_organic_compounds_parts", "voltage", "volume",
	"volume_storage", "volume_flow_rate", "water", "weight", "wind_direction", "wind_speed")

var binarySensorClasses = set("battery", "battery_charging", "carbon_monoxide", "cold", "connectivity",
	"door", "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
	"opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper",
	"update", "vibration", "window")

// unitsByClass are the units Home Assistant accepts for the device classes used here; since 2025.7
// another unit rejects the entity.
var unitsByClass = map[string]map[string]bool{"battery": set("%")}

// stateClassesByClass are the state classes allowed per device class, where restricted.
var stateClassesByClass = map[string]map[string]bool{"battery": set("measurement")}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// Validate checks one discovery message. An empty payload (removal) is valid.
func Validate(topic string, payload []byte) error {
	m := configTopic.FindStringSubmatch(topic)
	if m == nil {
		return fmt.Errorf("%s: not a discovery topic Home Assistant accepts", topic)
	}
	component := m[1]
	if len(payload) == 0 {
		return nil
	}
	allowed, ok := componentKeys[component]
	if !ok {
		return fmt.Errorf("%s: component %q not checked here", topic, component)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("%s: payload is not a JSON object: %w", topic, err)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(topic+": "+format, args...)) }
	for k := range c {
		if !allowed[k] && !commonKeys[k] {
			fail("unknown key %q (Home Assistant would drop it)", k)
		}
	}
	for _, k := range requiredKeys[component] {
		if _, ok := c[k]; !ok {
			fail("missing required key %q", k)
		}
	}
	uid, _ := c["unique_id"].(string)
	if uid == "" {
		fail("no unique_id: the device block is ignored and the entity cannot be managed")
	} else if uid != m[3] {
		fail("object id %q is not the unique_id %q", m[3], uid)
	}
	if id, _ := c["default_entity_id"].(string); !defaultEntityID.MatchString(id) || !strings.HasPrefix(id, component+".") {
		fail("default_entity_id %q must be %s.<[a-z0-9_]+>", id, component)
	}
	checkTopics(c, fail)
	checkDevice(c, fail)
	checkAvailability(c, fail)
	class, _ := c["device_class"].(string)
	switch component {
	case "sensor":
		if class != "" && !sensorClasses[class] {
			fail("sensor device_class %q unknown", class)
		}
		unit, hasUnit := c["unit_of_measurement"].(string)
		if units, ok := unitsByClass[class]; ok && !units[unit] {
			fail("unit %q not valid with device_class %q", unit, class)
		}
		stateClass, hasStateClass := c["state_class"].(string)
		if hasStateClass && !set("measurement", "measurement_angle", "total", "total_increasing")[stateClass] {
			fail("state_class %q unknown", stateClass)
		}
		if classes, ok := stateClassesByClass[class]; ok && hasStateClass && !classes[stateClass] {
			fail("state_class %q not valid with device_class %q", stateClass, class)
		}
		if _, hasOptions := c["options"]; hasOptions && (class != "enum" || hasUnit || hasStateClass) {
			fail("options need device_class enum and no unit or state_class")
		}
		if class == "enum" {
			if opts, _ := c["options"].([]any); len(opts) == 0 {
				fail("an enum sensor needs options")
			}
		}
	case "binary_sensor":
		if class != "" && !binarySensorClasses[class] {
			fail("binary_sensor device_class %q unknown", class)
		}
	default:
		checkComponent(component, c, fail)
	}
	if cat, ok := c["entity_category"].(string); ok {
		if cat != "diagnostic" && cat != "config" {
			fail("entity_category %q unknown", cat)
		}
		if cat == "config" && (component == "sensor" || component == "binary_sensor") {
			fail("entity_category config is refused for %s", component)
		}
	}
	if q, ok := c["qos"].(float64); ok && q != 0 && q != 1 && q != 2 {
		fail("qos %v", q)
	}
	return errors.Join(errs...)
}

// checkTopics: state topics may be filters but must be valid; command topics may not contain
// wildcards.
func checkTopics(c map[string]any, fail func(string, ...any)) {
	for k, v := range c {
		if !strings.HasSuffix(k, "_topic") {
			continue
		}
		t, _ := v.(string)
		if t == "" || strings.ContainsAny(t, "\x00") || strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/") || strings.Contains(t, "//") {
			fail("%s %q is not a valid topic", k, t)
		}
		if (k == "command_topic" || strings.HasSuffix(k, "state_topic") || k == "availability_topic") && strings.ContainsAny(t, "+#") {
			fail("%s %q must not contain wildcards", k, t)
		}
	}
}

func checkDevice(c map[string]any, fail func(string, ...any)) {
	d, ok := c["device"].(map[string]any)
	if !ok {
		fail("no device block")
		return
	}
	ids, _ := d["identifiers"].([]any)
	if len(ids) == 0 {
		fail("device needs identifiers")
	}
	for k := range d {
		if !set("identifiers", "connections", "manufacturer", "model", "model_id", "name", "serial_number",
			"sw_version", "hw_version", "via_device", "suggested_area", "configuration_url")[k] {
			fail("unknown device key %q", k)
		}
	}
	o, ok := c["origin"].(map[string]any)
	if !ok {
		fail("no origin block")
		return
	}
	if name, _ := o["name"].(string); name == "" {
		fail("origin needs a name")
	}
	for k := range o {
		if !set("name", "sw_version", "support_url")[k] {
			fail("unknown origin key %q", k)
		}
	}
}

func checkAvailability(c map[string]any, fail func(string, ...any)) {
	list, hasList := c["availability"]
	_, hasTopic := c["availability_topic"]
	if hasList && hasTopic {
		fail("availability and availability_topic are mutually exclusive")
	}
	if mode, ok := c["availability_mode"].(string); ok && !set("all", "any", "latest")[mode] {
		fail("availability_mode %q", mode)
	}
	items, _ := list.([]any)
	for _, it := range items {
		item, _ := it.(map[string]any)
		t, _ := item["topic"].(string)
		if t == "" || strings.ContainsAny(t, "+#") {
			fail("availability topic %q", t)
		}
		for k := range item {
			if !set("topic", "payload_available", "payload_not_available", "value_template")[k] {
				fail("unknown availability key %q", k)
			}
		}
	}
}
