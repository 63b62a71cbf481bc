package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
)

// registeredSecret waits for the bridge to hold one callback and returns its bearer secret.
func registeredSecret(t *testing.T, fb *fakebridge.Bridge) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if cbs := fb.Callbacks(); len(cbs) == 1 {
			for _, h := range cbs[0].Headers {
				if v, ok := h["Authorization"]; ok {
					secret, found := strings.CutPrefix(v, "Bearer ")
					if !found || len(secret) < 32 {
						t.Fatalf("callback header Authorization = %q, want a Bearer secret of 32+ characters", v)
					}
					return secret
				}
			}
			t.Fatalf("callback registered without an Authorization header: %+v", cbs[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("callbacks: %+v, want one", fb.Callbacks())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Without http.secret, a callback tedee2mqtt registers still carries a secret, derived for the
// bridge and the same after a restart; that bridge's route refuses webhooks without it, and a
// webhooks-only bridge with no secret is named in a startup warning.
func TestSelfRegisteredCallbackSecret(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	dataDir := t.TempDir()
	cfg := bridgeConfig(host, "    public_url: \"http://{{listen}}\"\n") + "  - name: garage\n" +
		fmt.Sprintf("data_dir: %q\n", dataDir)
	svc := startService(t, b.URL(), cfg)
	secret := registeredSecret(t, fb)
	body := fixture(t, "lock-status-changed.json", proSerial)

	for _, h := range [][]string{nil, {"Authorization", "Bearer " + secret[:len(secret)-1]}} {
		if status, resp := httpcheck.Do(t, "POST", svc.base+"/webhook/home", body, h...); status != 401 {
			t.Errorf("webhook to home with header %q: %d %s, want 401", h, status, resp)
		}
	}
	if status, resp := httpcheck.Do(t, "POST", svc.base+"/webhook/home", body, "Authorization", "Bearer "+secret); status != 204 {
		t.Errorf("webhook to home with the registered secret: %d %s", status, resp)
	}
	if status, _ := httpcheck.Do(t, "POST", svc.base+"/webhook/garage", body); status != 204 {
		t.Errorf("webhook to the webhooks-only garage: %d, want 204 (open, with a warning)", status)
	}
	logs := svc.logs.String()
	if n := strings.Count(logs, "without a secret"); n != 1 || !strings.Contains(logs, `"bridges":["garage"]`) {
		t.Errorf("want one warning naming garage only; logs:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Error("the derived secret is in the logs")
	}
	svc.stop(t)

	// A restart derives the same secret: the callback on the bridge stays valid, untouched.
	svc = startService(t, b.URL(), cfg)
	if status, resp := httpcheck.Do(t, "POST", svc.base+"/webhook/home", body, "Authorization", "Bearer "+secret); status != 204 {
		t.Errorf("after a restart, webhook with the registered secret: %d %s", status, resp)
	}
	if again := registeredSecret(t, fb); again != secret {
		t.Errorf("secret after a restart = %q, was %q", again, secret)
	}
}

// mqttConnect makes one MQTT 3.1.1 connection attempt and returns the broker's verdict.
func mqttConnect(t *testing.T, addr, username, password string) error {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("probe-%d", time.Now().UnixNano())).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if username != "" {
		o.SetUsername(username).SetPassword(password)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatal("connect timed out")
	}
	if tok.Error() == nil {
		c.Disconnect(100)
	}
	return tok.Error()
}

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
