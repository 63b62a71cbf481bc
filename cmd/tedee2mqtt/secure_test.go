package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
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

// postFrom sends one webhook from a loopback source address of our choice and returns its status
// (0: the connection failed).
func postFrom(t *testing.T, source, base, path, body string) int {
	t.Helper()
	client := &http.Client{Timeout: waitTimeout, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}).DialContext}}
	resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Logf("POST %s from %s: %v", path, source, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Slow clients hold at most their source's share of connections; a flood of invented locks fills
// its bridge's share and no more, while the real lock keeps being published.
func TestFloodsStayBounded(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/+/state")
	svc := startService(t, b.URL(), "", "TEDEE2MQTT_HTTP_MAX_CONNS_PER_IP=4", "TEDEE2MQTT_HTTP_MAX_LOCKS_PER_BRIDGE=5")
	addr := strings.TrimPrefix(svc.base, "http://")
	if status, _ := send(t, svc.base, "", "lock-status-changed.json", fixtureSerial); status != 204 {
		t.Fatalf("the real lock's first webhook: %d", status)
	}

	for range 4 { // slow bodies: they never finish
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n{")); err != nil {
			t.Fatal(err)
		}
	}
	body := fixture(t, "lock-status-changed.json", fixtureSerial)
	if status := postFrom(t, "127.0.0.2", svc.base, "/webhook", body); status != 204 {
		t.Errorf("webhook from another source while slow clients hang on: %d, want 204", status)
	}
	if status := postFrom(t, "127.0.0.1", svc.base, "/webhook", body); status != 503 {
		t.Errorf("one more connection from the slow clients' source: %d, want 503", status)
	}

	statuses := map[int]int{}
	for i := range 40 {
		statuses[postFrom(t, "127.0.0.3", svc.base, "/webhook", fixture(t, "lock-status-changed.json", fmt.Sprintf("FLOOD-%02d", i)))]++
	}
	// The real lock is one of the bridge's five.
	if statuses[204] != 4 || statuses[503] != 36 {
		t.Errorf("40 invented locks: statuses %v, want 4 accepted and 36 refused (503)", statuses)
	}
	unlocked := strings.Replace(fixture(t, "lock-status-changed.json", fixtureSerial), `"state": 6`, `"state": 2`, 1)
	unlocked = strings.Replace(unlocked, "2023-07-25T14:41:48.825Z", "2023-07-25T14:42:48.825Z", 1)
	if status := postFrom(t, "127.0.0.3", svc.base, "/webhook", unlocked); status != 204 {
		t.Errorf("the real lock after the flood: %d, want 204", status)
	}
	rec.WaitFor(t, "tedee/"+fixtureSerial+"/state", "unlocked", waitTimeout)
}

// The cloud path secret is in no log line at any level, however the path is spelled.
func TestCloudSecretNotLogged(t *testing.T) {
	const secret = "svcCloudSecret-0123456789"
	b := brokertest.Start(t)
	svc := startService(t, b.URL(), "", "TEDEE2MQTT_CLOUD_ENABLED=true", "TEDEE2MQTT_CLOUD_PATH_SECRET="+secret)
	addr := strings.TrimPrefix(svc.base, "http://")
	var pct strings.Builder
	for i := range len(secret) {
		fmt.Fprintf(&pct, "%%%02X", secret[i])
	}
	for _, path := range []string{"/webhook/cloud/" + secret, "//webhook/cloud/" + secret, "/webhook/cloud/" + secret + "/",
		"/webhook//cloud/" + secret, "/webhook/Cloud/" + secret, "/webhook/%63loud/" + secret, "/webhook/cloud/" + pct.String(),
		"/webhook/cloud%2F" + secret, "/./webhook/cloud/" + secret} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		body := fixture(t, "lock-status-changed.json", fixtureSerial)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
		_, _ = io.Copy(io.Discard, c) // the whole answer: the request has been logged
		c.Close()
	}
	svc.stop(t) // every log line written
	logs := svc.logs.String()
	if !strings.Contains(logs, `"path":`) {
		t.Fatalf("no request logged at debug: the test would pass whatever is logged\n%s", logs)
	}
	if strings.Contains(logs, secret) || strings.Contains(logs, pct.String()[:24]) {
		t.Errorf("the cloud path secret is in the logs:\n%s", logs)
	}
}

// A callback registered without the secret (by an older version, or by hand) is repaired to carry
// it at the next check: an upgrade closes the route without anyone touching the bridge.
func TestCallbackWithoutSecretIsRepaired(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	svc := startService(t, b.URL(), bridgeConfig(host, "    public_url: \"http://{{listen}}\"\n    poll_interval: 1s\n"))
	secret := registeredSecret(t, fb)
	url := fb.Callbacks()[0].URL
	fb.DropCallbacks()
	fb.AddCallback(tedeeapi.Callback{URL: url, Method: "POST"}) // as an older version registered it
	deadline := time.Now().Add(waitTimeout)
	for {
		cbs := fb.Callbacks()
		if len(cbs) == 1 && len(cbs[0].Headers) == 1 && cbs[0].Headers[0]["Authorization"] == "Bearer "+secret {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback not repaired to carry the secret: %+v", cbs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _ := httpcheck.Do(t, "POST", svc.base+"/webhook/home", fixture(t, "lock-status-changed.json", proSerial)); status != 401 {
		t.Errorf("webhook without the secret: %d, want 401", status)
	}
}
