package homeassistant

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tedee2mqtt/tedee2mqtt/internal/hacheck"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

var opts = Options{Prefix: "homeassistant", Base: "tedee", QoS: 1, Version: "1.0.0"}

var (
	lockPro = Lock{Serial: "19420103-000006", Model: "lock_pro", Bridge: "home", CanPull: true, DoorPaired: true,
		Name: "Front door", Firmware: "2.2.18086"}
	lockGo = Lock{Serial: "22510401-000050", Model: "lock_go", Bridge: "home"}
	bridge = Bridge{Name: "home", Serial: "10000001-000001", Firmware: "2.2.31232", Segment: "10000001-000001"}
	// lockCloud has every entity the Cloud API brings (contract §8); bridgeCloud its update.
	lockCloud = Lock{Serial: "22510401-000077", Model: "lock_pro", Bridge: "home", CanPull: true, Name: "Back door",
		Firmware: "2.2.1", Cloud: true, Update: true, Settings: []string{"auto_lock", "auto_lock_delay", "button_lock",
			"button_unlock", "pull_spring", "pull_spring_duration", "auto_pull", "postponed_lock", "postponed_lock_delay"},
		DoorSensorBattery: true, KeypadBattery: true}
	bridgeCloud = Bridge{Name: "home", Serial: "10000001-000001", Firmware: "2.2.31232", Segment: "10000001-000001",
		Update: true, API: true}
)

func lockConfigs(o Options, l Lock) []Config {
	var out []Config
	for _, e := range LockEntities {
		if LockWants(l, e) {
			out = append(out, o.LockConfig(l, e))
		}
	}
	return out
}

// TestGolden compares the discovery configs, pretty-printed, with testdata/*.golden.json. Review a
// diff there as an API change: Home Assistant users' entities depend on every key.
// go test ./pkg/homeassistant -update rewrites them.
func TestGolden(t *testing.T) {
	for name, configs := range map[string][]Config{
		"lock_pro_with_door": lockConfigs(opts, lockPro),
		"lock_go":            lockConfigs(opts, lockGo),
		"bridge":             opts.BridgeConfigs(bridge),
		"lock_cloud":         lockConfigs(opts, lockCloud),
		"bridge_cloud":       opts.BridgeConfigs(bridgeCloud),
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			for _, c := range configs {
				if err := hacheck.Validate(c.Topic, c.Payload); err != nil {
					t.Error(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, c.Payload, "", "  "); err != nil {
					t.Fatal(err)
				}
				buf.WriteString("# " + c.Topic + "\n" + pretty.String() + "\n")
			}
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("%s differs (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestEntitiesPerModel(t *testing.T) {
	topics := func(l Lock) string {
		var out []string
		for _, c := range lockConfigs(opts, l) {
			out = append(out, strings.TrimPrefix(strings.TrimSuffix(c.Topic, "/config"), "homeassistant/"))
		}
		return strings.Join(out, " ")
	}
	if got, want := topics(lockPro), "lock/tedee_19420103-000006_lock sensor/tedee_19420103-000006_battery binary_sensor/tedee_19420103-000006_charging binary_sensor/tedee_19420103-000006_connectivity binary_sensor/tedee_19420103-000006_jammed binary_sensor/tedee_19420103-000006_door sensor/tedee_19420103-000006_lock_state sensor/tedee_19420103-000006_firmware"; got != want {
		t.Errorf("Lock PRO with door:\n got %s\nwant %s", got, want)
	}
	// A GO cannot charge, and without a paired door sensor there is no door.
	if got, want := topics(lockGo), "lock/tedee_22510401-000050_lock sensor/tedee_22510401-000050_battery binary_sensor/tedee_22510401-000050_connectivity binary_sensor/tedee_22510401-000050_jammed sensor/tedee_22510401-000050_lock_state"; got != want {
		t.Errorf("Lock GO:\n got %s\nwant %s", got, want)
	}
}

func TestPayloadOpenOnlyWhenPulling(t *testing.T) {
	for _, l := range []Lock{lockPro, lockGo} {
		var c map[string]any
		if err := json.Unmarshal(opts.LockConfig(l, EntityLock).Payload, &c); err != nil {
			t.Fatal(err)
		}
		if _, has := c["payload_open"]; has != l.CanPull {
			t.Errorf("%s: payload_open present = %v, want %v", l.Model, has, l.CanPull)
		}
	}
}

// TestUniqueIDs: unique across all entities, and two instances with different base topics never
// share one.
func TestUniqueIDs(t *testing.T) {
	seen := map[string]string{}
	other := opts
	other.Base = "home/tedee"
	for _, o := range []Options{opts, other} {
		all := slices.Concat(lockConfigs(o, lockPro), lockConfigs(o, lockGo), lockConfigs(o, lockCloud),
			o.BridgeConfigs(bridgeCloud))
		for _, c := range all {
			if err := hacheck.Validate(c.Topic, c.Payload); err != nil {
				t.Error(err)
			}
			var e struct {
				UniqueID string `json:"unique_id"`
			}
			if err := json.Unmarshal(c.Payload, &e); err != nil {
				t.Fatal(err)
			}
			if prev, dup := seen[e.UniqueID]; dup {
				t.Errorf("unique_id %s used by %s and %s", e.UniqueID, prev, c.Topic)
			}
			seen[e.UniqueID] = c.Topic
		}
	}
	if _, ok := seen["home_tedee_19420103-000006_lock"]; !ok {
		t.Errorf("base topic home/tedee should give unique_id prefix home_tedee_: %v", seen)
	}
}

// TestDiagnostics: a lock's signal strength once a reading reported it, and a bridge read through
// its API gets its API diagnostics (contract §7), all diagnostic, the noisy ones disabled; every
// config passes Home Assistant's rules.
func TestDiagnostics(t *testing.T) {
	l := lockPro
	l.HasRSSI = true
	rssi := string(opts.LockConfig(l, EntityRSSI).Payload)
	for _, want := range []string{`"device_class":"signal_strength"`, `"unit_of_measurement":"dBm"`, `"enabled_by_default":false`,
		`"entity_category":"diagnostic"`, `"state_topic":"tedee/19420103-000006/rssi"`} {
		if !strings.Contains(rssi, want) {
			t.Errorf("rssi config lacks %s: %s", want, rssi)
		}
	}
	b := Bridge{Name: "home", Serial: "10000001-000001", Segment: "10000001-000001", Firmware: "2.2", API: true}
	configs := opts.BridgeConfigs(b)
	if len(configs) != 1+len(BridgeDiagnostics) {
		t.Fatalf("%d bridge configs, want the cloud link and %d diagnostics", len(configs), len(BridgeDiagnostics))
	}
	all := ""
	for _, c := range configs {
		all += c.Topic + " " + string(c.Payload) + "\n"
		if err := hacheck.Validate(c.Topic, c.Payload); err != nil {
			t.Errorf("%s: %v", c.Topic, err)
		}
	}
	for _, want := range []string{"binary_sensor/tedee_bridge_home_api/config", `"state_topic":"tedee/10000001-000001/last_sync"`,
		`"device_class":"timestamp"`, `"options":["registered","failed","unchecked","not_configured"]`, `"unit_of_measurement":"ms"`} {
		if !strings.Contains(all, want) {
			t.Errorf("bridge diagnostics lack %s:\n%s", want, all)
		}
	}
	b.API = false
	if n := len(opts.BridgeConfigs(b)); n != 1 {
		t.Errorf("a webhook-only bridge has %d configs, want only its cloud link", n)
	}
}
