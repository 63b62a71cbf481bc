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
