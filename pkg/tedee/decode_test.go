package tedee

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// fixtureTime is the timestamp every documentation sample carries.
var fixtureTime = time.Date(2023, 7, 25, 14, 41, 48, 825_000_000, time.UTC)

func readFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\n")
}

// decodeFixture decodes a bridge fixture with the decoder its extension names.
func decodeFixture(t testing.TB, file string) (Event, error) {
	t.Helper()
	raw := readFixture(t, filepath.Join("bridge", file))
	switch filepath.Ext(file) {
	case ".json":
		return DecodeJSON([]byte(raw))
	case ".get":
		return DecodeQuery(strings.TrimPrefix(raw, "?"))
	case ".noparams":
		return DecodePath(raw)
	}
	t.Fatalf("unknown fixture format %s", file)
	return Event{}, nil
}

func TestDecodeBridgeFixtures(t *testing.T) {
	common := map[string]any{"deviceType": json.Number("2"), "deviceId": json.Number("33819"), "serialNumber": "19420103-000006"}
	withData := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range common {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	device := func(name string, e Event) Event {
		e.Name, e.Timestamp, e.Serial, e.DeviceID, e.DeviceType = name, fixtureTime, "19420103-000006", 33819, 2
		return e
	}
	want := map[string]Event{
		EventBackendConnectionChanged: {Name: EventBackendConnectionChanged, Timestamp: fixtureTime,
			Connected: ptr(true), Data: map[string]any{"isConnected": json.Number("1")}},
		EventDeviceConnectionChanged: device(EventDeviceConnectionChanged, Event{
			Connected: ptr(true), Data: withData(map[string]any{"isConnected": json.Number("1")})}),
		EventDeviceSettingsChanged: device(EventDeviceSettingsChanged, Event{Data: withData(nil)}),
		EventLockStatusChanged: device(EventLockStatusChanged, Event{
			State: ptr(LockState(6)), Jammed: ptr(false), DoorState: ptr(DoorState(2)),
			Data: withData(map[string]any{"state": json.Number("6"), "jammed": json.Number("0"), "doorState": json.Number("2")})}),
		EventBatteryLevelChanged: device(EventBatteryLevelChanged, Event{
			Battery: ptr(90), Data: withData(map[string]any{"batteryLevel": json.Number("90")})}),
		EventBatteryStartCharging: device(EventBatteryStartCharging, Event{Data: withData(nil)}),
		EventBatteryStopCharging:  device(EventBatteryStopCharging, Event{Data: withData(nil)}),
		EventBatteryFullyCharged:  device(EventBatteryFullyCharged, Event{Data: withData(nil)}),
	}
	files, err := filepath.Glob("testdata/bridge/*")
	if err != nil || len(files) != 24 {
		t.Fatalf("want 24 bridge fixtures (8 events x 3 formats), got %d (%v)", len(files), err)
	}
	for _, path := range files {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			name := strings.TrimSuffix(file, filepath.Ext(file))
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for event %q", name)
			}
			got, err := decodeFixture(t, file)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("decoded event (-want +got):\n%s", diff)
			}
			if !got.Known() {
				t.Errorf("Known() = false for %s", name)
			}
		})
	}
}

// TestDecodeEdgeCases covers what real bridges do that the documentation does not say
// (tedee-api.md §4), and the input that must be refused.
func TestDecodeEdgeCases(t *testing.T) {
	const head = `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"S-1"`
	tests := []struct {
		name    string
		body    string
		check   func(t *testing.T, e Event)
		wantErr string
	}{
		{name: "trailing NUL from old firmware", body: head + `,"state":6,"jammed":0}}` + "\x00",
			check: func(t *testing.T, e Event) { mustState(t, e, "locked") }},
		{name: "undocumented source and user_id kept", body: head + `,"state":4,"jammed":0,"source":18,"user_id":0,"doorState":0}}`,
			check: func(t *testing.T, e Event) {
				mustState(t, e, "unlocking")
				if e.Data["source"] != json.Number("18") || e.Data["user_id"] != json.Number("0") {
					t.Errorf("unknown fields lost: %v", e.Data)
				}
			}},
		{name: "missing doorState is not reported", body: head + `,"state":6,"jammed":0}}`,
			check: func(t *testing.T, e Event) {
				if e.DoorState != nil {
					t.Errorf("DoorState = %v, want nil", *e.DoorState)
				}
			}},
		{name: "missing jammed is not reported", body: head + `,"state":2}}`,
			check: func(t *testing.T, e Event) {
				if e.Jammed != nil {
					t.Errorf("Jammed = %v, want nil", *e.Jammed)
				}
			}},
		{name: "unknown state value", body: head + `,"state":999,"jammed":0,"doorState":999}}`,
			check: func(t *testing.T, e Event) {
				mustState(t, e, "unknown")
				if e.DoorState.Word() != "" {
					t.Errorf("door word = %q, want empty for unknown value", e.DoorState.Word())
				}
			}},
		{name: "state 18 updating", body: head + `,"state":18,"jammed":0}}`,
			check: func(t *testing.T, e Event) { mustState(t, e, "updating") }},
		{name: "state 255 unpulling", body: head + `,"state":255,"jammed":0}}`,
			check: func(t *testing.T, e Event) { mustState(t, e, "unpulling") }},
		{name: "jammed", body: head + `,"state":3,"jammed":1}}`,
			check: func(t *testing.T, e Event) {
				if e.Jammed == nil || !*e.Jammed {
					t.Errorf("Jammed = %v, want true", e.Jammed)
				}
			}},
		{name: "battery 255 is kept raw", body: `{"event":"device-battery-level-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"deviceType":4,"deviceId":1,"serialNumber":"S-1","batteryLevel":255}}`,
			check: func(t *testing.T, e Event) {
				if e.Battery == nil || *e.Battery != 255 || BatteryKnown(*e.Battery) {
					t.Errorf("Battery = %v, want raw 255 and not known", e.Battery)
				}
			}},
		{name: "unknown event is decoded but not known", body: `{"event":"keypad-pressed","timestamp":"2023-07-25T14:41:48.825Z","data":{"x":1}}`,
			check: func(t *testing.T, e Event) {
				if e.Known() || e.Name != "keypad-pressed" {
					t.Errorf("got %+v", e)
				}
			}},
		{name: "unknown device type", body: head[:len(head)-len(`"deviceType":2,"deviceId":1,"serialNumber":"S-1"`)] + `"deviceType":10,"deviceId":1,"serialNumber":"S-1","state":6}}`,
			check: func(t *testing.T, e Event) {
				if got := Model(e.DeviceType); got != "type_10" {
					t.Errorf("Model = %q, want type_10", got)
				}
			}},
		{name: "cloud style boolean isConnected", body: `{"event":"device-connection-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"deviceId":1,"serialNumber":"S-1","isConnected":false}}`,
			check: func(t *testing.T, e Event) {
				if e.Connected == nil || *e.Connected {
					t.Errorf("Connected = %v, want false", e.Connected)
				}
			}},

		{name: "not JSON", body: `event=lock-status-changed`, wantErr: "body is not a JSON object"},
		{name: "JSON array", body: `[1,2]`, wantErr: "body is not a JSON object"},
		{name: "JSON null", body: `null`, wantErr: "body is not a JSON object"},
		{name: "trailing garbage", body: head + `,"state":6}}{}`, wantErr: "body is not a JSON object"},
		{name: "missing event", body: `{"timestamp":"2023-07-25T14:41:48.825Z","data":{}}`, wantErr: "event: missing"},
		{name: "event not a string", body: `{"event":5,"timestamp":"2023-07-25T14:41:48.825Z"}`, wantErr: "event: must be a string"},
		{name: "missing timestamp", body: `{"event":"lock-status-changed","data":{}}`, wantErr: "timestamp: missing"},
		{name: "bad timestamp", body: `{"event":"lock-status-changed","timestamp":"yesterday","data":{}}`, wantErr: `timestamp: must be an RFC 3339 date-time (got "yesterday")`},
		{name: "data not an object", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":[1]}`, wantErr: "data: must be a JSON object"},
		{name: "missing serial", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"state":6}}`, wantErr: "serialNumber: missing"},
		{name: "serial with slash", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"a/b","state":6}}`, wantErr: `serialNumber: must be 1-64 characters of A-Z a-z 0-9 _ - (got "a/b")`},
		{name: "serial wildcard", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"#","state":6}}`, wantErr: `serialNumber: must be 1-64 characters`},
		{name: "serial plus", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"+","state":6}}`, wantErr: `serialNumber: must be 1-64 characters`},
		{name: "serial empty", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"","state":6}}`, wantErr: `serialNumber: must be 1-64 characters`},
		{name: "serial NUL", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"a\u0000b","state":6}}`, wantErr: `serialNumber: must be 1-64 characters`},
		{name: "serial too long", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"` + strings.Repeat("a", 65) + `","state":6}}`, wantErr: `serialNumber: must be 1-64 characters`},
		{name: "serial number type", body: `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":12,"state":6}}`, wantErr: "serialNumber: must be a string"},
		{name: "state missing", body: head + `}}`, wantErr: "state: missing"},
		{name: "state wrong type", body: head + `,"state":"six"}}`, wantErr: `state: must be an integer (got "six")`},
		{name: "state fraction", body: head + `,"state":6.5}}`, wantErr: `state: must be an integer (got "6.5")`},
		{name: "state huge", body: head + `,"state":99999999999999999999999}}`, wantErr: "state: must be an integer"},
		{name: "state object", body: head + `,"state":{}}}`, wantErr: "state: must be an integer"},
		{name: "jammed not 0/1", body: head + `,"state":6,"jammed":2}}`, wantErr: "jammed: must be 0 or 1"},
		{name: "battery missing", body: `{"event":"device-battery-level-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"serialNumber":"S-1"}}`, wantErr: "batteryLevel: missing"},
		{name: "isConnected missing", body: `{"event":"backend-connection-changed","timestamp":"2023-07-25T14:41:48.825Z"}`, wantErr: "isConnected: missing"},
		{name: "event name too long", body: `{"event":"` + strings.Repeat("e", 65) + `","timestamp":"2023-07-25T14:41:48.825Z"}`, wantErr: "event: longer than 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeJSON([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeJSON(%q) error = %v, want %q", tt.body, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeJSON(%q): %v", tt.body, err)
			}
			tt.check(t, got)
		})
	}
}

func mustState(t *testing.T, e Event, want string) {
	t.Helper()
	if e.State == nil || e.State.Word() != want {
		t.Errorf("state = %v, want %s", e.State, want)
	}
}

func TestDecodeGETFormats(t *testing.T) {
	tests := []struct {
		name, query, path, wantErr string
	}{
		{name: "percent-encoded timestamp",
			query: "event=device-connection-changed&timestamp=2023-07-25T14%3A41%3A48.825Z&serialNumber=S-1&isConnected=0",
			path:  "/event=device-connection-changed/timestamp=2023-07-25T14%3A41%3A48.825Z/serialNumber=S-1/isConnected=0"},
		{name: "repeated key", query: "event=a&event=b&timestamp=2023-07-25T14:41:48.825Z", path: "/event=a/event=b/timestamp=2023-07-25T14:41:48.825Z", wantErr: "event: given"},
		{name: "missing event", query: "timestamp=2023-07-25T14:41:48.825Z", path: "/timestamp=2023-07-25T14:41:48.825Z", wantErr: "event: missing"},
		{name: "bad escape", query: "event=%zz&timestamp=x", path: "/event=%zz/timestamp=x", wantErr: "invalid URL escape"},
		{name: "serial injection", query: "event=lock-status-changed&timestamp=2023-07-25T14:41:48.825Z&serialNumber=a%2Fb&state=6",
			path: "/event=lock-status-changed/timestamp=2023-07-25T14:41:48.825Z/serialNumber=a%2Fb/state=6", wantErr: `serialNumber: must be 1-64 characters`},
		{name: "too many parameters", query: strings.Repeat("a=1&", 10000) + "event=x", path: strings.Repeat("/a=1", 10000), wantErr: "too many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, qerr := DecodeQuery(tt.query)
			p, perr := DecodePath(tt.path)
			for format, err := range map[string]error{"query": qerr, "path": perr} {
				if tt.wantErr == "" && err != nil {
					t.Errorf("%s: %v", format, err)
				}
				if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Errorf("%s: error = %v, want %q", format, err, tt.wantErr)
				}
			}
			if tt.wantErr == "" {
				if diff := cmp.Diff(q, p); diff != "" {
					t.Errorf("query and path decode differently (-query +path):\n%s", diff)
				}
				if q.Connected == nil || *q.Connected {
					t.Errorf("Connected = %v, want false", q.Connected)
				}
			}
		})
	}
	if _, err := DecodePath("/event=x/novalue"); err == nil || !strings.Contains(err.Error(), `path segment "novalue": must be key=value`) {
		t.Errorf("segment without '=': error = %v", err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2023-07-25T14:41:48.825Z", fixtureTime},
		{"2024-12-13T07:36:36.9049417+00:00", time.Date(2024, 12, 13, 7, 36, 36, 904941700, time.UTC)},
		// The cloud's bell-button-pressed eventTime has no zone; it is read as UTC.
		{"2024-12-13T07:36:36.6926999", time.Date(2024, 12, 13, 7, 36, 36, 692699900, time.UTC)},
		{"2023-07-25T16:41:48.825+02:00", fixtureTime},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestStateWords(t *testing.T) {
	for v, want := range map[int]string{0: "uncalibrated", 1: "calibrating", 2: "unlocked", 3: "semi_locked",
		4: "unlocking", 5: "locking", 6: "locked", 7: "pulled", 8: "pulling", 9: "unknown", 18: "updating",
		255: "unpulling", 10: "unknown", -1: "unknown", 17: "unknown"} {
		if got := LockState(v).Word(); got != want {
			t.Errorf("LockState(%d).Word() = %q, want %q", v, got, want)
		}
	}
}

func TestBridgeIsNoSerial(t *testing.T) {
	if ValidSerial("bridge") || !ValidSerial("bridge2") {
		t.Error(`"bridge" is the operator API's topic segment, and only it`)
	}
}
