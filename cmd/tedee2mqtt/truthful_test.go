package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
)

// TestPartialBridgeAnswers: a bridge that leaves fields out, spells flags as JSON booleans and
// reports one lock the service cannot read: the others sync, nothing left out is invented, and
// the bridge device is named as the bridge names itself.
func TestPartialBridgeAnswers(t *testing.T) {
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	fb.SetPartial(fakebridge.Partial{OmitLockFields: []string{"batteryLevel"}, OmitBridgeFields: []string{"isConnected"},
		BooleanFlags: true, MalformedLock: 2})
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	svc := startService(t, b.URL(), bridgeConfig(host, ""))
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)
	rec.WaitFor(t, "tedee/"+proSerial+"/connected", "true", waitTimeout) // a JSON true
	rec.WaitUntil(t, waitTimeout, "the bridge device named by the bridge", func([]brokertest.Message) bool {
		m, ok := rec.Last("homeassistant/binary_sensor/tedee_bridge_home_cloud/config")
		return ok && strings.Contains(m.Payload, `"name":"Bridge-8C14"`)
	})
	for _, topic := range []string{"tedee/" + proSerial + "/battery", "tedee/" + goSerial + "/state", "tedee/" + bridgeSer + "/connected"} {
		if m, ok := rec.Last(topic); ok {
			t.Errorf("%s published as %q, though the bridge did not report it readably", topic, m.Payload)
		}
	}
	if j, _ := rec.Last("tedee/" + proSerial + "/json"); !strings.Contains(j.Payload, `"battery":null`) {
		t.Errorf("json invents a battery: %s", j.Payload)
	}
	if !strings.Contains(svc.logs.String(), "skipped a lock the bridge reported in a form we cannot read") {
		t.Errorf("the unreadable lock was not logged:\n%s", svc.logs)
	}
}

// TestBridgeClockWentBack: a bridge whose clock jumps two hours back (a restart without NTP) is
// followed at its next poll, not two hours later.
func TestBridgeClockWentBack(t *testing.T) {
	b := brokertest.Start(t)
	var offset atomic.Int64 // the bridge's clock minus ours
	fb := fakebridge.New(fakebridge.Options{Token: bridgeToken, TokenMode: "plain", Name: "Bridge-8C14", Serial: bridgeSer,
		TimeScale: 0.3, Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
		Locks: []fakebridge.Lock{{ID: 1, Name: "Front door", Type: 2, Serial: proSerial, State: 6, Battery: 90, Connected: true}}})
	srv := httptest.NewServer(fb)
	t.Cleanup(func() { srv.Close(); fb.Close() })
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/"+proSerial+"/#")
	cfg := fmt.Sprintf("bridges:\n  - name: home\n    host: %q\n    token: %q\n    token_mode: plain\n    poll_interval: 1s\n",
		strings.TrimPrefix(srv.URL, "http://"), bridgeToken)
	svc := startService(t, b.URL(), cfg)
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "locked", waitTimeout)

	offset.Store(int64(-2 * time.Hour))
	fb.Update(1, func(l *fakebridge.Lock) { l.State = 2 })
	rec.WaitFor(t, "tedee/"+proSerial+"/state", "unlocked", waitTimeout)
	if !strings.Contains(svc.logs.String(), "clock went back") {
		t.Errorf("no warning that the bridge's clock went back:\n%s", svc.logs)
	}
}
