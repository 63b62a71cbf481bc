package tedeecloud_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

func utc(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// checkRequest compares the one request the server saw with what the call should have sent.
func checkRequest(t *testing.T, srv *server, method, path, query string) {
	t.Helper()
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1: %+v", len(reqs), reqs)
	}
	r := reqs[0]
	if r.Method != method || r.Path != path || r.Query != query {
		t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, method, path, query)
	}
	if r.Auth != "PersonalKey "+key {
		t.Errorf("Authorization = %q, want the PersonalKey scheme and the key", r.Auth)
	}
}

func TestDevices(t *testing.T) {
	srv := newServer(t, file(t, "device-details.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, srv, "GET", "/api/v37/my/device/details", "IncludeAccessories=true")
	want := tedeecloud.Devices{
		Bridges: []tedeecloud.Bridge{{ID: 2, Serial: "111111-111112", Name: "Bridge 1", IsConnected: ptr(true), IsUpdating: ptr(false),
			SoftwareVersions: []tedeecloud.SoftwareVersion{{0, "1.0.1", true}, {1, "2.0.0", true}}}},
		Locks: []tedeecloud.Lock{{ID: 1, Serial: "111111-11111", Name: "Room 6", Type: 2, ConnectedToID: ptr(int64(2)),
			IsConnected: ptr(true), Revision: 2, DeviceRevision: 2, TargetDeviceRevision: 2,
			DeviceState: &tedeecloud.DeviceState{State: ptr(6), DoorState: ptr(3), IsCharging: ptr(false), BatteryLevel: ptr(18),
				StateChangeResult: ptr(0), LastStateChanged: utc("2021-04-26T06:02:04.197Z")},
			DeviceSettings: &tedeecloud.DeviceSettings{AutoLockEnabled: ptr(true), AutoLockDelay: ptr(10), ButtonLockEnabled: ptr(true),
				ButtonUnlockEnabled: ptr(true), PullSpringEnabled: ptr(true), PullSpringDuration: ptr(10), AutoPullSpringEnabled: ptr(true),
				PostponedLockEnabled: ptr(true), PostponedLockDelay: ptr(10)},
			SoftwareVersions: []tedeecloud.SoftwareVersion{{0, "1.0.0", true}}, Accessories: []tedeecloud.Accessory{},
			AccessLevel: ptr(2)}},
		Keypads: []tedeecloud.Keypad{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Devices() diff (-want +got):\n%s", diff)
	}
}

func TestDevicesAccessoriesAndUnpaired(t *testing.T) {
	srv := newServer(t, file(t, "device-details-accessories.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantLock := tedeecloud.Lock{ID: 9, Serial: "10000009-000009", Name: "Shed", Type: 4, Revision: 1, DeviceRevision: 1,
		TargetDeviceRevision: 1, SoftwareVersions: []tedeecloud.SoftwareVersion{},
		Accessories: []tedeecloud.Accessory{{ID: 31, DeviceType: tedeecloud.DeviceKeypad}}, AccessLevel: ptr(2)}
	if diff := cmp.Diff([]tedeecloud.Lock{wantLock}, got.Locks); diff != "" {
		t.Errorf("an unpaired lock: nulls must stay unknown (-want +got):\n%s", diff)
	}
	wantKeypads := []tedeecloud.Keypad{
		{ID: 31, Serial: "30000031-000031", Name: "Keypad", BatteryLevel: ptr(41), BatteryLevelModified: utc("2024-12-10T08:24:15.1234567Z")},
		{ID: 32, Serial: "30000032-000032", Name: "Keypad PRO", ConnectedToLockID: ptr(int64(9)), BatteryLevel: ptr(12),
			BatteryLevelModified: utc("2024-12-11T09:00:00Z")},
		{ID: 33, Serial: "30000033-000033", Name: "Old keypad"},
	}
	if diff := cmp.Diff(wantKeypads, got.Keypads); diff != "" {
		t.Errorf("keypads (-want +got):\n%s", diff)
	}
}

func TestLock(t *testing.T) {
	srv := newServer(t, file(t, "lock-single.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).Lock(context.Background(), 456)
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, srv, "GET", "/api/v37/my/lock/456", "IncludeAccessories=true")
	want := tedeecloud.Lock{ID: 456, Serial: "22121392-004852", Name: "Front door", Type: 4, ConnectedToID: ptr(int64(2)),
		IsConnected: ptr(true), Revision: 7, DeviceRevision: 6, TargetDeviceRevision: 7,
		DeviceState: &tedeecloud.DeviceState{State: ptr(2), DoorState: ptr(2), IsCharging: ptr(true), BatteryLevel: ptr(64),
			StateChangeResult: ptr(0), LastStateChanged: utc("2021-04-26T06:02:04.197Z")},
		DeviceSettings: &tedeecloud.DeviceSettings{AutoLockEnabled: ptr(false), AutoLockDelay: ptr(15), ButtonLockEnabled: ptr(true),
			ButtonUnlockEnabled: ptr(false), PullSpringEnabled: ptr(true), PullSpringDuration: ptr(3), AutoPullSpringEnabled: ptr(false),
			PostponedLockEnabled: ptr(true), PostponedLockDelay: ptr(5)},
		SoftwareVersions: []tedeecloud.SoftwareVersion{{1, "9.9.9", false}, {0, "2.4.11122", false}},
		Accessories:      []tedeecloud.Accessory{{123, tedeecloud.DeviceDoorSensor}, {77, tedeecloud.DeviceKeypadPro}},
		AccessLevel:      ptr(0), RemoteAccessDisabled: ptr(true)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lock() diff (-want +got):\n%s", diff)
	}
	installed, update, ok := tedeecloud.Firmware(got.SoftwareVersions)
	if installed != "2.4.11122" || update || !ok {
		t.Errorf("Firmware() = %q, %v, %v; want the softwareType 0 entry", installed, update, ok)
	}
	if _, _, ok := tedeecloud.Firmware([]tedeecloud.SoftwareVersion{{SoftwareType: 1, Version: "1"}}); ok {
		t.Error("Firmware() without a softwareType 0 entry: ok = true")
	}
}

// TestLockPropertiesBeforeV134: the state object's old name is read as well, and the 2022 body's
// zoneless time is UTC.
func TestLockPropertiesBeforeV134(t *testing.T) {
	srv := newServer(t, file(t, "lock-lockproperties.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).Lock(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := &tedeecloud.DeviceState{State: ptr(6), IsCharging: ptr(false), BatteryLevel: ptr(90),
		LastStateChanged: utc("2022-06-28T17:18:38.962Z")}
	if diff := cmp.Diff(want, got.DeviceState); diff != "" {
		t.Errorf("DeviceState from lockProperties (-want +got):\n%s", diff)
	}
	if got.RemoteAccessDisabled != nil {
		t.Errorf("RemoteAccessDisabled = %v with accessDetails null, want unknown", *got.RemoteAccessDisabled)
	}
}

func TestSyncLocks(t *testing.T) {
	for _, tc := range []struct {
		name, file, query string
		ids               []int64
		want              []tedeecloud.LockSync
	}{
		{"all", "lock-sync.json", "", nil, []tedeecloud.LockSync{{ID: 123, IsConnected: ptr(true), Revision: 1,
			DeviceState: &tedeecloud.DeviceState{State: ptr(6), DoorState: ptr(3), IsCharging: ptr(false), BatteryLevel: ptr(54),
				StateChangeResult: ptr(0), LastStateChanged: utc("2021-04-26T06:02:04.197Z")}}}},
		{"disconnected, two ids", "lock-sync-disconnected.json", "id=123&id=9", []int64{123, 9},
			[]tedeecloud.LockSync{{ID: 123, IsConnected: ptr(false), Revision: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, file(t, tc.file, http.StatusOK))
			got, err := newClient(t, srv.URL, 0, nil).SyncLocks(context.Background(), tc.ids...)
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, srv, "GET", "/api/v37/my/lock/sync", tc.query)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SyncLocks() diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncLock(t *testing.T) {
	srv := newServer(t, file(t, "lock-sync-single.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).SyncLock(context.Background(), 123)
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, srv, "GET", "/api/v37/my/lock/123/sync", "")
	want := tedeecloud.LockSync{ID: 123, IsConnected: ptr(true), Revision: 4,
		DeviceState: &tedeecloud.DeviceState{State: ptr(7), DoorState: ptr(2), IsCharging: ptr(false), BatteryLevel: ptr(54),
			StateChangeResult: ptr(0), LastStateChanged: utc("2021-04-26T06:02:04.197Z")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SyncLock() diff (-want +got):\n%s", diff)
	}
}

func TestActivity(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		elements   int
		query      string
		want       []tedeecloud.Activity
	}{
		{"documented sample: username", "device-activity.json", 3, "deviceId=2&elements=3", []tedeecloud.Activity{
			{ID: 3, DeviceID: 2, UserID: ptr(int64(3)), UserName: "Test", Event: 32, Date: *utc("2020-11-20T13:59:26.212Z")},
			{ID: 2, DeviceID: 2, UserID: ptr(int64(3)), UserName: "Test", Event: 33, Date: *utc("2020-11-20T13:00:45.554Z")},
			{ID: 1, DeviceID: 2, UserID: ptr(int64(3)), UserName: "Test", Event: 32, Date: *utc("2020-11-20T12:50:45.6Z")},
		}},
		{"userName, 7 digits, no user; elements 0 asks for 200", "device-activity-username.json", 0, "deviceId=456&elements=200", []tedeecloud.Activity{
			{ID: 12, DeviceID: 456, UserName: "Anna", Event: 61, Date: *utc("2022-03-23T15:35:26.0400127Z")},
			{ID: 11, DeviceID: 456, Event: 36, Date: *utc("2022-03-23T15:30:00Z")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, file(t, tc.file, http.StatusOK))
			deviceID := tc.want[0].DeviceID
			got, err := newClient(t, srv.URL, 0, nil).Activity(context.Background(), deviceID, tc.elements)
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, srv, "GET", "/api/v37/my/deviceactivity", tc.query)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Activity() diff (-want +got):\n%s", diff)
			}
			for _, a := range got {
				if a.Date.Location() != time.UTC {
					t.Errorf("activity %d: date in %v, want UTC", a.ID, a.Date.Location())
				}
			}
		})
	}
}

func TestActivityWithoutReadableDate(t *testing.T) {
	srv := newServer(t, answer(200, `{"result":[{"id":5,"deviceId":1,"event":32,"date":"yesterday"}],"success":true,"errorMessages":[],"statusCode":200}`))
	if _, err := newClient(t, srv.URL, 0, nil).Activity(context.Background(), 1, 1); err == nil {
		t.Error("an entry with an unreadable date was accepted")
	}
}

func TestDoorSensors(t *testing.T) {
	srv := newServer(t, file(t, "door-sensors.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).DoorSensors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, srv, "GET", "/api/v37/my/doorsensor", "")
	want := []tedeecloud.DoorSensor{{ID: 123, Serial: "12345-67890", Name: "Door sensor Test", ConnectedToLockID: ptr(int64(456)),
		BatteryLevel: ptr(74), BatteryLevelModified: utc("2024-12-10T08:24:15Z")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DoorSensors() diff (-want +got):\n%s", diff)
	}
}

// TestDoorSensorBatteryOlderThan30Days: Tedee leaves the battery out; it stays unknown.
func TestDoorSensorBatteryOlderThan30Days(t *testing.T) {
	srv := newServer(t, answer(200, `{"result":{"page":1,"itemsPerPage":10,"doorSensors":[{"id":1,"serialNumber":"s","deviceState":{},"isConnected":null}]},"success":true,"errorMessages":[],"statusCode":200}`))
	got, err := newClient(t, srv.URL, 0, nil).DoorSensors(context.Background())
	if err != nil || len(got) != 1 || got[0].BatteryLevel != nil || got[0].BatteryLevelModified != nil {
		t.Errorf("DoorSensors() = %+v, %v; want one sensor with an unknown battery", got, err)
	}
}
