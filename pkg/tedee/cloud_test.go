package tedee

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecodeCloudFixtures(t *testing.T) {
	eventTime := time.Date(2022, 11, 9, 14, 15, 28, 327_000_000, time.UTC)
	sent := time.Date(2022, 11, 9, 14, 15, 30, 244_000_000, time.UTC)
	tests := map[string]func(t *testing.T, e CloudEvent){
		"lock-status-changed": func(t *testing.T, e CloudEvent) {
			if e.State == nil || e.State.Word() != "locked" || e.DoorState == nil || e.DoorState.Word() != "closed" || e.Jammed != nil {
				t.Errorf("state/door/jammed: %+v", e.Event)
			}
		},
		"device-battery-level-changed": func(t *testing.T, e CloudEvent) {
			if e.Battery == nil || *e.Battery != 80 {
				t.Errorf("battery: %v", e.Battery)
			}
		},
		"device-connection-changed": func(t *testing.T, e CloudEvent) {
			if e.Connected == nil || !*e.Connected {
				t.Errorf("connected: %v", e.Connected)
			}
		},
		"device-settings-changed": func(t *testing.T, e CloudEvent) {
			if e.Data["name"] != "Home" {
				t.Errorf("data: %v", e.Data)
			}
		},
		"bell-button-pressed": func(t *testing.T, e CloudEvent) {
			want := time.Date(2024, 12, 13, 7, 36, 36, 692_699_900, time.UTC)
			if !e.Timestamp.Equal(want) || !e.SentAt.Equal(time.Date(2024, 12, 13, 7, 36, 36, 904_941_700, time.UTC)) {
				t.Errorf("times: event %v sent %v", e.Timestamp, e.SentAt)
			}
		},
	}
	files, _ := filepath.Glob("testdata/cloud/*.json")
	if len(files) != len(tests) {
		t.Fatalf("%d cloud fixtures, %d expectations", len(files), len(tests))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			e, err := DecodeCloud([]byte(readFixture(t, filepath.Join("cloud", name+".json"))))
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != name || e.DeviceID != 12345 || !e.KnownCloud() {
				t.Errorf("name %q device %d", e.Name, e.DeviceID)
			}
			if name != "bell-button-pressed" && (!e.Timestamp.Equal(eventTime) || !e.SentAt.Equal(sent)) {
				t.Errorf("Timestamp must be eventTime %v (got %v), SentAt the envelope's %v (got %v)", eventTime, e.Timestamp, sent, e.SentAt)
			}
			tests[name](t, e)
		})
	}
}

func TestDecodeCloudRejects(t *testing.T) {
	const ok = `"timestamp":"2022-11-09T14:15:30.244Z","userIdentity":"u"`
	for body, want := range map[string]string{
		`[]`: "not a JSON object",
		`{"event":"lock-status-changed",` + ok + `}`:                                                                                      "data: missing",
		`{"event":"lock-status-changed",` + ok + `,"data":{"deviceId":1,"state":6}}`:                                                      "eventTime: missing",
		`{"event":"lock-status-changed",` + ok + `,"data":{"deviceId":1,"eventTime":"x","state":6}}`:                                      "eventTime: must be",
		`{"event":"lock-status-changed",` + ok + `,"data":{"eventTime":"2022-11-09T14:15:28Z","state":6}}`:                                "deviceId: missing",
		`{"event":"lock-status-changed",` + ok + `,"data":{"deviceId":-4,"eventTime":"2022-11-09T14:15:28Z"}}`:                            "deviceId: must be positive",
		`{"event":"lock-status-changed",` + ok + `,"data":{"deviceId":1,"eventTime":"2022-11-09T14:15:28Z"}}`:                             "state: missing",
		`{"event":"device-connection-changed",` + ok + `,"data":{"deviceId":1,"eventTime":"2022-11-09T14:15:28Z","isConnected":"maybe"}}`: "isConnected: must be 0 or 1",
		`{"id":5,"event":"bell-button-pressed",` + ok + `,"data":{"deviceId":1,"eventTime":"2022-11-09T14:15:28Z"}}`:                      "id: must be a string",
	} {
		if _, err := DecodeCloud([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeCloud(%s) = %v, want %q", body, err, want)
		}
	}
}

func FuzzDecodeCloud(f *testing.F) {
	files, _ := filepath.Glob("testdata/cloud/*.json")
	for _, file := range files {
		f.Add(readFixture(f, filepath.Join("cloud", filepath.Base(file))))
	}
	f.Fuzz(func(t *testing.T, body string) {
		ev, err := DecodeCloud([]byte(body))
		if err != nil {
			return
		}
		if ev.Name == "" || ev.Serial != "" {
			t.Fatalf("decoded %q to %+v", body, ev)
		}
		if ev.KnownCloud() && ev.DeviceID <= 0 {
			t.Fatalf("known cloud event without a device id from %q", body)
		}
	})
}
