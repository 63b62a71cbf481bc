package homeassistant

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tedee2mqtt/tedee2mqtt/internal/hacheck"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// config decodes one entity's config, after checking it against Home Assistant's rules.
func config(t *testing.T, l Lock, e Entity) map[string]any {
	t.Helper()
	c := opts.LockConfig(l, e)
	if err := hacheck.Validate(c.Topic, c.Payload); err != nil {
		t.Error(err)
	}
	var m map[string]any
	if err := json.Unmarshal(c.Payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCloudEntitiesWanted: each Cloud API entity exists only for what the cloud reports about the
// lock, a setting only once the lock has reported it; a lock without any gets none of them.
func TestCloudEntitiesWanted(t *testing.T) {
	entities := func(l Lock) []Entity {
		var out []Entity
		for _, e := range LockEntities {
			if LockWants(l, e) {
				out = append(out, e)
			}
		}
		return out
	}
	base := Lock{Serial: "1-1", Model: "lock_go"}
	plain := entities(base)
	for _, tt := range []struct {
		name  string
		set   func(*Lock)
		extra []Entity
	}{
		{"cloud", func(l *Lock) { l.Cloud = true }, []Entity{EntityActivity, EntityLastUser, EntityLastSource}},
		{"update", func(l *Lock) { l.Update = true }, []Entity{EntityUpdate}},
		{"door sensor", func(l *Lock) { l.DoorSensorBattery = true }, []Entity{EntityDoorSensorBattery}},
		{"keypad", func(l *Lock) { l.KeypadBattery = true }, []Entity{EntityKeypadBattery}},
		{"two settings", func(l *Lock) { l.Settings = []string{"postponed_lock_delay", "auto_lock"} },
			[]Entity{EntityAutoLock, EntityPostponedLockDelay}},
		{"unknown setting", func(l *Lock) { l.Settings = []string{"hotel_mode"} }, nil},
	} {
		l := base
		tt.set(&l)
		var extra []Entity
		for _, e := range entities(l) {
			if !slices.Contains(plain, e) {
				extra = append(extra, e)
			}
		}
		if diff := cmp.Diff(tt.extra, extra); diff != "" {
			t.Errorf("%s: entities beyond a plain lock's (-want +got):\n%s", tt.name, diff)
		}
	}
	for _, e := range plain {
		if _, cloud := settings[e]; cloud || slices.Contains([]Entity{EntityActivity, EntityLastUser, EntityLastSource,
			EntityUpdate, EntityDoorSensorBattery, EntityKeypadBattery}, e) {
			t.Errorf("a lock without Cloud API facts has %s", e)
		}
	}
}

// TestComponents: every entity of a lock maps to the component its config is published under.
func TestComponents(t *testing.T) {
	want := map[Entity]string{EntityActivity: "event", EntityUpdate: "update", EntityLastUser: "sensor",
		EntityLastSource: "sensor", EntityDoorSensorBattery: "sensor", EntityKeypadBattery: "sensor",
		EntityAutoLock: "switch", EntityButtonLock: "switch", EntityButtonUnlock: "switch", EntityPullSpring: "switch",
		EntityAutoPull: "switch", EntityPostponedLock: "switch", EntityAutoLockDelay: "number",
		EntityPullSpringDuration: "number", EntityPostponedLockDelay: "number"}
	for e, component := range want {
		if got := Component(e); got != component {
			t.Errorf("Component(%s) = %s, want %s", e, got, component)
		}
		if !slices.Contains(LockEntities, e) {
			t.Errorf("%s is not in LockEntities", e)
		}
		if topic := opts.LockConfig(lockCloud, e).Topic; !strings.HasPrefix(topic, "homeassistant/"+component+"/") {
			t.Errorf("%s published at %s", e, topic)
		}
	}
	if len(SettingEntities) != len(settings) {
		t.Errorf("SettingEntities has %d entries, settings %d", len(SettingEntities), len(settings))
	}
}

// TestActivityEntity: the event entity lists every word the activity topic can carry.
func TestActivityEntity(t *testing.T) {
	c := config(t, lockCloud, EntityActivity)
	var types []string
	for _, v := range c["event_types"].([]any) {
		types = append(types, v.(string))
	}
	if diff := cmp.Diff(tedee.ActivityEvents, types); diff != "" {
		t.Errorf("event_types differ from tedee.ActivityEvents (-want +got):\n%s", diff)
	}
	if c["state_topic"] != "tedee/22510401-000077/activity" || c["name"] != "Activity" {
		t.Errorf("activity: %v", c)
	}
	if tpl, _ := c["value_template"].(string); !strings.Contains(tpl, "'event_type': value_json.event") {
		t.Errorf("the activity's event field must become event_type: %s", tpl)
	}
}

// TestSettingsEntities: switches and numbers are config entities that read the settings JSON and
// write one key to settings/set; the pull spring is off by default (turning it off resets its
// calibration); numbers are boxed seconds.
func TestSettingsEntities(t *testing.T) {
	for _, e := range SettingEntities {
		c := config(t, lockCloud, e)
		key := string(e)
		if c["state_topic"] != "tedee/22510401-000077/settings" || c["command_topic"] != "tedee/22510401-000077/settings/set" {
			t.Errorf("%s: topics %v, %v", e, c["state_topic"], c["command_topic"])
		}
		if c["entity_category"] != "config" || c["retain"] != false {
			t.Errorf("%s: entity_category %v, retain %v; want config, false", e, c["entity_category"], c["retain"])
		}
		if _, disabled := c["enabled_by_default"]; disabled != (e == EntityPullSpring) {
			t.Errorf("%s: enabled_by_default present = %v", e, disabled)
		}
		if tpl, _ := c["value_template"].(string); !strings.Contains(tpl, "value_json.get('"+key+"')") {
			t.Errorf("%s: value_template does not read its key: %s", e, tpl)
		}
		commands := []string{}
		switch Component(e) {
		case "switch":
			commands = append(commands, c["payload_on"].(string), c["payload_off"].(string))
			if c["state_on"] != "ON" || c["state_off"] != "OFF" {
				t.Errorf("%s: state_on/state_off %v/%v", e, c["state_on"], c["state_off"])
			}
		case "number":
			// Home Assistant renders {{ value }} as the number set, an integer with step 1.
			commands = append(commands, strings.ReplaceAll(c["command_template"].(string), "{{ value }}", "30"))
			if c["mode"] != "box" || c["unit_of_measurement"] != "s" || c["step"] != 1.0 {
				t.Errorf("%s: mode %v, unit %v, step %v", e, c["mode"], c["unit_of_measurement"], c["step"])
			}
			if lo, hi := c["min"].(float64), c["max"].(float64); lo < 1 || hi <= lo {
				t.Errorf("%s: range %v–%v", e, lo, hi)
			}
		default:
			t.Fatalf("%s is a %s", e, Component(e))
		}
		for _, cmd := range commands {
			var m map[string]any
			if err := json.Unmarshal([]byte(cmd), &m); err != nil || len(m) != 1 || m[key] == nil {
				t.Errorf("%s: command %q is not a JSON object with the one key %s (%v)", e, cmd, key, err)
			}
		}
	}
}

// TestUpdateEntities: firmware updates for a lock and for a bridge, with no install command
// (Tedee's API has none); the template never invents a version.
func TestUpdateEntities(t *testing.T) {
	var bridgeUpdate map[string]any
	for _, c := range opts.BridgeConfigs(bridgeCloud) {
		if strings.HasPrefix(c.Topic, "homeassistant/update/") {
			if err := json.Unmarshal(c.Payload, &bridgeUpdate); err != nil {
				t.Fatal(err)
			}
		}
	}
	if bridgeUpdate == nil {
		t.Fatal("a bridge with Update has no update entity")
	}
	if bridgeUpdate["state_topic"] != "tedee/10000001-000001/update" {
		t.Errorf("bridge update state_topic %v", bridgeUpdate["state_topic"])
	}
	for _, c := range []map[string]any{config(t, lockCloud, EntityUpdate), bridgeUpdate} {
		if c["device_class"] != "firmware" || c["command_topic"] != nil || c["payload_install"] != nil {
			t.Errorf("update: %v", c)
		}
		tpl, _ := c["value_template"].(string)
		for _, want := range []string{"'installed_version': i", "'newer than ' ~ i", "none if i is none"} {
			if !strings.Contains(tpl, want) {
				t.Errorf("update value_template lacks %q: %s", want, tpl)
			}
		}
	}
	withoutUpdate := bridgeCloud
	withoutUpdate.Update = false
	if n, m := len(opts.BridgeConfigs(bridgeCloud)), len(opts.BridgeConfigs(withoutUpdate)); n != m+1 {
		t.Errorf("a bridge with Update has %d configs, without %d", n, m)
	}
}

// TestAccessoryBatteries: batteries of the door sensor and the keypad, unknown when "unknown".
func TestAccessoryBatteries(t *testing.T) {
	for e, leaf := range map[Entity]string{EntityDoorSensorBattery: "door_sensor_battery", EntityKeypadBattery: "keypad_battery"} {
		c := config(t, lockCloud, e)
		if c["state_topic"] != "tedee/22510401-000077/"+leaf || c["device_class"] != "battery" ||
			c["unit_of_measurement"] != "%" || c["value_template"] != unknownAsNone {
			t.Errorf("%s: %v", e, c)
		}
	}
}

func TestLockEqual(t *testing.T) {
	a := lockCloud
	b := lockCloud
	b.Settings = slices.Clone(a.Settings)
	if !a.Equal(b) {
		t.Error("equal locks differ")
	}
	b.Settings = b.Settings[1:]
	if a.Equal(b) {
		t.Error("different settings compare equal")
	}
	c := lockGo
	c.Settings = []string{}
	if !lockGo.Equal(c) {
		t.Error("nil and empty settings differ")
	}
	// Every field, including any added later, takes part.
	for i := range reflect.TypeFor[Lock]().NumField() {
		d := lockGo
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.ValueOf("x")))
		default:
			t.Fatalf("field %s: a %s; teach this test to change it", reflect.TypeFor[Lock]().Field(i).Name, f.Kind())
		}
		if lockGo.Equal(d) || d.Equal(lockGo) {
			t.Errorf("locks differing in %s compare equal", reflect.TypeFor[Lock]().Field(i).Name)
		}
	}
}
