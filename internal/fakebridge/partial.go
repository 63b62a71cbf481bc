package fakebridge

import (
	"encoding/json"
	"slices"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// Partial makes the bridge's answers as partial and sloppy as real ones can be (tedee-api.md §4):
// fields left out, flags spelled as JSON booleans, one lock that cannot be read. The zero value
// answers as documented.
type Partial struct {
	OmitLockFields   []string // left out of every GET /lock and GET /lock/{id} element, e.g. "batteryLevel"
	OmitBridgeFields []string // left out of GET /bridge, e.g. "isConnected"
	BooleanFlags     bool     // flags as true/false instead of 0/1
	MalformedLock    int64    // this lock's element cannot be read (its state is a word)
}

// SetPartial changes how the bridge answers from now on.
func (b *Bridge) SetPartial(p Partial) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = p
}

// flagFields are the fields written as flags: 0/1, or true/false with BooleanFlags.
var flagFields = []string{"isConnected", "jammed", "isCharging"}

// lock returns the element as the bridge would write it.
func (p Partial) lock(d tedeeapi.LockDetails) any {
	m := asMap(d)
	for _, f := range p.OmitLockFields {
		delete(m, f)
	}
	p.booleans(m)
	if p.MalformedLock != 0 && d.ID == p.MalformedLock {
		m["state"] = "locked"
	}
	return m
}

// bridge returns GET /bridge as the bridge would write it.
func (p Partial) bridge(d tedeeapi.BridgeDetails) any {
	m := asMap(d)
	for _, f := range p.OmitBridgeFields {
		delete(m, f)
	}
	p.booleans(m)
	return m
}

func (p Partial) booleans(m map[string]any) {
	if !p.BooleanFlags {
		return
	}
	for k, v := range m {
		if n, ok := v.(float64); ok && slices.Contains(flagFields, k) {
			m[k] = n == 1
		}
	}
}

// asMap turns an answer into its JSON object, to leave fields out or respell them.
func asMap(v any) map[string]any {
	data, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// DemoOptions is a bridge with a Lock PRO (locked, door sensor closed, pull spring on) and a Lock
// GO (unlocked), as the fake-bridge command and tedee2mqtt -demo serve it.
func DemoOptions(token, mode string, timeScale float64) Options {
	return Options{Token: token, TokenMode: mode, Name: "Bridge-DEMO", Serial: "10000001-000001", Firmware: "2.2.31232",
		TimeScale: timeScale, Locks: []Lock{
			{ID: 1, Name: "Front door", Type: 2, Serial: "20000001-000001", Firmware: "2.0.10724", State: 6,
				DoorState: 3, Battery: 90, Connected: true, PullSpringEnabled: true, PullSpringDuration: 3},
			{ID: 2, Name: "Back door", Type: 4, Serial: "20000002-000002", Firmware: "2.0.10724", State: 2,
				Battery: 55, Connected: true},
		}}
}
