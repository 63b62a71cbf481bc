package hacheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The rules of the event, update, switch and number components, from Home Assistant's MQTT
// platform schemas: homeassistant/components/mqtt/{event,update,switch,number}.py, with the shared
// pieces in mqtt/config.py (MQTT_RO_SCHEMA: state_topic required, value_template; MQTT_RW_SCHEMA:
// command_topic required, optimistic, retain, state_topic) and mqtt/schemas.py
// (MQTT_ENTITY_COMMON_SCHEMA, i.e. commonKeys). Device classes are the enums of
// homeassistant/components/{event,update,switch,number}. Read in home-assistant/core and in the
// schema extract openhab/openhab-addons keeps of it
// (bundles/org.openhab.binding.homeassistant/src/main/python/homeassistant/components/). Their
// keys and required keys are in hacheck.go with the other components'.

// eventClasses is EventDeviceClass; updateClasses UpdateDeviceClass; switchClasses
// SwitchDeviceClass.
var (
	eventClasses  = set("doorbell", "button", "motion")
	updateClasses = set("firmware")
	switchClasses = set("outlet", "switch")
)

// numberClasses is NumberDeviceClass (number/const.py), which is kept aligned with the sensor's
// numeric classes.
var numberClasses = set("absolute_humidity", "apparent_power", "aqi", "area", "atmospheric_pressure",
	"battery", "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide", "conductivity", "current",
	"data_rate", "data_size", "distance", "duration", "energy", "energy_distance", "energy_storage",
	"frequency", "gas", "humidity", "illuminance", "irradiance", "moisture", "monetary", "nitrogen_dioxide",
	"nitrogen_monoxide", "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "pm4", "power_factor", "power",
	"precipitation", "precipitation_intensity", "pressure", "reactive_energy", "reactive_power",
	"signal_strength", "sound_pressure", "speed", "sulphur_dioxide", "temperature", "temperature_delta",
	"volatile_organic_compounds", "volatile_organic_compounds_parts", "voltage", "volume", "volume_storage",
	"volume_flow_rate", "water", "weight", "wind_direction", "wind_speed")

// numberUnitsByClass are the units NumberDeviceClass documents for the classes used here. The
// MQTT number does not refuse another unit, but the number entity then cannot convert or graph it:
// stricter than Home Assistant, on purpose.
var numberUnitsByClass = map[string]map[string]bool{
	"duration": set("d", "h", "min", "s", "ms", "μs"),
	"battery":  set("%"),
}

// checkComponent applies the rules of the components above.
func checkComponent(component string, c map[string]any, fail func(string, ...any)) {
	class, _ := c["device_class"].(string)
	classes := map[string]map[string]bool{"event": eventClasses, "update": updateClasses,
		"switch": switchClasses, "number": numberClasses}[component]
	if class != "" && classes != nil && !classes[class] {
		fail("%s device_class %q unknown", component, class)
	}
	switch component {
	case "event":
		checkEvent(c, fail)
	case "update":
		checkUpdate(c, fail)
	case "switch":
		checkSwitch(c, fail)
	case "number":
		checkNumber(c, class, fail)
	}
}

// checkEvent: event_types is a list of strings (vol.All(cv.ensure_list, [cv.string])). An empty
// list passes the schema but makes every event "invalid event type", so it is refused here.
func checkEvent(c map[string]any, fail func(string, ...any)) {
	raw, ok := c["event_types"]
	if !ok {
		return // reported as a missing required key
	}
	types, isList := raw.([]any)
	if !isList || len(types) == 0 {
		fail("event_types must be a non-empty list of strings, not %v", raw)
		return
	}
	seen := map[string]bool{}
	for _, t := range types {
		s, isString := t.(string)
		if !isString || s == "" {
			fail("event type %v is not a non-empty string", t)
		}
		if seen[s] {
			fail("event type %q listed twice", s)
		}
		seen[s] = true
	}
}

// checkUpdate: display_precision is cv.positive_int (0 included); payload_install without a
// command_topic would be published nowhere, and a command_topic without payload_install makes
// Install fail (async_install reads config[CONF_PAYLOAD_INSTALL]).
func checkUpdate(c map[string]any, fail func(string, ...any)) {
	if p, ok := c["display_precision"]; ok {
		if f, isNumber := p.(float64); !isNumber || f < 0 || f != float64(int64(f)) {
			fail("display_precision %v must be a non-negative integer", p)
		}
	}
	_, hasCommand := c["command_topic"]
	_, hasInstall := c["payload_install"]
	if hasCommand != hasInstall {
		fail("command_topic and payload_install go together")
	}
}

// checkSwitch: the state compared with state_on/state_off defaults to payload_on/payload_off
// ("ON"/"OFF"); two equal payloads or states make on and off indistinguishable.
func checkSwitch(c map[string]any, fail func(string, ...any)) {
	str := func(k, def string) string {
		if v, ok := c[k].(string); ok {
			return v
		}
		return def
	}
	on, off := str("payload_on", "ON"), str("payload_off", "OFF")
	if on == off {
		fail("payload_on and payload_off are both %q", on)
	}
	if stateOn, stateOff := str("state_on", on), str("state_off", off); stateOn == stateOff {
		fail("state_on and state_off are both %q", stateOn)
	}
}

// checkNumber: min, max and step are numbers (vol.Coerce(float)); number.py refuses min > max
// ("max must be >= min"; before 2024 also min == max), and a number whose min equals its max
// cannot be set, so this demands min < max. step is at least 0.001 (vol.Range(min=1e-3)); mode is
// NumberMode: auto, box or slider. Defaults: min 0, max 100, step 1.
func checkNumber(c map[string]any, class string, fail func(string, ...any)) {
	num := func(k string, def float64) float64 {
		v, ok := c[k]
		if !ok {
			return def
		}
		f, isNumber := v.(float64)
		if !isNumber {
			fail("%s %v is not a number", k, v)
			return def
		}
		return f
	}
	lo, hi, step := num("min", 0), num("max", 100), num("step", 1)
	if lo >= hi {
		fail("min %v must be below max %v", lo, hi)
	}
	if step < 1e-3 {
		fail("step %v must be at least 0.001", step)
	}
	if mode, ok := c["mode"]; ok && !set("auto", "box", "slider")[fmt.Sprint(mode)] {
		fail("mode %v must be auto, box or slider", mode)
	}
	if units, ok := numberUnitsByClass[class]; ok {
		if unit, _ := c["unit_of_measurement"].(string); !units[unit] {
			fail("unit %q not valid with number device_class %q (want one of %s)", unit, class, keys(units))
		}
	}
}

func keys(m map[string]bool) string { return strings.Join(slices.Sorted(maps.Keys(m)), ", ") }
