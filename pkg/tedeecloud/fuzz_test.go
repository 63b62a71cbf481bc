package tedeecloud_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// FuzzDecode: no answer, however malformed, makes the decoding panic, and whatever decodes
// without error has the dates the client promises (UTC).
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var env struct{ Result json.RawMessage }
		if json.Unmarshal(b, &env) == nil && len(env.Result) > 0 {
			f.Add([]byte(env.Result))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var (
			lock     tedeecloud.Lock
			syncs    []tedeecloud.LockSync
			activity []tedeecloud.Activity
			devices  struct {
				Bridges []tedeecloud.Bridge
				Locks   []tedeecloud.Lock
				Keypads []tedeecloud.Keypad
			}
			sensors struct{ DoorSensors []tedeecloud.DoorSensor }
			started tedeecloud.Started
			status  tedeecloud.OperationStatus
			updated tedeecloud.Updated
		)
		for _, v := range []any{&lock, &syncs, &devices, &sensors, &started, &status, &updated} {
			json.Unmarshal(b, v)
		}
		if json.Unmarshal(b, &activity) == nil {
			for _, a := range activity {
				if a.Date.Location().String() != "UTC" {
					t.Errorf("activity %d: date %v not in UTC", a.ID, a.Date)
				}
			}
		}
		if lock.DeviceState != nil && lock.DeviceState.LastStateChanged != nil && lock.DeviceState.LastStateChanged.Location().String() != "UTC" {
			t.Errorf("lastStateChangedDate %v not in UTC", lock.DeviceState.LastStateChanged)
		}
	})
}
