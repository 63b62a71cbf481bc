//go:build !race

// With the embedded broker in the service: without -race, as embedded_test.go says why
// (mochi-mqtt/server#200); .ci/run runs the Embedded tests on their own.

package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// The embedded broker admits only the configured credentials (and the service, which uses them),
// and one that would listen beyond loopback without credentials is a configuration error.
func TestEmbeddedBrokerCredentials(t *testing.T) {
	addr := freeAddr(t)
	svc := startService(t, "", "", "TEDEE2MQTT_MQTT_EMBEDDED_LISTEN="+addr,
		"TEDEE2MQTT_MQTT_USERNAME=tedee2mqtt", "TEDEE2MQTT_MQTT_PASSWORD=embedded-pass-1")
	for _, c := range []struct{ user, pass string }{{"", ""}, {"tedee2mqtt", "wrong"}, {"other", "embedded-pass-1"}} {
		if err := mqttConnect(t, addr, c.user, c.pass); err == nil {
			t.Errorf("user %q password %q admitted by the embedded broker", c.user, c.pass)
		}
	}
	if err := mqttConnect(t, addr, "tedee2mqtt", "embedded-pass-1"); err != nil {
		t.Errorf("the configured credentials: %v", err)
	}
	if strings.Contains(svc.logs.String(), "embedded-pass-1") {
		t.Error("the broker password is in the logs")
	}

	path, _ := writeConfig(t, "", "")
	var stderr strings.Builder
	err := run(context.Background(), []string{"-config", path}, io.Discard, &stderr,
		[]string{"TEDEE2MQTT_MQTT_EMBEDDED_LISTEN=0.0.0.0:0"})
	if err == nil || !strings.Contains(stderr.String(), "mqtt.embedded_listen") {
		t.Errorf("open embedded broker without credentials: err = %v, stderr %q; want a configuration error", err, stderr.String())
	}
}
