//go:build !race

// The embedded broker (mochi-mqtt v2.7.9) reads a topic's retained path without its lock while
// scanning retained messages for a new subscription, as a publish writes it (upstream
// mochi-mqtt/server#200). The race detector reports that in any test where the service publishes
// retained messages while a client subscribes, so these tests run without it: .ci/run runs them
// on their own, without -race, by name: every test here is called TestEmbedded….

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
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
// embedded broker, and the printed unlock command moves the Lock PRO and is answered.
func TestEmbeddedDemo(t *testing.T) {
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
	for _, want := range []string{"mosquitto_sub", "tedee/20000001-000001/set -m unlock", "Ctrl-C"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the demo does not print %q:\n%s", want, stdout.String())
		}
	}
	url := "tcp://" + broker
	waitRetained(t, url, map[string]string{"tedee/20000001-000001/state": "locked", "tedee/20000001-000001/door": "closed",
		"tedee/20000002-000002/state": "unlocked"})
	rec := brokertest.NewRecorder(t, url, "tedee/20000001-000001/#")
	brokertest.Publish(t, url, "tedee/20000001-000001/set", "unlock")
	rec.WaitUntil(t, 30*time.Second, "the unlock answered ok", func([]brokertest.Message) bool {
		m, ok := rec.Last("tedee/20000001-000001/set/result")
		return ok && strings.Contains(m.Payload, `"ok":true`)
	})
	rec.WaitFor(t, "tedee/20000001-000001/state", "unlocked", waitTimeout)
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
