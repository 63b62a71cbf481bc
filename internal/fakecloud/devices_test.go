package fakecloud

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestShapesMatchTheDocumentedExamples(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	battery := 74
	sensor := Lock{ID: 456, Serial: "S2", BridgeID: 2, Connected: true, State: 6,
		Accessories: []Accessory{{ID: 123, Serial: "12345-67890", Name: "Door sensor Test", Type: typeDoorSensor, Battery: &battery}}}

	checkShape(t, "device-details.json", s.get("/my/device/details?IncludeAccessories=true&IncludeUserSettings=true"))
	checkShape(t, "lock-sync.json", s.get("/my/lock/sync"))
	s.cloud.Update("111111-11111", func(l *Lock) { l.Connected = false })
	checkShape(t, "lock-sync-disconnected.json", s.get("/my/lock/sync"))
	s.cloud.AddLock(sensor)
	checkShape(t, "doorsensors.json", s.get("/my/doorsensor?includeUserSettings=true"))
}

func TestLockModel(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	clk.Advance(time.Minute)
	s.cloud.Update("111111-11111", func(l *Lock) { l.State = 2; l.Charging = true; l.Jammed = true })

	var got map[string]any
	s.get("/my/lock/1").wantStatus(t, http.StatusOK).result(t, &got)
	want := map[string]any{
		"id": 1.0, "serialNumber": "111111-11111", "name": "Room 6", "type": 2.0, "connectedToId": 2.0, "isConnected": true,
		"revision": 1.0, "deviceRevision": 1.0, "targetDeviceRevision": 1.0, "accessLevel": 2.0,
		"created": "2026-03-10T09:30:00",
		"deviceState": map[string]any{"state": 2.0, "doorState": 3.0, "isCharging": true, "batteryLevel": 18.0,
			"stateChangeResult": 1.0, "lastStateChangedDate": "2026-03-10T09:31:00.000Z"},
		"softwareVersions": []any{map[string]any{"softwareType": 0.0, "version": "1.0.0", "updateAvailable": true}},
		"deviceSettings": map[string]any{"autoLockEnabled": true, "autoLockDelay": 10.0, "pullSpringEnabled": true,
			"pullSpringDuration": 10.0, "autoPullSpringEnabled": false, "postponedLockEnabled": false, "postponedLockDelay": 10.0,
			"buttonLockEnabled": true, "buttonUnlockEnabled": true},
	}
	for k, w := range want {
		g := got[k]
		if wm, isMap := w.(map[string]any); isMap {
			gm, _ := g.(map[string]any)
			for k2, w2 := range wm {
				if diff := cmp.Diff(w2, gm[k2]); diff != "" {
					t.Errorf("%s.%s (-want +got):\n%s", k, k2, diff)
				}
			}
			continue
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	if _, has := got["accessories"]; has {
		t.Error("accessories without IncludeAccessories")
	}
	if _, has := got["userSettings"]; has {
		t.Error("userSettings without IncludeUserSettings")
	}
}

func TestSettingsFieldByField(t *testing.T) {
	// Each Settings field turns up in its own deviceSettings field, and nowhere else.
	for _, tc := range []struct {
		field string
		set   func(*Settings)
		want  any
	}{
		{"autoLockEnabled", func(s *Settings) { s.AutoLock = true }, true},
		{"autoLockDelay", func(s *Settings) { s.AutoLockDelay = 17 }, 17.0},
		{"buttonLockEnabled", func(s *Settings) { s.ButtonLock = true }, true},
		{"buttonUnlockEnabled", func(s *Settings) { s.ButtonUnlock = true }, true},
		{"pullSpringEnabled", func(s *Settings) { s.PullSpring = true }, true},
		{"pullSpringDuration", func(s *Settings) { s.PullSpringDuration = 17 }, 17.0},
		{"autoPullSpringEnabled", func(s *Settings) { s.AutoPull = true }, true},
		{"postponedLockEnabled", func(s *Settings) { s.PostponedLock = true }, true},
		{"postponedLockDelay", func(s *Settings) { s.PostponedLockDelay = 17 }, 17.0},
	} {
		s := newServer(t, Options{})
		l := Lock{ID: 1, Serial: "L1"}
		tc.set(&l.Settings)
		s.withLocks(l)
		var got struct {
			DeviceSettings map[string]any `json:"deviceSettings"`
		}
		s.get("/my/lock/1").result(t, &got)
		for k, v := range got.DeviceSettings {
			switch {
			case k == tc.field && v != tc.want:
				t.Errorf("%s = %v, want %v", k, v, tc.want)
			case k != tc.field && (v == true || v == 17.0):
				t.Errorf("setting %s changed %s to %v", tc.field, k, v)
			}
		}
	}
}

func TestIncludes(t *testing.T) {
	battery := 50
	l := proLock()
	l.Accessories = []Accessory{{ID: 7, Serial: "K1", Name: "Keypad", Type: typeKeypad, Battery: &battery},
		{ID: 8, Serial: "D1", Name: "Sensor", Type: typeDoorSensor}}
	s := newServer(t, Options{}).withLocks(l)
	type lockPart struct {
		Accessories  *[]accessoryJSON `json:"accessories"`
		UserSettings *map[string]any  `json:"userSettings"`
	}
	for _, tc := range []struct {
		query              string
		accessories, users bool
	}{
		{"", false, false},
		{"?IncludeAccessories=true", true, false},
		{"?includeaccessories=True&INCLUDEUSERSETTINGS=true", true, true},
		{"?IncludeAccessories=false&IncludeUserSettings=true", false, true},
	} {
		var details struct{ Locks []lockPart }
		s.get("/my/device/details"+tc.query).wantStatus(t, http.StatusOK).result(t, &details)
		var one lockPart
		s.get("/my/lock/1"+tc.query).wantStatus(t, http.StatusOK).result(t, &one)
		for _, got := range []lockPart{details.Locks[0], one} {
			if (got.Accessories != nil) != tc.accessories || (got.UserSettings != nil) != tc.users {
				t.Errorf("%q: accessories %v, userSettings %v", tc.query, got.Accessories != nil, got.UserSettings != nil)
			}
			if got.Accessories != nil {
				want := []accessoryJSON{{ID: 7, DeviceType: 3}, {ID: 8, DeviceType: 8}}
				if diff := cmp.Diff(want, *got.Accessories); diff != "" {
					t.Errorf("accessories (-want +got):\n%s", diff)
				}
			}
		}
	}
	s.get("/my/device/details?IncludeAccessories=maybe").wantStatus(t, http.StatusBadRequest)
}

func TestUnreachableLocks(t *testing.T) {
	unpaired := Lock{ID: 5, Serial: "U", Connected: true, State: 6}
	disconnected := Lock{ID: 6, Serial: "D", BridgeID: 2, State: 6}
	offlineBridge := Lock{ID: 7, Serial: "O", BridgeID: 3, Connected: true, State: 6}
	s := newServer(t, Options{}).withLocks(unpaired, disconnected, offlineBridge)
	s.cloud.AddBridge(Bridge{ID: 3, Serial: "B3", Connected: false})
	type model struct {
		IsConnected   *bool            `json:"isConnected"`
		ConnectedToID *int64           `json:"connectedToId"`
		BeaconMajor   *int             `json:"beaconMajor"`
		DeviceState   *deviceStateJSON `json:"deviceState"`
	}
	for _, tc := range []struct {
		id                  string
		isConnected, paired bool
	}{{"5", false, false}, {"6", false, true}, {"7", false, true}} {
		var m, sync model
		s.get("/my/lock/"+tc.id).result(t, &m)
		s.get("/my/lock/"+tc.id+"/sync").result(t, &sync)
		for _, got := range []model{m, sync} {
			if got.DeviceState != nil {
				t.Errorf("lock %s: deviceState %+v, want null", tc.id, got.DeviceState)
			}
			if (got.IsConnected != nil) != tc.paired || (got.IsConnected != nil && *got.IsConnected) {
				t.Errorf("lock %s: isConnected %v, want null when unpaired, else false", tc.id, got.IsConnected)
			}
		}
		if (m.ConnectedToID != nil) != tc.paired || (m.BeaconMajor != nil) != tc.paired {
			t.Errorf("lock %s: connectedToId %v, beaconMajor %v; paired %v", tc.id, m.ConnectedToID, m.BeaconMajor, tc.paired)
		}
	}
}

func TestSync(t *testing.T) {
	a, b, c := proLock(), proLock(), proLock()
	b.ID, b.Serial, b.State = 3, "B", 2
	c.ID, c.Serial = 4, "C"
	s := newServer(t, Options{}).withLocks(a, b, c)
	ids := func(path string) []int64 {
		var out []syncJSON
		s.get(path).wantStatus(t, http.StatusOK).result(t, &out)
		var got []int64
		for _, x := range out {
			got = append(got, x.ID)
		}
		return got
	}
	for path, want := range map[string][]int64{
		"/my/lock/sync":                   {1, 3, 4},
		"/my/lock/sync?id=4&id=1":         {1, 4},
		"/my/lock/sync?ID=3":              {3},
		"/my/lock/sync?id=3&Id=99":        {3},
		"/my/lock/sync?id=99":             nil,
		"/my/lock/sync?IncludeFoo=1&id=1": {1},
	} {
		if diff := cmp.Diff(want, ids(path)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
	s.get("/my/lock/sync?id=x").wantStatus(t, http.StatusBadRequest)
	var one syncJSON
	s.get("/my/lock/3/sync").wantStatus(t, http.StatusOK).result(t, &one)
	if one.ID != 3 || one.DeviceState == nil || one.DeviceState.State != 2 || one.Revision != 1 || one.IsConnected == nil || !*one.IsConnected {
		t.Errorf("sync of lock 3: %+v", one)
	}
	s.get("/my/lock/99/sync").wantStatus(t, http.StatusNotFound)
}

func TestLockListPaging(t *testing.T) {
	a, b, c := proLock(), proLock(), proLock()
	b.ID, b.Serial = 3, "B"
	c.ID, c.Serial = 4, "C"
	s := newServer(t, Options{}).withLocks(a, b, c)
	for path, want := range map[string][]int64{
		"/my/lock":                         {1, 3, 4},
		"/my/lock?Page=1&ItemsPerPage=2":   {1, 3},
		"/my/lock?page=2&itemsPerPage=2":   {4},
		"/my/lock?Page=3&ItemsPerPage=2":   nil,
		"/my/lock?Filters.UpdateAvailable": {1, 3, 4}, // filters are ignored
	} {
		var out []lockJSON
		s.get(path).wantStatus(t, http.StatusOK).result(t, &out)
		var got []int64
		for _, l := range out {
			got = append(got, l.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
	s.get("/my/lock?Page=0").wantStatus(t, http.StatusBadRequest)
}

func TestAccessoryBatteries(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now})
	sensorBattery, keypadBattery := 74, 40
	l := proLock()
	l.Accessories = []Accessory{
		{ID: 20, Serial: "DS", Name: "Sensor", Type: typeDoorSensor, Battery: &sensorBattery},
		{ID: 21, Serial: "KP", Name: "Keypad", Type: typeKeypadPro, Battery: &keypadBattery, BatteryAt: start0().Add(-29 * 24 * time.Hour)},
		{ID: 22, Serial: "K0", Name: "Old keypad", Type: typeKeypad}, // never reported
	}
	s.withLocks(l)
	sensors := func() []accessoryDeviceJSON {
		var out struct {
			Page, ItemsPerPage int
			DoorSensors        []accessoryDeviceJSON
		}
		s.get("/my/doorsensor").wantStatus(t, http.StatusOK).result(t, &out)
		if out.Page != 1 || out.ItemsPerPage != 2147483647 {
			t.Errorf("page %d, itemsPerPage %d", out.Page, out.ItemsPerPage)
		}
		return out.DoorSensors
	}
	keypads := func() []accessoryDeviceJSON {
		var out []accessoryDeviceJSON
		s.get("/my/keypad").wantStatus(t, http.StatusOK).result(t, &out)
		return out
	}
	ds := sensors()
	if len(ds) != 1 || ds[0].ID != 20 || ds[0].ConnectedToLockID != 1 || ds[0].DeviceState.BatteryLevel == nil ||
		*ds[0].DeviceState.BatteryLevel != 74 || ds[0].DeviceState.BatteryLevelModifiedTime != "2026-03-10T09:30:00" {
		t.Errorf("door sensors %+v", ds)
	}
	kp := keypads()
	if len(kp) != 2 || kp[0].ID != 21 || kp[0].Type != 10 || kp[0].DeviceState.BatteryLevel == nil || *kp[0].DeviceState.BatteryLevel != 40 ||
		kp[0].DeviceState.BatteryLevelModifiedDateTime != "2026-02-09T09:30:00" || kp[1].DeviceState.BatteryLevel != nil {
		t.Errorf("keypads %+v", kp)
	}
	// A day later the keypad's level is older than 30 days, and is no longer shown.
	clk.Advance(24*time.Hour + time.Second)
	if kp := keypads(); kp[0].DeviceState.BatteryLevel != nil || kp[0].DeviceState.BatteryLevelModifiedDateTime != "" {
		t.Errorf("a 30-day-old battery level is shown: %+v", kp[0].DeviceState)
	}
	if ds := sensors(); ds[0].DeviceState.BatteryLevel == nil {
		t.Error("a day-old battery level is hidden")
	}
	// A new report shows it again, with its time.
	s.cloud.Update(l.Serial, func(l *Lock) { *l.Accessories[1].Battery = 35 })
	if kp := keypads(); kp[0].DeviceState.BatteryLevel == nil || *kp[0].DeviceState.BatteryLevel != 35 ||
		kp[0].DeviceState.BatteryLevelModifiedDateTime != "2026-03-11T09:30:01" {
		t.Errorf("after a new report: %+v", kp[0].DeviceState)
	}
	if *l.Accessories[1].Battery != 40 {
		t.Error("the fake shares the caller's battery")
	}
	// One at a time, and only of its kind.
	var one accessoryDeviceJSON
	s.get("/my/doorsensor/20").wantStatus(t, http.StatusOK).result(t, &one)
	if one.Serial() != "DS" {
		t.Errorf("door sensor 20: %+v", one)
	}
	s.get("/my/keypad/22").wantStatus(t, http.StatusOK)
	s.get("/my/keypad/20").wantStatus(t, http.StatusNotFound)
	s.get("/my/doorsensor/21").wantStatus(t, http.StatusNotFound)
	// Details list the keypads, not the door sensors.
	var details struct {
		Keypads []accessoryDeviceJSON
		Gates   []any
	}
	s.get("/my/device/details").result(t, &details)
	if len(details.Keypads) != 2 || details.Gates == nil {
		t.Errorf("details: %+v", details)
	}
}

func (a accessoryDeviceJSON) Serial() string { return a.SerialNumber }

func TestBridges(t *testing.T) {
	s := newServer(t, Options{}).withLocks()
	s.cloud.AddBridge(Bridge{ID: 9, Serial: "B9", Name: "Garage", Firmware: "2.2.1"})
	var list []bridgeJSON
	s.get("/my/bridge").wantStatus(t, http.StatusOK).result(t, &list)
	want := []bridgeJSON{
		{ID: 2, SerialNumber: "111111-111112", Name: "Bridge 1", IsConnected: true,
			SoftwareVersions: []softwareVersionJSON{{0, "1.0.1", true}, {1, wifiVersion, false}}},
		{ID: 9, SerialNumber: "B9", Name: "Garage", IsConnected: false,
			SoftwareVersions: []softwareVersionJSON{{0, "2.2.1", false}, {1, wifiVersion, false}}},
	}
	type brief struct {
		ID          int64
		Serial      string
		Name        string
		IsConnected bool
		Software    []softwareVersionJSON
	}
	toBrief := func(bs []bridgeJSON) []brief {
		var out []brief
		for _, b := range bs {
			out = append(out, brief{b.ID, b.SerialNumber, b.Name, b.IsConnected, b.SoftwareVersions})
		}
		return out
	}
	if diff := cmp.Diff(toBrief(want), toBrief(list)); diff != "" {
		t.Errorf("bridges (-want +got):\n%s", diff)
	}
	var one bridgeJSON
	s.get("/my/bridge/9").wantStatus(t, http.StatusOK).result(t, &one)
	if one.Name != "Garage" || one.Type != 1 {
		t.Errorf("bridge 9: %+v", one)
	}
	s.get("/my/bridge/1").wantStatus(t, http.StatusNotFound)
	// Replacing by serial number keeps one bridge.
	s.cloud.AddBridge(Bridge{ID: 9, Serial: "B9", Name: "Shed"})
	s.get("/my/bridge").result(t, &list)
	if len(list) != 2 || list[1].Name != "Shed" {
		t.Errorf("after replacing: %+v", list)
	}
}

func TestDeviceList(t *testing.T) {
	battery := 1
	l := proLock()
	l.Accessories = []Accessory{{Serial: "KP", Type: typeKeypad, Battery: &battery}}
	s := newServer(t, Options{}).withLocks(l)
	var list []deviceJSON
	s.get("/my/device").wantStatus(t, http.StatusOK).result(t, &list)
	var serials []string
	for _, d := range list {
		serials = append(serials, d.SerialNumber)
		if d.ID == 0 {
			t.Errorf("device %s without an id", d.SerialNumber)
		}
	}
	if got := strings.Join(serials, ","); got != "111111-111112,111111-11111,KP" {
		t.Errorf("devices %s", got)
	}
	// The accessory got a fresh id, above the others.
	if got := s.cloud.Lock(l.Serial).Accessories[0].ID; got <= 2 {
		t.Errorf("accessory id %d", got)
	}
}

func TestLockCopiesAndUnknownSerials(t *testing.T) {
	s := newServer(t, Options{}).withLocks(proLock())
	got := s.cloud.Lock("111111-11111")
	got.Name = "changed"
	if s.cloud.Lock("111111-11111").Name != "Room 6" {
		t.Error("Lock returned the fake's own lock")
	}
	if l := s.cloud.Lock("nope"); l.ID != 0 {
		t.Errorf("unknown serial: %+v", l)
	}
	s.cloud.Update("nope", func(l *Lock) { t.Error("Update called change for an unknown serial") })
	// Update keeps the cloud's id.
	s.cloud.Update("111111-11111", func(l *Lock) { l.ID = 77 })
	if s.cloud.Lock("111111-11111").ID != 1 {
		t.Error("Update changed the id")
	}
}
