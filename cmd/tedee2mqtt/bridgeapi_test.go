package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

const (
	bridgeToken = "BE9xnPnGfVUS"
	proSerial   = "20000001-000001"
	goSerial    = "20000002-000002"
	bridgeSer   = "10000001-000001"
)

// startFakeBridge serves a fake bridge with a Lock PRO (locked, door closed, pull spring on) and a
// Lock GO (unlocked, battery unknown) on loopback.
func startFakeBridge(t *testing.T) (*fakebridge.Bridge, string) {
	t.Helper()
	fb, srv := fakeBridgeServer(t)
	return fb, strings.TrimPrefix(srv.URL, "http://")
}

// fakeBridgeServer is startFakeBridge with its server, for tests that take the bridge away.
func fakeBridgeServer(t *testing.T) (*fakebridge.Bridge, *httptest.Server) {
	t.Helper()
	fb := fakebridge.New(fakebridge.Options{Token: bridgeToken, Name: "Bridge-8C14", Serial: bridgeSer, Firmware: "2.2.31232",
		TimeScale: 0.3, Locks: []fakebridge.Lock{
			{ID: 1, Name: "Front door", Type: 2, Serial: proSerial, Firmware: "2.0.10724", State: 6, DoorState: 3,
				Battery: 90, Connected: true, PullSpringEnabled: true, PullSpringDuration: 4},
			{ID: 2, Name: "Back door", Type: 4, Serial: goSerial, Firmware: "2.0.10724", State: 2, Battery: 255, Connected: true},
		}})
	srv := httptest.NewServer(fb)
	t.Cleanup(func() { srv.Close(); fb.Close() })
	return fb, srv
}

func bridgeConfig(host, extra string) string {
	return fmt.Sprintf("bridges:\n  - name: home\n    host: %q\n    token: %q\n    token_mode: encrypted\n%s", host, bridgeToken, extra)
}

// checkBridgeRequests: no request was refused (a reused or stale key would be a 401), none
// overlapped, none came less than a second after the previous one ended, and PUT /callback,
// which wipes other integrations' callbacks, was never used. restarts are the indexes of the
// first request of a restarted service, which cannot know when its predecessor last called.
func checkBridgeRequests(t *testing.T, fb *fakebridge.Bridge, restarts ...int) {
	t.Helper()
	reqs := fb.Requests()
	for i, r := range reqs {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("request %d %s %s was refused: a key was reused or wrong", i, r.Method, r.Path)
		}
		if i > 0 && !containsInt(restarts, i) {
			if gap := r.Start.Sub(reqs[i-1].End); gap < time.Second {
				t.Errorf("request %d (%s %s) came %s after the previous one", i, r.Method, r.Path, gap)
			}
		}
	}
	if fb.Overlaps() != 0 || fb.ReplaceAllCalls() != 0 {
		t.Errorf("overlapping requests: %d, PUT /callback calls: %d", fb.Overlaps(), fb.ReplaceAllCalls())
	}
}

// TestStartupSync: with no webhook at all, the service publishes every lock from the Bridge API.
func TestStartupSync(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	startService(t, b.URL(), bridgeConfig(host, ""))
	for topic, payload := range map[string]string{
		"tedee/" + proSerial + "/state": "locked", "tedee/" + proSerial + "/battery": "90",
		"tedee/" + proSerial + "/door": "closed", "tedee/" + proSerial + "/connected": "true",
		"tedee/" + goSerial + "/state": "unlocked", "tedee/" + goSerial + "/battery": "unknown",
		"tedee/" + bridgeSer + "/connected": "true",
	} {
		rec.WaitFor(t, topic, payload, waitTimeout)
	}
	cfg, _ := rec.Last("homeassistant/lock/tedee_" + proSerial + "_lock/config")
	if !strings.Contains(cfg.Payload, `"name":"Front door"`) || !strings.Contains(cfg.Payload, `"payload_open":"open"`) {
		t.Errorf("lock config lacks the name or open from the Bridge API: %s", cfg.Payload)
	}
	checkBridgeRequests(t, fb)
}

// command publishes a command as Home Assistant would and returns its result.
func command(t *testing.T, rec *brokertest.Recorder, url, serial, cmd string) map[string]any {
	t.Helper()
	before := len(rec.Messages())
	publish(t, url, "tedee/"+serial+"/set", cmd, false)
	var res map[string]any
	rec.WaitUntil(t, 40*time.Second, "result of "+cmd, func(msgs []brokertest.Message) bool {
		for _, m := range msgs[min(before, len(msgs)):] {
			if m.Topic == "tedee/"+serial+"/set/result" {
				return json.Unmarshal([]byte(m.Payload), &res) == nil
			}
		}
		return false
	})
	return res
}

func TestCommands(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	// The full setup: the callback is registered, so the lock's movements arrive as webhooks.
	startService(t, b.URL(), bridgeConfig(host, "    public_url: \"http://{{listen}}\"\n"))
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)
	for deadline := time.Now().Add(waitTimeout); len(fb.Callbacks()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("callback not registered")
		}
	}

	steps := []struct {
		cmd        string
		wantStates []int // acceptable fake states right after the result
		retained   string
	}{
		{"unlock", []int{2}, "unlocked"},
		{"LOCK", []int{6}, "locked"},
		// open from locked: unlock, then pull once unlocked.
		{"open", []int{8, 7}, ""},
		{"", nil, "unlocked"}, // wait for the pull to end
		// open from unlocked: just pull.
		{" Open\n", []int{8, 7}, ""},
		{"", nil, "unlocked"},
		{"pull", []int{8, 7}, ""},
		{"", nil, "unlocked"},
		{"lock", []int{6}, "locked"},
	}
	for _, s := range steps {
		if s.cmd != "" {
			res := command(t, rec, b.URL(), proSerial, s.cmd)
			want := strings.ToLower(strings.TrimSpace(s.cmd))
			if res["ok"] != true || res["command"] != want {
				t.Fatalf("%q: result %v", s.cmd, res)
			}
			if got := fb.Lock(1).State; !containsInt(s.wantStates, got) {
				t.Errorf("%q: fake lock state %d, want one of %v", s.cmd, got, s.wantStates)
			}
		}
		if s.retained != "" {
			rec.WaitFor(t, "tedee/"+proSerial+"/state", s.retained, 20*time.Second)
		}
	}
	// The intermediate states were published on the way.
	var states []string
	for _, m := range rec.Messages() {
		if m.Topic == "tedee/"+proSerial+"/state" {
			states = append(states, m.Payload)
		}
	}
	for _, want := range []string{"unlocking", "locking", "pulling", "pulled"} {
		if !strings.Contains(strings.Join(states, ","), want) {
			t.Errorf("state %s never published; states: %v", want, states)
		}
	}

	// Errors are answered clearly.
	if res := command(t, rec, b.URL(), goSerial, "pull"); res["ok"] != false || !strings.Contains(fmt.Sprint(res["error"]), "406") {
		t.Errorf("pull on a lock without pull spring: %v", res)
	}
	if res := command(t, rec, b.URL(), proSerial, "dance"); res["ok"] != false || !strings.Contains(fmt.Sprint(res["error"]), "unknown command") {
		t.Errorf("unknown command: %v", res)
	}
	if res := command(t, rec, b.URL(), "NOT-A-LOCK", "lock"); res["ok"] != false || !strings.Contains(fmt.Sprint(res["error"]), "not reported") {
		t.Errorf("unknown lock: %v", res)
	}
	checkBridgeRequests(t, fb)
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestRetainedCommandIgnored: a retained "unlock" (as a broker would replay it) never moves the
// lock; it is answered with an error and cleared.
func TestRetainedCommandIgnored(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	// Retained before the service even starts: it is replayed when the service subscribes.
	publish(t, b.URL(), "tedee/"+proSerial+"/set", "unlock", true)
	startService(t, b.URL(), bridgeConfig(host, ""))
	rec.WaitUntil(t, waitTimeout, "the refusal", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/"+proSerial+"/set/result" && strings.Contains(m.Payload, "retained command ignored") {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // time enough for an unlock to have started
	if s := fb.Lock(1).State; s != 6 {
		t.Errorf("the lock moved on a retained command: state %d", s)
	}
	for _, r := range fb.Requests() {
		if strings.Contains(r.Path, "/unlock") {
			t.Errorf("unlock requested on a retained command")
		}
	}
	if left := brokertest.Retained(t, b.URL(), "tedee/"+proSerial+"/set"); len(left) != 0 {
		t.Errorf("retained command not cleared: %v", left)
	}
}

// TestCallbackRegistration: registered once with the secret header, kept once across a restart,
// re-added after the bridge lost it, and another integration's callback is never touched.
// (Dropping and re-adding under changing conditions is covered in pkg/controller.)
func TestCallbackRegistration(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	foreign := tedeeapi.Callback{URL: "http://127.0.0.1:8123/api/webhook/abc", Method: "POST", Headers: []map[string]string{}}
	foreign.ID = fb.AddCallback(foreign)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	extra := "    public_url: \"http://{{listen}}\"\n    callback_method: GET+NO_PARAMS\n"
	env := "TEDEE2MQTT_HTTP_SECRET=" + testSecret

	ours := func() []tedeeapi.Callback {
		var out []tedeeapi.Callback
		for _, cb := range fb.Callbacks() {
			if strings.HasSuffix(cb.URL, "/webhook/home") {
				out = append(out, cb)
			}
		}
		return out
	}
	waitOurs := func(what string) tedeeapi.Callback {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for len(ours()) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: our callbacks = %+v", what, ours())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return ours()[0]
	}
	svc := startService(t, b.URL(), bridgeConfig(host, extra), env)
	cb := waitOurs("first start")
	if cb.Method != "GET+NO_PARAMS" || cb.URL != svc.base+"/webhook/home" || len(cb.Headers) != 1 || cb.Headers[0]["Authorization"] != "Bearer "+testSecret {
		t.Errorf("registered %+v", cb)
	}
	// The registration works: a change on the lock arrives as a webhook through it.
	fb.Update(2, func(l *fakebridge.Lock) { l.Battery = 42 })
	rec.WaitFor(t, "tedee/"+goSerial+"/battery", "42", waitTimeout)

	// A restart finds it and adds no duplicate.
	svc.stop(t)
	restart := len(fb.Requests())
	svc = startService(t, b.URL(), bridgeConfig(host, strings.ReplaceAll(extra, "{{listen}}", strings.TrimPrefix(svc.base, "http://"))), env)
	time.Sleep(4 * time.Second) // sync and the callback check take a few rate-limited requests
	if got := ours(); len(got) != 1 || got[0].ID != cb.ID {
		t.Errorf("after restart our callbacks = %+v, want the same single one", got)
	}

	// Through all of that, the other integration's callback was left exactly as it was.
	if got := fb.Callbacks(); len(got) != 2 || got[0].ID != foreign.ID || got[0].URL != foreign.URL || got[0].Method != foreign.Method {
		t.Errorf("callbacks after restart = %+v; the foreign one must be untouched", got)
	}

	// The bridge forgets its callbacks (API config reset in the app); it then reports its cloud
	// link, which makes tedee2mqtt check and register again.
	fb.DropCallbacks()
	if status, body := send(t, svc.base, "home", "backend-connection-changed.json", "", "Authorization", "Bearer "+testSecret); status != http.StatusNoContent {
		t.Fatalf("backend-connection-changed: %d %s", status, body)
	}
	waitOurs("after the bridge dropped it")

	checkBridgeRequests(t, fb, restart)
}

// TestTwoBridges: each bridge has its own route, client, callback and locks in one process, and a
// command goes to the bridge that reports the lock.
func TestTwoBridges(t *testing.T) {
	b := brokertest.Start(t)
	fbA, hostA := startFakeBridge(t)
	fbB := fakebridge.New(fakebridge.Options{Token: "other-token", TokenMode: tedeeapi.ModePlain, Name: "Bridge-2",
		Serial: "10000002-000002", TimeScale: 0.3, Locks: []fakebridge.Lock{
			{ID: 7, Name: "Garage", Type: 4, Serial: "30000007-000007", State: 6, Battery: 40, Connected: true}}})
	srvB := httptest.NewServer(fbB)
	t.Cleanup(func() { srvB.Close(); fbB.Close() })
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	cfg := bridgeConfig(hostA, "    public_url: \"http://{{listen}}\"\n") + fmt.Sprintf(
		"  - name: garage\n    host: %q\n    token: other-token\n    token_mode: plain\n    public_url: \"http://{{listen}}\"\n",
		strings.TrimPrefix(srvB.URL, "http://"))
	startService(t, b.URL(), cfg)
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)
	rec.WaitFor(t, "tedee/30000007-000007/state", "locked", waitTimeout)
	rec.WaitFor(t, "tedee/10000002-000002/connected", "true", waitTimeout)
	for deadline := time.Now().Add(waitTimeout); len(fbA.Callbacks()) == 0 || len(fbB.Callbacks()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("callbacks not registered on both bridges")
		}
	}
	if a, bb := fbA.Callbacks()[0].URL, fbB.Callbacks()[0].URL; !strings.HasSuffix(a, "/webhook/home") || !strings.HasSuffix(bb, "/webhook/garage") {
		t.Errorf("callback URLs %s and %s", a, bb)
	}
	if res := command(t, rec, b.URL(), "30000007-000007", "unlock"); res["ok"] != true {
		t.Fatalf("unlock on the second bridge: %v", res)
	}
	if fbB.Lock(7).State != 2 || fbA.Lock(1).State != 6 {
		t.Errorf("states after unlock: garage %d (want 2), front %d (want 6)", fbB.Lock(7).State, fbA.Lock(1).State)
	}
	checkBridgeRequests(t, fbA)
	checkBridgeRequests(t, fbB)
}
