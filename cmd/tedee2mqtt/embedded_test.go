//go:build !race

// The embedded broker (mochi-mqtt v2.7.9) reads a topic's retained path without its lock while
// scanning retained messages for a new subscription, as a publish writes it (upstream
// mochi-mqtt/server#200). The race detector reports that in any test where the service publishes
// retained messages while a client subscribes, so these tests run without it: .ci/run runs them
// on their own, without -race, by name: every test here is called TestEmbedded….

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakecloud"
)

// TestEmbeddedBrokerKeepsRetainedAcrossRestart: with the embedded broker, what was retained before
// a restart (another client's message too, which tedee2mqtt cannot republish) is there after it.
func TestEmbeddedBrokerKeepsRetainedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	listen := freeAddr(t)
	extra := fmt.Sprintf("data_dir: %q\n", dir)
	embedded := func() *service {
		// mqtt.url empty: the embedded broker, listening where the test can reach it.
		return startService(t, "", extra, "TEDEE2MQTT_MQTT_EMBEDDED_LISTEN="+listen)
	}
	svc := embedded()
	postAll(t, svc.base, lockEvent("E-1", time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), 6, 80)...)
	url := "tcp://" + listen
	brokertest.PublishRetained(t, url, map[string]string{"other/app/config": "kept"})
	waitRetained(t, url, map[string]string{"tedee/E-1/state": "locked", "other/app/config": "kept"})
	svc.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "broker.db")); err != nil {
		t.Fatalf("the embedded broker kept no store in data_dir: %v", err)
	}

	embedded()
	waitRetained(t, url, map[string]string{"tedee/E-1/state": "locked", "tedee/E-1/battery": "80", "other/app/config": "kept"})
}

func waitRetained(t *testing.T, url string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := brokertest.Retained(t, url, "#")
		var wrong []string
		for topic, payload := range want {
			if got[topic] != payload {
				wrong = append(wrong, topic+"="+got[topic])
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained: %s; want %v", strings.Join(wrong, ", "), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEmbeddedDemo runs -demo as a newcomer would, and the lines it prints: both fake locks appear on the
// embedded broker with what the fake Tedee Cloud says of them (firmware update, settings, accessory
// batteries); Anna's PIN shows as an activity and as the retained last user within seconds; and
// the printed lock and unlock commands move the Lock PRO, are answered, and show as the Bridge
// API's, done by the key's owner.
func TestEmbeddedDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about 15 s (its first visitor, commands)")
	}
	listen, broker := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, logs syncBuffer
	exited := make(chan struct{})
	var runErr error
	go func() {
		defer close(exited)
		runErr = run(ctx, []string{"-demo"}, &stdout, &logs,
			[]string{"TEDEE2MQTT_HTTP_LISTEN=" + listen, "TEDEE2MQTT_MQTT_EMBEDDED_LISTEN=" + broker})
	}()
	defer func() {
		cancel()
		<-exited
		if runErr != nil {
			t.Errorf("demo exited with %v", runErr)
		}
	}()
	waitHTTP(t, "http://"+listen+"/readyz", exited, func() string { return fmt.Sprintf("%v\n%s", runErr, logs.String()) })
	for _, want := range []string{"mosquitto_sub", "mosquitto_rr", "-t tedee/20000001-000001/set -e tedee/20000001-000001/set/result -m unlock", "-m lock", "-t 'tedee/+/activity' -v",
		"last_user", "fake Tedee Cloud", "Ctrl-C"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the demo does not print %q:\n%s", want, stdout.String())
		}
	}
	url := "tcp://" + broker
	const pro, goLock = "tedee/20000001-000001/", "tedee/20000002-000002/"
	rec := brokertest.NewRecorder(t, url, "tedee/#")
	// Seen rather than retained: Anna may already be at the door when this looks.
	rec.WaitUntil(t, waitTimeout, "both locks as the fake bridge has them", func(msgs []brokertest.Message) bool {
		return demoSeen(msgs, pro+"state", "locked") && demoSeen(msgs, pro+"door", "closed") && demoSeen(msgs, goLock+"state", "unlocked")
	})

	// What the fake cloud says of the account's locks, taken from the fake itself.
	_, locks := fakecloud.DemoLocks()
	front := locks[0]
	var sensorBattery, keypadBattery string
	for _, acc := range front.Accessories {
		switch acc.Type { // fakecloud.Accessory.Type: 8 door sensor, 3 keypad, 10 keypad PRO
		case 8:
			sensorBattery = strconv.Itoa(*acc.Battery)
		case 3, 10:
			keypadBattery = strconv.Itoa(*acc.Battery)
		}
	}
	waitRetained(t, url, map[string]string{pro + "door_sensor_battery": sensorBattery, pro + "keypad_battery": keypadBattery})
	var update struct {
		Installed       string `json:"installed"`
		UpdateAvailable bool   `json:"update_available"`
	}
	demoLastJSON(t, rec, pro+"update", &update)
	if update.Installed != front.Firmware || update.UpdateAvailable != front.UpdateAvailable {
		t.Errorf("update %+v; the fake cloud has firmware %s, update available %v", update, front.Firmware, front.UpdateAvailable)
	}
	var settings map[string]any
	demoLastJSON(t, rec, pro+"settings", &settings)
	if settings["pull_spring"] != front.Settings.PullSpring || settings["pull_spring_duration"] != float64(front.Settings.PullSpringDuration) ||
		settings["auto_lock_delay"] != float64(front.Settings.AutoLockDelay) {
		t.Errorf("settings %v; the fake cloud has %+v", settings, front.Settings)
	}

	// Anna comes about 5 s after the service registered its callback.
	anna := waitDemoActivity(t, rec, pro, 40*time.Second, func(a demoActivity) bool { return a.User != nil && *a.User == demoVisitor })
	if anna.Event != "unlocked" || anna.Source != "pin" || anna.Code != 61 {
		t.Errorf("Anna's activity %+v, want unlocked by pin, code 61", anna)
	}
	waitRetained(t, url, map[string]string{pro + "last_user": demoVisitor, pro + "last_source": "pin", pro + "state": "unlocked"})
	if retained := brokertest.Retained(t, url, pro+"activity"); len(retained) != 0 {
		t.Errorf("activity is retained: %v", retained)
	}

	// The printed commands: the PRO is unlocked now, so lock it first, then unlock it as printed.
	for _, c := range []struct{ command, state, event string }{{"lock", "locked", "locked"}, {"unlock", "unlocked", "unlocked"}} {
		before := len(rec.Messages())
		brokertest.Publish(t, url, pro+"set", c.command)
		rec.WaitUntil(t, 30*time.Second, c.command+" answered ok", func(msgs []brokertest.Message) bool {
			for _, m := range msgs[before:] {
				if m.Topic == pro+"set/result" {
					return strings.Contains(m.Payload, `"ok":true`)
				}
			}
			return false
		})
		rec.WaitFor(t, pro+"state", c.state, waitTimeout)
		a := waitDemoActivity(t, rec, pro, waitTimeout, func(a demoActivity) bool { return a.Event == c.event && a.Source == "bridge_api" })
		if a.User == nil || *a.User != demoOwner {
			t.Errorf("%s from MQTT: activity %+v, want the key's owner %q", c.command, a, demoOwner)
		}
	}
	waitRetained(t, url, map[string]string{pro + "last_user": demoOwner, pro + "last_source": "bridge_api"})
}

// demoActivity is a tedee/<serial>/activity payload (contract §8).
type demoActivity struct {
	Event  string  `json:"event"`
	Source string  `json:"source"`
	User   *string `json:"user"`
	At     string  `json:"at"`
	Code   int     `json:"code"`
}

// waitDemoActivity waits for an activity message of the lock that matches, and returns it.
func waitDemoActivity(t *testing.T, rec *brokertest.Recorder, lock string, timeout time.Duration, match func(demoActivity) bool) demoActivity {
	t.Helper()
	var found demoActivity
	rec.WaitUntil(t, timeout, "an activity on "+lock+"activity", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			var a demoActivity
			if m.Topic == lock+"activity" && json.Unmarshal([]byte(m.Payload), &a) == nil && match(a) {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

// demoLastJSON waits for a message on topic and decodes the latest into v.
func demoLastJSON(t *testing.T, rec *brokertest.Recorder, topic string, v any) {
	t.Helper()
	rec.WaitUntil(t, waitTimeout, "a message on "+topic, func([]brokertest.Message) bool {
		_, ok := rec.Last(topic)
		return ok
	})
	m, _ := rec.Last(topic)
	if err := json.Unmarshal([]byte(m.Payload), v); err != nil {
		t.Fatalf("%s: %v: %s", topic, err, m.Payload)
	}
}

// demoSeen reports whether a message with that payload was received on topic.
func demoSeen(msgs []brokertest.Message, topic, payload string) bool {
	for _, m := range msgs {
		if m.Topic == topic && m.Payload == payload {
			return true
		}
	}
	return false
}

// TestEmbeddedReadmeQuickStart runs the README's quick start as a newcomer would: the binary with no
// configuration at all (the embedded broker), then the worked example's webhooks, in all three
// formats, and finds the retained topics the README shows.
func TestEmbeddedReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	quick := string(readme)[strings.Index(string(readme), "## Quick start"):]
	quick = quick[:strings.Index(quick, "```\n\n")]
	for _, line := range []string{"go run ./cmd/tedee2mqtt ", "go test ./... "} {
		if !strings.Contains(quick, line) {
			t.Errorf("the quick start no longer shows %q; this test runs what it shows:\n%s", line, quick)
		}
	}
	listen, broker := freeAddr(t), freeAddr(t)
	cmd := exec.Command(buildBinary(t)) // no flags, no config file: built-in defaults
	cmd.Dir = t.TempDir()               // where ./config.yaml would be, and ./data goes
	cmd.Env = append(os.Environ(), "TEDEE2MQTT_HTTP_LISTEN="+listen, "TEDEE2MQTT_MQTT_EMBEDDED_LISTEN="+broker)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	waitHTTP(t, "http://"+listen+"/readyz", exited, logs.String)

	body, err := os.ReadFile("../../pkg/tedee/testdata/bridge/lock-status-changed.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, resp := request(t, "POST", "http://"+listen+"/webhook", string(body)); status != 204 {
		t.Fatalf("the worked example's POST: %d %s", status, resp)
	}
	waitRetained(t, "tcp://"+broker, map[string]string{"tedee/status": "online", "tedee/19420103-000006/state": "locked",
		"tedee/19420103-000006/jammed": "false", "tedee/19420103-000006/door": "open", "tedee/19420103-000006/connected": "true"})
	for _, format := range []string{"get", "noparams"} {
		tail, err := os.ReadFile("../../pkg/tedee/testdata/bridge/lock-status-changed." + format)
		if err != nil {
			t.Fatal(err)
		}
		if status, resp := request(t, "GET", "http://"+listen+"/webhook"+strings.TrimSpace(string(tail)), ""); status != 204 {
			t.Errorf("the worked example's %s: %d %s", format, status, resp)
		}
	}
}
