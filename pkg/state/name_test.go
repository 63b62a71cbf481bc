package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// cloudSettings is the Tedee Cloud's device-settings-changed for lock 7 (L-1), as the receiver
// hands it to the store: the serial looked up from the device id.
func cloudSettings(t *testing.T, eventTime time.Time, name any) tedee.Event {
	t.Helper()
	n, _ := json.Marshal(name)
	body := fmt.Sprintf(`{"event":"device-settings-changed","timestamp":%q,"userIdentity":"u","data":{"deviceId":7,"deviceType":2,"eventTime":%q,"name":%s,"revision":12}}`,
		eventTime.Format(time.RFC3339Nano), eventTime.Format(time.RFC3339Nano), n)
	ce, err := tedee.DecodeCloud([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	ev := ce.Event
	ev.Serial = "L-1"
	return ev
}

// deviceNameIn returns the device name of the lock entity's discovery config among msgs.
func deviceNameIn(t *testing.T, msgs []Message) (string, bool) {
	t.Helper()
	for _, m := range msgs {
		if m.Topic != "homeassistant/lock/tedee_L-1_lock/config" {
			continue
		}
		var c struct {
			Device struct {
				Name string `json:"name"`
			} `json:"device"`
		}
		if err := json.Unmarshal(m.Payload, &c); err != nil {
			t.Fatal(err)
		}
		return c.Device.Name, true
	}
	return "", false
}

// TestCloudNameNamesTheDevice: the name in the cloud's device-settings-changed becomes the Home
// Assistant device name and the json's name, newest event wins, and junk is ignored.
func TestCloudNameNamesTheDevice(t *testing.T) {
	s := New("tedee", discOpts)
	mustApply(t, s, status(t0, 6, ``))
	apply := func(ev tedee.Event) []Message {
		t.Helper()
		msgs, err := s.Apply("", ev, now)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		return msgs
	}

	msgs := apply(cloudSettings(t, t0.Add(time.Minute), "Front door"))
	if name, ok := deviceNameIn(t, msgs); !ok || name != "Front door" {
		t.Errorf("device name after the cloud named it: %q (config published: %v)", name, ok)
	}
	if j := byTopic(msgs)["tedee/L-1/json"]; !strings.Contains(j, `"name":"Front door"`) {
		t.Errorf("json lacks the name: %s", j)
	}
	discovery(t, msgs) // every config still passes Home Assistant's rules

	// An older settings event (a late retry) does not roll the name back.
	if name, ok := deviceNameIn(t, apply(cloudSettings(t, t0, "Old name"))); ok {
		t.Errorf("an older name was published: %q", name)
	}
	for _, junk := range []any{"", "   ", "bell\x07", strings.Repeat("x", maxNameBytes+1), 42, nil} {
		if name, ok := deviceNameIn(t, apply(cloudSettings(t, t0.Add(2*time.Minute), junk))); ok {
			t.Errorf("name %q published for %#v", name, junk)
		}
	}
	msgs = apply(cloudSettings(t, t0.Add(3*time.Minute), "  Back door "))
	if name, _ := deviceNameIn(t, msgs); name != "Back door" {
		t.Errorf("newer name: device name %q, want %q", name, "Back door")
	}
	if name, _ := deviceNameIn(t, apply(cloudSettings(t, t0.Add(4*time.Minute), "Haustür\u00a01 🚪"))); name != "Haustür\u00a01 🚪" {
		t.Errorf("a name with a no-break space and an emoji: device name %q", name)
	}
	apply(cloudSettings(t, t0.Add(5*time.Minute), "Back door"))

	// The name survives a restart: the next process reads it back from the json snapshot.
	restored := New("tedee", discOpts)
	if err := restored.Restore("tedee/L-1/json", snapshotOf(t, s, "L-1"), now); err != nil {
		t.Fatal(err)
	}
	if name, _ := deviceNameIn(t, restored.Republish()); name != "Back door" {
		t.Errorf("after restore: device name %q, want %q", name, "Back door")
	}
}

// TestSnapshotWithoutNameKeepsName: a Bridge API lock without a name does not erase the one known.
func TestSnapshotWithoutNameKeepsName(t *testing.T) {
	s := New("tedee", discOpts)
	snap := LockSnapshot{ID: 7, Serial: "L-1", Name: "Garage", DeviceType: 2, State: new(tedee.LockState(6)), Battery: new(50)}
	if _, err := s.ApplySnapshot("home", snap, t0, now); err != nil {
		t.Fatal(err)
	}
	snap.Name = ""
	if _, err := s.ApplySnapshot("home", snap, t0.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if name, _ := deviceNameIn(t, s.Republish()); name != "Garage" {
		t.Errorf("device name %q, want Garage", name)
	}
}
