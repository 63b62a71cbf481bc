package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// envPrefix starts every environment override.
const envPrefix = "TEDEE2MQTT_"

// envBridgesPrefix starts the per-bridge overrides TEDEE2MQTT_BRIDGES_<i>_<KEY>.
const envBridgesPrefix = envPrefix + "BRIDGES_"

// envField is one setting reachable from the environment.
type envField struct {
	path  string // YAML path, e.g. "mqtt.tls.ca_file" or "name" within a bridge
	index []int  // field index path for reflect.Value.FieldByIndex
}

// envFields returns the environment name (without envPrefix for the top
// level, i.e. relative to prefix) of every scalar or map setting of struct
// type t, keyed by the upper-cased YAML path joined with "_". Slices are left
// out: bridges are handled by name pattern.
func envFields(t reflect.Type) map[string]envField {
	out := map[string]envField{}
	var walk func(t reflect.Type, name, path string, index []int)
	walk = func(t reflect.Type, name, path string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := yamlName(f)
			if key == "" {
				continue
			}
			n := strings.ToUpper(key)
			p := key
			if name != "" {
				n = name + "_" + n
				p = path + "." + key
			}
			idx := append(slices.Clone(index), i)
			switch {
			case f.Type == durationType:
				out[n] = envField{path: p, index: idx}
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, n, p, idx)
			case f.Type.Kind() == reflect.Slice:
				// bridges: TEDEE2MQTT_BRIDGES_<i>_<KEY>
			case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() != reflect.String:
				// locks: per-lock policy comes from the file only
			default:
				out[n] = envField{path: p, index: idx}
			}
		}
	}
	walk(t, "", "", nil)
	return out
}

var (
	configEnv = envFields(reflect.TypeFor[Config]())
	bridgeEnv = envFields(bridgeType)
)

type envVar struct {
	name, value string
}

type bridgeVar struct {
	envVar
	index int
	field envField
}

// applyEnv applies the TEDEE2MQTT_* variables of environ onto cfg.
// Variables are applied in name order (bridges in index order), so the
// result and the order of problems do not depend on the order of environ;
// when a name occurs twice, the later one wins.
func applyEnv(cfg *Config, environ []string, ps *problems) {
	var vars []envVar
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) {
			vars = append(vars, envVar{name: name, value: value})
		}
	}
	slices.SortStableFunc(vars, func(a, b envVar) int { return strings.Compare(a.name, b.name) })

	root := reflect.ValueOf(cfg).Elem()
	var bridges []bridgeVar
	for _, ev := range vars {
		if f, ok := configEnv[strings.TrimPrefix(ev.name, envPrefix)]; ok {
			setEnv(root.FieldByIndex(f.index), f.path, ev, ps)
			continue
		}
		if bv, ok := parseBridgeVar(ev); ok {
			bridges = append(bridges, bv)
			continue
		}
		ps.add(ev.name, "unknown setting")
	}

	slices.SortStableFunc(bridges, func(a, b bridgeVar) int { return a.index - b.index })
	for i := 0; i < len(bridges); {
		idx := bridges[i].index
		j := i
		for j < len(bridges) && bridges[j].index == idx {
			j++
		}
		group := bridges[i:j]
		i = j
		switch {
		case idx == len(cfg.Bridges):
			cfg.Bridges = append(cfg.Bridges, defaultBridge())
		case idx > len(cfg.Bridges):
			ps.add(fmt.Sprintf("bridges[%d]", idx), "set from %s but bridges[%d] does not exist", group[0].name, idx-1)
			continue
		}
		b := reflect.ValueOf(&cfg.Bridges[idx]).Elem()
		for _, bv := range group {
			setEnv(b.FieldByIndex(bv.field.index), fmt.Sprintf("bridges[%d].%s", idx, bv.field.path), bv.envVar, ps)
		}
	}
}

// parseBridgeVar recognises TEDEE2MQTT_BRIDGES_<i>_<KEY>, with i a decimal
// number without leading zeros and KEY a bridge setting.
func parseBridgeVar(ev envVar) (bridgeVar, bool) {
	rest, ok := strings.CutPrefix(ev.name, envBridgesPrefix)
	if !ok {
		return bridgeVar{}, false
	}
	num, key, ok := strings.Cut(rest, "_")
	if !ok {
		return bridgeVar{}, false
	}
	idx, err := strconv.Atoi(num)
	if err != nil || idx < 0 || strconv.Itoa(idx) != num {
		return bridgeVar{}, false
	}
	f, ok := bridgeEnv[key]
	if !ok {
		return bridgeVar{}, false
	}
	return bridgeVar{envVar: ev, index: idx, field: f}, true
}

// setEnv parses ev.value with the type of v and stores it.
func setEnv(v reflect.Value, path string, ev envVar, ps *problems) {
	if v.Kind() == reflect.Map {
		setEnvMap(v, path, ev, ps)
		return
	}
	if msg := setScalar(v, ev.value, ""); msg != "" {
		ps.add(path, "%s (from %s)", msg, ev.name)
	}
}

// setEnvMap replaces a map[string]string from "k1=v1,k2=v2" (cloud.devices).
// Blanks around entries are ignored; an empty value gives an empty map.
func setEnvMap(v reflect.Value, path string, ev envVar, ps *problems) {
	m := reflect.MakeMap(v.Type())
	seen := map[string]bool{}
	for item := range strings.SplitSeq(ev.value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, val, ok := strings.Cut(item, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			ps.add(path, "cannot use %q as id=serial (from %s)", item, ev.name)
			continue
		}
		if seen[k] {
			ps.add(joinMapKey(path, k), "duplicate key (from %s)", ev.name)
			continue
		}
		seen[k] = true
		m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), reflect.ValueOf(val).Convert(v.Type().Elem()))
	}
	v.Set(m)
}
