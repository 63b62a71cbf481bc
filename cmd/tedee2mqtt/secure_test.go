package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
