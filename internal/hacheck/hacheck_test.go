package hacheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
)

var (
	opts    = homeassistant.Options{Prefix: "homeassistant", Base: "tedee", QoS: 1, Version: "1.0.0"}
	lockPro = homeassistant.Lock{Serial: "19420103-000006", Model: "lock_pro", Bridge: "home", CanPull: true,
		DoorPaired: true, Name: "Front door", Firmware: "2.2.18086"}
)

// TestValidateRejects shows the checker fails on what Home Assistant rejects or silently drops.
func TestValidateRejects(t *testing.T) {
	good := opts.LockConfig(lockPro, homeassistant.EntityBattery)
	mutate := func(f func(map[string]any)) []byte {
		var c map[string]any
		if err := json.Unmarshal(good.Payload, &c); err != nil {
			t.Fatal(err)
		}
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	lockTopic := opts.LockConfig(lockPro, homeassistant.EntityLock).Topic
	tests := []struct {
		name, topic string
		payload     []byte
		want        string
	}{
		{"typo key", good.Topic, mutate(func(c map[string]any) { c["unit_of_measurment"] = "%" }), `unknown key "unit_of_measurment"`},
		{"wrong unit", good.Topic, mutate(func(c map[string]any) { c["unit_of_measurement"] = "percent" }), "not valid with device_class"},
		{"config category", good.Topic, mutate(func(c map[string]any) { c["entity_category"] = "config" }), "refused"},
		{"unknown class", good.Topic, mutate(func(c map[string]any) { c["device_class"] = "batery" }), "device_class"},
		{"no unique_id", good.Topic, mutate(func(c map[string]any) { delete(c, "unique_id") }), "no unique_id"},
		{"object_id not unique_id", strings.Replace(good.Topic, "_battery", "_bat", 1), good.Payload, "is not the unique_id"},
		{"deprecated object_id", good.Topic, mutate(func(c map[string]any) { c["object_id"] = "x" }), `unknown key "object_id"`},
		{"no identifiers", good.Topic, mutate(func(c map[string]any) { c["device"] = map[string]any{"name": "x"} }), "identifiers"},
		{"no origin name", good.Topic, mutate(func(c map[string]any) { c["origin"] = map[string]any{"sw_version": "1"} }), "origin needs a name"},
		{"wildcard state topic", good.Topic, mutate(func(c map[string]any) { c["state_topic"] = "tedee/+/battery" }), "wildcards"},
		{"both availability forms", good.Topic, mutate(func(c map[string]any) { c["availability_topic"] = "tedee/status" }), "mutually exclusive"},
		{"lock without command topic", lockTopic, mutate(func(c map[string]any) {}), `missing required key "command_topic"`},
		{"dot in object id", "homeassistant/sensor/a.b/config", good.Payload, "not a discovery topic"},
		{"not JSON", good.Topic, []byte("{"), "not a JSON object"},
	}
	for _, tt := range tests {
		err := Validate(tt.topic, tt.payload)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	if err := Validate(good.Topic, nil); err != nil {
		t.Errorf("removal (empty payload): %v", err)
	}
}

// TestValidateRejectsComponents shows each rule of the event, update, switch and number components
// failing on a config Home Assistant would refuse or misread, starting from configs that pass.
func TestValidateRejectsComponents(t *testing.T) {
	lock := homeassistant.Lock{Serial: "22510401-000077", Model: "lock_pro", Bridge: "home", Cloud: true,
		Update: true, Settings: []string{"auto_lock", "auto_lock_delay"}}
	good := func(e homeassistant.Entity) homeassistant.Config {
		c := opts.LockConfig(lock, e)
		if err := Validate(c.Topic, c.Payload); err != nil {
			t.Fatalf("the starting point does not pass: %v", err)
		}
		return c
	}
	mutate := func(c homeassistant.Config, f func(map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(c.Payload, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	event, update := good(homeassistant.EntityActivity), good(homeassistant.EntityUpdate)
	sw, num := good(homeassistant.EntityAutoLock), good(homeassistant.EntityAutoLockDelay)
	tests := []struct {
		name string
		c    homeassistant.Config
		f    func(map[string]any)
		want string
	}{
		{"event without event_types", event, func(m map[string]any) { delete(m, "event_types") }, `missing required key "event_types"`},
		{"event without state_topic", event, func(m map[string]any) { delete(m, "state_topic") }, `missing required key "state_topic"`},
		{"event with no types", event, func(m map[string]any) { m["event_types"] = []any{} }, "non-empty list"},
		{"event type not a string", event, func(m map[string]any) { m["event_types"] = []any{"locked", 3} }, "not a non-empty string"},
		{"event type twice", event, func(m map[string]any) { m["event_types"] = []any{"locked", "locked"} }, "listed twice"},
		{"event device class", event, func(m map[string]any) { m["device_class"] = "lock" }, `event device_class "lock" unknown`},
		{"event with a command", event, func(m map[string]any) { m["command_topic"] = "tedee/x/set" }, `unknown key "command_topic"`},
		{"update device class", update, func(m map[string]any) { m["device_class"] = "software" }, `update device_class "software" unknown`},
		{"update without state_topic", update, func(m map[string]any) { delete(m, "state_topic") }, `missing required key "state_topic"`},
		{"update install nowhere", update, func(m map[string]any) { m["payload_install"] = "install" }, "go together"},
		{"update precision", update, func(m map[string]any) { m["display_precision"] = -1 }, "display_precision"},
		{"update typo", update, func(m map[string]any) { m["latest_version"] = "2.3" }, `unknown key "latest_version"`},
		{"switch without command_topic", sw, func(m map[string]any) { delete(m, "command_topic") }, `missing required key "command_topic"`},
		{"switch device class", sw, func(m map[string]any) { m["device_class"] = "lock" }, `switch device_class "lock" unknown`},
		{"switch same payloads", sw, func(m map[string]any) { m["payload_off"] = m["payload_on"] }, "payload_on and payload_off"},
		{"switch same states", sw, func(m map[string]any) { m["state_off"] = "ON" }, "state_on and state_off"},
		{"switch states default to JSON payloads", sw, func(m map[string]any) { delete(m, "state_on"); m["state_off"] = m["payload_on"] }, "state_on and state_off"},
		{"switch with options", sw, func(m map[string]any) { m["options"] = []any{"a"} }, `unknown key "options"`},
		{"number without command_topic", num, func(m map[string]any) { delete(m, "command_topic") }, `missing required key "command_topic"`},
		{"number min above max", num, func(m map[string]any) { m["min"], m["max"] = 10, 5 }, "must be below max"},
		{"number min equals max", num, func(m map[string]any) { m["min"], m["max"] = 5, 5 }, "must be below max"},
		{"number max below default min", num, func(m map[string]any) { delete(m, "min"); m["max"] = -1 }, "must be below max"},
		{"number step zero", num, func(m map[string]any) { m["step"] = 0 }, "at least 0.001"},
		{"number step too fine", num, func(m map[string]any) { m["step"] = 0.0001 }, "at least 0.001"},
		{"number min not a number", num, func(m map[string]any) { m["min"] = "1" }, "not a number"},
		{"number mode", num, func(m map[string]any) { m["mode"] = "input" }, "auto, box or slider"},
		{"number device class", num, func(m map[string]any) { m["device_class"] = "time" }, `number device_class "time" unknown`},
		{"number unit", num, func(m map[string]any) { m["unit_of_measurement"] = "sec" }, `unit "sec" not valid`},
		{"unknown entity category", num, func(m map[string]any) { m["entity_category"] = "system" }, `entity_category "system"`},
	}
	for _, tt := range tests {
		err := Validate(tt.c.Topic, mutate(tt.c, tt.f))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}
