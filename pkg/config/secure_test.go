package config

import (
	"strings"
	"testing"
)

// The embedded broker listens beyond loopback only with credentials, whatever the spelling of
// the address.
func TestEmbeddedListenNeedsCredentialsBeyondLoopback(t *testing.T) {
	for listen, open := range map[string]bool{
		"127.0.0.1:1883": false, "127.0.0.2:1883": false, "[::1]:1883": false, "localhost:1883": false,
		"LOCALHOST.:1883": false, ":1883": true, "0.0.0.0:1883": true, "[::]:1883": true,
		"192.168.1.10:1883": true, "broker.lan:1883": true,
	} {
		c := Default()
		c.MQTT.EmbeddedListen = listen
		err := c.Validate()
		if got := err != nil && strings.Contains(err.Error(), "mqtt.embedded_listen"); got != open {
			t.Errorf("embedded_listen %q without credentials: err = %v, want refused: %v", listen, err, open)
		}
		c.MQTT.Username, c.MQTT.Password = "tedee2mqtt", "a-password"
		if err := c.Validate(); err != nil {
			t.Errorf("embedded_listen %q with credentials: %v", listen, err)
		}
	}
	// An external broker's address is its own business: no credentials needed here.
	c := Default()
	c.MQTT.URL, c.MQTT.EmbeddedListen = "tcp://192.0.2.1:1883", "0.0.0.0:1883"
	if err := c.Validate(); err != nil {
		t.Errorf("external broker: %v", err)
	}
}

// TLS options are refused only where the connection would be plain text.
func TestTLSOptionsNeedATLSScheme(t *testing.T) {
	for url, plain := range map[string]bool{
		"tcp://h:1883": true, "mqtt://h:1883": true, "ws://h/mqtt": true, "": true,
		"ssl://h:8883": false, "tls://h:8883": false, "mqtts://h:8883": false, "wss://h/mqtt": false,
	} {
		c := Default()
		c.MQTT.URL, c.MQTT.TLS.InsecureSkipVerify = url, true
		err := c.Validate()
		if got := err != nil && strings.Contains(err.Error(), "mqtt.tls.insecure_skip_verify"); got != plain {
			t.Errorf("url %q with insecure_skip_verify: err = %v, want refused: %v", url, err, plain)
		}
	}
}
