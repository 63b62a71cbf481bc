package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
)

// These tests hold tedee2mqtt to its command guarantees (README "Commands"), end to end: the real
// service, Mosquitto and the fake bridge, which counts what it executes.

// commandResult is a decoded set/result message.
type commandResult struct {
	Command     string `json:"command"`
	OK          bool   `json:"ok"`
	Error       string `json:"error"`
	Transaction string `json:"transaction"`
	Via         string `json:"via"`
	State       string `json:"state"`
}

// resultOf waits for the result carrying transaction tx on a lock's result topic.
func resultOf(t *testing.T, rec *brokertest.Recorder, serial, tx string, timeout time.Duration) commandResult {
	t.Helper()
	var res commandResult
	rec.WaitUntil(t, timeout, "result of transaction "+tx, func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			var r commandResult
			if m.Topic == "tedee/"+serial+"/set/result" && json.Unmarshal([]byte(m.Payload), &r) == nil && r.Transaction == tx {
				res = r
				return true
			}
		}
		return false
	})
	return res
}

// resultsFor returns every result published for a lock so far.
func resultsFor(rec *brokertest.Recorder, serial string) []commandResult {
	var out []commandResult
	for _, m := range rec.Messages() {
		var r commandResult
		if m.Topic == "tedee/"+serial+"/set/result" && json.Unmarshal([]byte(m.Payload), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// jsonCommand is a command as a JSON object with a transaction.
func jsonCommand(cmd, tx string) string {
	return fmt.Sprintf(`{"command":%q,"transaction":%q}`, cmd, tx)
}

// publishAll publishes payloads to one topic, in order, over one connection, as fast as the
// broker takes them: a flood from one client.
func publishAll(t *testing.T, url, topic string, payloads []string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-flood-" + time.Now().Format("150405.000000000")))
	if tok := c.Connect(); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	var toks []paho.Token
	for _, p := range payloads {
		toks = append(toks, c.Publish(topic, 1, false, p))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
}

// arrivals counts the requests the fake bridge received for a path (still being served ones
// included).
func arrivals(fb *fakebridge.Bridge, method, path string) int {
	n := 0
	for _, r := range fb.Arrivals() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// executionsOf returns what the fake bridge executed on one lock.
func executionsOf(fb *fakebridge.Bridge, id int64) []fakebridge.Execution {
	var out []fakebridge.Execution
	for _, e := range fb.Executions() {
		if e.LockID == id {
			out = append(out, e)
		}
	}
	return out
}

// startCommandService starts the fake bridge and the service with the callback registered (so
// the lock's movements arrive as webhooks, as in a real setup) and the given commands: section.
func startCommandService(t *testing.T, b *brokertest.Broker, commands string, withCallback bool) (*fakebridge.Bridge, *brokertest.Recorder, *service) {
	t.Helper()
	fb, host := startFakeBridge(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	extra := ""
	if withCallback {
		extra = "    public_url: \"http://{{listen}}\"\n"
	}
	svc := startService(t, b.URL(), bridgeConfig(host, extra)+commands)
	waitSynced(t, svc)
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)
	rec.WaitFor(t, "tedee/"+goSerial+"/state", "unlocked", waitTimeout)
	for deadline := time.Now().Add(waitTimeout); withCallback && len(fb.Callbacks()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("callback not registered")
		}
	}
	return fb, rec, svc
}

// waitSynced waits for the service's first sync with the bridge: until then it does not know
// which bridge reports a lock (a state topic may show earlier, restored from a previous run).
func waitSynced(t *testing.T, svc *service) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); !strings.Contains(svc.logs.String(), `"msg":"synced"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no sync with the bridge")
		}
	}
}

// TestCommandFaults: whatever the bridge or the network does, each command is sent once, runs
// at most once, and its result says what the lock reports. The command timeout is 8s here, so
// an answer held by the bridge is lost at 8s (two 409s and their back-off take about 4s).
func TestCommandFaults(t *testing.T) {
	b := brokertest.Start(t)
	fb, rec, _ := startCommandService(t, b, "commands:\n  timeout: 8s\n", true)
	steps := []struct {
		name       string
		fault      fakebridge.Fault
		count      int
		delay      time.Duration
		cmd        string
		requests   int  // POSTs of the operation the bridge received
		executions int  // of which it executed
		ok         bool // the honest result
		state      string
		errHas     []string
	}{
		{"executes, then answers after the client's timeout", fakebridge.FaultLateAnswer, 1, 0, "unlock", 1, 1, true, "unlocked", nil},
		{"executes, then drops the connection", fakebridge.FaultDropAfterExecute, 1, 0, "lock", 1, 1, true, "locked", nil},
		{"409 busy twice", fakebridge.FaultBusy, 2, 0, "unlock", 3, 1, true, "unlocked", nil},
		{"slow", fakebridge.FaultSlow, 1, time.Second, "lock", 1, 1, true, "locked", nil},
		{"drops the connection without executing", fakebridge.FaultDropBeforeExecute, 1, 0, "unlock", 1, 0, false, "locked",
			[]string{"answer was lost", "now reports locked", "check it"}},
	}
	for i, s := range steps {
		path := "/v1.0/lock/1/" + s.cmd
		requestsBefore, execBefore := arrivals(fb, http.MethodPost, path), len(executionsOf(fb, 1))
		fb.InjectFault(1, s.fault, s.count, s.delay)
		tx := fmt.Sprintf("fault-%d", i)
		start := time.Now()
		publish(t, b.URL(), "tedee/"+proSerial+"/set", jsonCommand(s.cmd, tx), false)
		res := resultOf(t, rec, proSerial, tx, 30*time.Second)
		t.Logf("%s: result after %s: %+v", s.name, time.Since(start).Round(10*time.Millisecond), res)
		if n := arrivals(fb, http.MethodPost, path) - requestsBefore; n != s.requests {
			t.Errorf("%s: the bridge received %d %s requests, want %d", s.name, n, s.cmd, s.requests)
		}
		if n := len(executionsOf(fb, 1)) - execBefore; n != s.executions {
			t.Errorf("%s: the bridge executed %d times, want %d", s.name, n, s.executions)
		}
		if res.OK != s.ok || res.State != s.state || res.Command != s.cmd || res.Via != "bridge" {
			t.Errorf("%s: result %+v; want ok=%v state=%s via bridge", s.name, res, s.ok, s.state)
		}
		for _, want := range s.errHas {
			if !strings.Contains(res.Error, want) {
				t.Errorf("%s: error %q lacks %q", s.name, res.Error, want)
			}
		}
		// The honest result matches the lock.
		want := map[string]int{"locked": 6, "unlocked": 2}[s.state]
		if got := fb.Lock(1).State; got != want {
			t.Errorf("%s: the fake lock is in state %d, the result says %s", s.name, got, s.state)
		}
	}
	if fb.Overlaps() != 0 {
		t.Errorf("%d overlapping requests to the bridge", fb.Overlaps())
	}
	for i, r := range fb.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("request %d %s %s was refused: a key was reused or wrong", i, r.Method, r.Path)
		}
	}
}

// forgeStatus sends the service a lock-status-changed webhook for the Lock PRO, as a forged or
// skewed one would: the cache then disagrees with the lock.
func forgeStatus(t *testing.T, rec *brokertest.Recorder, svc *service, state int, word string) {
	t.Helper()
	body := fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":1,"serialNumber":%q,"state":%d,"jammed":0,"doorState":3}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), proSerial, state)
	if status, resp := request(t, http.MethodPost, svc.base+"/webhook/home", body); status != http.StatusNoContent {
		t.Fatalf("forged webhook: %d %s", status, resp)
	}
	rec.WaitFor(t, "tedee/"+proSerial+"/state", word, waitTimeout)
}

// TestCommandStaleCache: a cache that already shows the requested state never answers a
// command; the lock is asked, and ok:true comes only from what it reports.
func TestCommandStaleCache(t *testing.T) {
	b := brokertest.Start(t)
	// No callback: the lock's real movements reach the service only through its own reads.
	fb, rec, svc := startCommandService(t, b, "", false)
	set := "tedee/" + proSerial + "/set"

	// The lock is locked; the cache is told it is unlocked. "unlock" still goes to the lock.
	forgeStatus(t, rec, svc, 2, "unlocked")
	publish(t, b.URL(), set, jsonCommand("unlock", "stale-1"), false)
	res := resultOf(t, rec, proSerial, "stale-1", 20*time.Second)
	if ex := executionsOf(fb, 1); len(ex) != 1 || ex[0].Op != "unlock" || !res.OK || res.State != "unlocked" || fb.Lock(1).State != 2 {
		t.Errorf("unlock with a cache already unlocked: result %+v, executions %+v, lock state %d; want one unlock, ok, unlocked",
			res, ex, fb.Lock(1).State)
	}

	// The lock is unlocked and out of the bridge's reach; the cache is told it is locked. "lock"
	// is asked of the bridge, which refuses, and the user is told so.
	fb.Update(1, func(l *fakebridge.Lock) { l.Connected = false })
	forgeStatus(t, rec, svc, 6, "locked")
	publish(t, b.URL(), set, jsonCommand("lock", "stale-2"), false)
	res = resultOf(t, rec, proSerial, "stale-2", 20*time.Second)
	if res.OK || !strings.Contains(res.Error, "disconnected") || arrivals(fb, http.MethodPost, "/v1.0/lock/1/lock") != 1 {
		t.Errorf("lock of a disconnected lock with a cache already locked: %+v, %d lock requests; want one request and an error",
			res, arrivals(fb, http.MethodPost, "/v1.0/lock/1/lock"))
	}

	// Back in reach, still cached as locked: "lock" locks it for real.
	fb.Update(1, func(l *fakebridge.Lock) { l.Connected = true })
	forgeStatus(t, rec, svc, 6, "locked")
	publish(t, b.URL(), set, jsonCommand("lock", "stale-3"), false)
	res = resultOf(t, rec, proSerial, "stale-3", 20*time.Second)
	if ex := executionsOf(fb, 1); len(ex) != 2 || ex[1].Op != "lock" || !res.OK || res.State != "locked" || fb.Lock(1).State != 6 {
		t.Errorf("lock with a cache already locked: result %+v, executions %+v, lock state %d; want a second execution (lock), ok, locked",
			res, ex, fb.Lock(1).State)
	}

	// Already locked, and known to be: still asked; the lock refuses to move, is read back, and
	// the result is the state it reports.
	publish(t, b.URL(), set, jsonCommand("LOCK", "stale-4"), false)
	res = resultOf(t, rec, proSerial, "stale-4", 20*time.Second)
	if !res.OK || res.State != "locked" || arrivals(fb, http.MethodPost, "/v1.0/lock/1/lock") != 3 {
		t.Errorf("lock of a locked lock: %+v after %d lock requests; want ok, locked, after a third request",
			res, arrivals(fb, http.MethodPost, "/v1.0/lock/1/lock"))
	}
}

// TestCommandQueue: per lock one command runs and one waits; more are refused busy at once, and
// one that cannot be sent within commands.queue_timeout is refused expired and never executed,
// whether it waited behind its own lock's command or behind the bridge's one request at a time.
func TestCommandQueue(t *testing.T) {
	b := brokertest.Start(t)
	fb, rec, _ := startCommandService(t, b, "commands:\n  queue_timeout: 2s\n  timeout: 10s\n", true)

	// The bridge takes 3s over the Lock PRO's unlock. (Startup requests to the bridge may delay
	// its start by up to a second, so the queue timeout is 2s, not less.)
	fb.InjectFault(1, fakebridge.FaultSlow, 1, 3*time.Second)
	publish(t, b.URL(), "tedee/"+proSerial+"/set", jsonCommand("unlock", "q1"), false)
	for deadline := time.Now().Add(waitTimeout); arrivals(fb, http.MethodPost, "/v1.0/lock/1/unlock") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the unlock never reached the bridge")
		}
	}
	// Two more for the same lock while it runs. The service handles messages concurrently, in
	// no set order: whichever comes first waits, the other is refused busy at once.
	publishAll(t, b.URL(), "tedee/"+proSerial+"/set", []string{jsonCommand("lock", "q2"), jsonCommand("lock", "q3")})
	// The bridge is busy with it: a command for the other lock cannot be sent within 2s either.
	publish(t, b.URL(), "tedee/"+goSerial+"/set", jsonCommand("lock", "q4"), false)

	q2 := resultOf(t, rec, proSerial, "q2", waitTimeout)
	q3 := resultOf(t, rec, proSerial, "q3", waitTimeout)
	q4 := resultOf(t, rec, goSerial, "q4", waitTimeout)
	q1 := resultOf(t, rec, proSerial, "q1", 20*time.Second)
	if strings.HasPrefix(q2.Error, "busy:") {
		q2, q3 = q3, q2 // from here on q2 is the one that waited, q3 the one refused at once
	}
	if q2.OK || !strings.HasPrefix(q2.Error, "expired:") || !strings.Contains(q2.Error, "queue_timeout") || q2.Via != "" {
		t.Errorf("command waiting behind its lock's slow one: %+v; want expired", q2)
	}
	if q3.OK || !strings.HasPrefix(q3.Error, "busy:") {
		t.Errorf("third command for one lock: %+v; want busy", q3)
	}
	if q4.OK || !strings.HasPrefix(q4.Error, "expired:") || !strings.Contains(q4.Error, "bridge was busy") {
		t.Errorf("command waiting behind the bridge's slow request: %+v; want expired", q4)
	}
	if !q1.OK || q1.State != "unlocked" {
		t.Errorf("the slow unlock: %+v; want ok, unlocked", q1)
	}
	// Let anything executed late show up: the next command's own result comes after it.
	publish(t, b.URL(), "tedee/"+goSerial+"/set", jsonCommand("unlock", "q5"), false)
	resultOf(t, rec, goSerial, "q5", 20*time.Second)
	if ex := fb.Executions(); len(ex) != 1 || ex[0].LockID != 1 || ex[0].Op != "unlock" {
		t.Errorf("executions %+v; want the Lock PRO's unlock only", ex)
	}
	if n := arrivals(fb, http.MethodPost, "/v1.0/lock/1/lock") + arrivals(fb, http.MethodPost, "/v1.0/lock/2/lock"); n != 0 {
		t.Errorf("%d refused lock commands reached the bridge", n)
	}
}

// TestCommandFairness: a flood of commands for one lock is refused busy beyond one running and
// one waiting, and never refuses or delays another lock's command beyond the bridge's one request
// at a time.
func TestCommandFairness(t *testing.T) {
	b := brokertest.Start(t)
	fb, rec, _ := startCommandService(t, b, "commands:\n  queue_timeout: 10s\n", true) // room for a loaded machine
	// The Lock PRO's first command holds the bridge for 1s, so the flood arrives while it runs.
	fb.InjectFault(1, fakebridge.FaultSlow, 1, time.Second)
	flood := make([]string, 40)
	for i := range flood {
		flood[i] = jsonCommand("unlock", fmt.Sprintf("a%d", i))
	}
	publishAll(t, b.URL(), "tedee/"+proSerial+"/set", flood)
	start := time.Now()
	publish(t, b.URL(), "tedee/"+goSerial+"/set", jsonCommand("lock", "b"), false)

	rb := resultOf(t, rec, goSerial, "b", 20*time.Second)
	latency := time.Since(start)
	t.Logf("the other lock's command answered after %s", latency.Round(10*time.Millisecond))
	if !rb.OK || rb.State != "locked" || len(executionsOf(fb, 2)) != 1 {
		t.Errorf("other lock's command during a flood: %+v, executions %+v; want ok, locked, executed once", rb, executionsOf(fb, 2))
	}
	resultOf(t, rec, proSerial, "a0", 20*time.Second)
	resultOf(t, rec, proSerial, "a1", 20*time.Second)
	busy := 0
	for _, r := range resultsFor(rec, proSerial) {
		if strings.HasPrefix(r.Error, "busy:") {
			busy++
		}
	}
	if busy != 38 {
		t.Errorf("%d of 40 flood commands refused busy; want 38 (one runs, one waits)", busy)
	}
	if ex := executionsOf(fb, 1); len(ex) != 1 {
		t.Errorf("the Lock PRO executed %d times, want once (the second unlock finds it unlocked)", len(ex))
	}
}

// TestLiveRetainedCommand: a command published with the retain flag while the service is
// subscribed arrives without it (MQTT 3.1.1); it runs once, and is cleared from the broker so
// that no reconnection can replay it.
func TestLiveRetainedCommand(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	cfg := bridgeConfig(host, "    public_url: \"http://{{listen}}\"\n")
	svc := startService(t, b.URL(), cfg)
	waitSynced(t, svc)
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)

	publish(t, b.URL(), "tedee/"+proSerial+"/set", jsonCommand("unlock", "r1"), true)
	if res := resultOf(t, rec, proSerial, "r1", 20*time.Second); !res.OK || res.State != "unlocked" {
		t.Fatalf("live command published retained: %+v; want ok, unlocked", res)
	}
	// The clearing was published before the result, by the same client: the broker has it.
	if left := brokertest.Retained(t, b.URL(), "tedee/"+proSerial+"/set"); len(left) != 0 {
		t.Errorf("the command is still retained: %v", left)
	}

	// A restart subscribes again: nothing is replayed, nothing refused.
	svc.stop(t)
	svc = startService(t, b.URL(), strings.ReplaceAll(cfg, "{{listen}}", strings.TrimPrefix(svc.base, "http://")))
	waitSynced(t, svc)
	publish(t, b.URL(), "tedee/"+proSerial+"/set", jsonCommand("lock", "r2"), false)
	if res := resultOf(t, rec, proSerial, "r2", 20*time.Second); !res.OK {
		t.Errorf("command after the restart: %+v", res)
	}
	if ex := executionsOf(fb, 1); len(ex) != 2 || ex[0].Op != "unlock" || ex[1].Op != "lock" {
		t.Errorf("executions %+v; want the unlock once, then the lock", ex)
	}
	for _, r := range resultsFor(rec, proSerial) {
		if strings.Contains(r.Error, "retained") {
			t.Errorf("a replay reached the service after the restart: %+v", r)
		}
	}
}
