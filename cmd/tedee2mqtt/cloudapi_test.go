package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakecloud"
	"github.com/tedee2mqtt/tedee2mqtt/internal/hacheck"
)

// These tests run the service against the fake Tedee Cloud (with Mosquitto, and the fake bridge
// for mixed setups): what contract §8 promises, end to end.

const cloudKey = "itest0.aW50ZWdyYXRpb24ta2V5LW5vdC1hLXNlY3JldA"

func startFakeCloud(t *testing.T) (*fakecloud.Cloud, string) {
	t.Helper()
	fc := fakecloud.New(fakecloud.Options{Key: cloudKey, OperationTime: 500 * time.Millisecond})
	fc.AddDemo() // the same serials as startFakeBridge's locks
	srv := httptest.NewServer(fc)
	t.Cleanup(func() { srv.Close(); fc.Close() })
	return fc, srv.URL
}

func cloudConfig(url string) string {
	return fmt.Sprintf("cloud:\n  api_key: %q\n  api_url: %q\n", cloudKey, url)
}

// TestCloudOnly: an account without any bridge configured works: state, firmware, settings,
// accessories and Home Assistant entities from the Cloud API alone, and commands through it.
func TestCloudOnly(t *testing.T) {
	b := brokertest.Start(t)
	fc, url := startFakeCloud(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	svc := startService(t, b.URL(), cloudConfig(url))
	for topic, payload := range map[string]string{
		"tedee/" + proSerial + "/state":               "locked",
		"tedee/" + proSerial + "/connected":           "true",
		"tedee/" + proSerial + "/door_sensor_battery": "80",
		"tedee/" + proSerial + "/keypad_battery":      "65",
		"tedee/" + proSerial + "/update":              `{"installed":"2.0.10724","latest":null,"update_available":true}`,
		"tedee/" + goSerial + "/state":                "unlocked",
	} {
		rec.WaitFor(t, topic, payload, waitTimeout)
	}
	rec.WaitUntil(t, waitTimeout, "the activity entity", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if strings.HasPrefix(m.Topic, "homeassistant/event/") && strings.Contains(m.Topic, proSerial) {
				return true
			}
		}
		return false
	})
	for _, m := range rec.Messages() {
		if strings.HasPrefix(m.Topic, "homeassistant/") && strings.HasSuffix(m.Topic, "/config") {
			if err := hacheck.Validate(m.Topic, []byte(m.Payload)); err != nil {
				t.Errorf("%s: %v", m.Topic, err)
			}
		}
	}

	rec.WaitUntil(t, waitTimeout, "the devices list with the accessories", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/bridge/devices" && strings.Contains(m.Payload, `"accessories":["door_sensor","keypad"]`) {
				return true
			}
		}
		return false
	})

	res := command(t, rec, b.URL(), goSerial, "lock")
	if res["ok"] != true || res["via"] != "cloud" || res["state"] != "locked" {
		t.Errorf("cloud command result: %v", res)
	}
	rec.WaitFor(t, "tedee/"+goSerial+"/state", "locked", waitTimeout)
	if got := fc.Lock(goSerial).State; got != 6 {
		t.Errorf("the fake cloud's lock is in state %d", got)
	}
	// Who did it: the operation's own entry, with the key's owner.
	rec.WaitUntil(t, 20*time.Second, "the lock's activity", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/"+goSerial+"/activity" && strings.Contains(m.Payload, `"event":"locked","source":"app","user":"Owner"`) {
				return true
			}
		}
		return false
	})
	rec.WaitFor(t, "tedee/"+goSerial+"/last_user", "Owner", waitTimeout)
	if strings.Contains(svc.logs.String(), cloudKey) {
		t.Error("the key reached the logs")
	}
	for _, m := range rec.Messages() {
		if strings.Contains(m.Payload, cloudKey) {
			t.Errorf("the key reached %s", m.Topic)
		}
	}
}

// TestCloudBesideBridge: with a bridge and the Cloud API, the bridge reports the state and runs
// commands; the cloud says who moved the lock; and when the Bridge API stops answering, commands
// go through the cloud.
func TestCloudBesideBridge(t *testing.T) {
	b := brokertest.Start(t)
	fb, bridgeSrv := fakeBridgeServer(t)
	host := strings.TrimPrefix(bridgeSrv.URL, "http://")
	fc, url := startFakeCloud(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	svc := startService(t, b.URL(), bridgeConfig(host, "    public_url: \"http://{{listen}}\"\n    poll_interval: 1s\n")+cloudConfig(url))
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)
	rec.WaitFor(t, "tedee/"+bridgeSer+"/connected", "true", waitTimeout) // the Bridge API has been read
	rec.WaitFor(t, "tedee/"+proSerial+"/update", `{"installed":"2.0.10724","latest":null,"update_available":true}`, waitTimeout)
	for deadline := time.Now().Add(waitTimeout); len(fb.Callbacks()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("callback not registered")
		}
	}

	// Anna unlocks with her PIN: the bridge's webhook reports the state, the cloud's log who.
	fb.Update(1, func(l *fakebridge.Lock) { l.State = 2 })
	fc.Update(proSerial, func(l *fakecloud.Lock) { l.State = 2 })
	fc.AddActivity(proSerial, 61, "Anna", time.Now())
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "unlocked", waitTimeout)
	rec.WaitFor(t, "tedee/"+proSerial+"/last_user", "Anna", 20*time.Second)
	rec.WaitFor(t, "tedee/"+proSerial+"/last_source", "pin", waitTimeout)

	res := command(t, rec, b.URL(), proSerial, "lock")
	if res["ok"] != true || res["via"] != "bridge" {
		t.Errorf("with the Bridge API up: %v", res)
	}
	for _, r := range fc.Requests() {
		if r.Method == "POST" {
			t.Errorf("the cloud was asked to operate while the bridge answered: %s", r.Path)
		}
	}

	// The Bridge API goes away (its next sync fails): the command goes through the cloud.
	bridgeSrv.CloseClientConnections()
	bridgeSrv.Close()
	for deadline := time.Now().Add(waitTimeout); !strings.Contains(svc.logs.String(), "bridge sync failed"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the service did not notice the Bridge API is gone")
		}
	}
	fc.Update(proSerial, func(l *fakecloud.Lock) { l.State = 6 })
	res = command(t, rec, b.URL(), proSerial, "unlock")
	if res["ok"] != true || res["via"] != "cloud" || res["state"] != "unlocked" {
		t.Errorf("with the Bridge API down: %v", res)
	}
	if got := fc.Lock(proSerial).State; got != 2 {
		t.Errorf("the fake cloud's lock is in state %d", got)
	}
}

// TestStatusPageShowsWhoMovedTheLock: in a real Chromium, the status page says who last moved
// the lock, from the Cloud API's activity log, without a reload.
func TestStatusPageShowsWhoMovedTheLock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser, a broker, the fake bridge and the fake cloud")
	}
	fc, url := startFakeCloud(t)
	svc, fb := startPageService(t, "", cloudConfig(url))
	br := newBrowser(t, 1000, 900)
	br.do(t, "open the page", chromedp.Navigate(svc.base+"/"))
	br.waitJS(t, "the Lock PRO", lockState(proSerial)+` === "locked"`)
	fb.Update(1, func(l *fakebridge.Lock) { l.State = 2 })
	fc.Update(proSerial, func(l *fakecloud.Lock) { l.State = 2 })
	fc.AddActivity(proSerial, 61, "Anna", time.Now())
	br.waitJS(t, "who moved it", `document.querySelector('li[data-serial="`+proSerial+`"]').textContent.includes("Last moved byAnna (pin)")`)
}
