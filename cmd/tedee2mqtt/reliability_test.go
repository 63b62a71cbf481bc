package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

func lockEvent(serial string, at time.Time, state, battery int) []string {
	ts := at.UTC().Format("2006-01-02T15:04:05.000Z")
	return []string{
		fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":1,"serialNumber":%q,"state":%d,"jammed":0}}`, ts, serial, state),
		fmt.Sprintf(`{"event":"device-battery-level-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":1,"serialNumber":%q,"batteryLevel":%d}}`, ts, serial, battery),
	}
}

func postAll(t *testing.T, base string, bodies ...string) {
	t.Helper()
	for _, body := range bodies {
		if status, resp := request(t, "POST", base+"/webhook", body); status != http.StatusNoContent {
			t.Fatalf("POST %s: %d %s", body, status, resp)
		}
	}
}

// TestRestartKeepsStateAndOrdering: with no Bridge API, a restarted service still knows the
// state it published (a late, older event is dropped) and its snapshots stay complete.
func TestRestartKeepsStateAndOrdering(t *testing.T) {
	b := brokertest.Start(t)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	svc := startService(t, b.URL(), "")
	postAll(t, svc.base, lockEvent("R-1", t0.Add(2*time.Second), 6, 80)...)
	postAll(t, svc.base, `{"event":"device-connection-changed","timestamp":"2026-11-01T10:00:02.000Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"R-1","isConnected":1}}`)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/R-1/#")
	rec.WaitFor(t, "tedee/R-1/battery", "80", waitTimeout)
	svc.stop(t)

	svc = startService(t, b.URL(), "")
	before := len(rec.Messages())
	postAll(t, svc.base, lockEvent("R-1", t0.Add(time.Second), 2, 75)...) // older than what was applied
	postAll(t, svc.base, lockEvent("R-1", t0.Add(3*time.Second), 6, 70)[1])
	rec.WaitFor(t, "tedee/R-1/battery", "70", waitTimeout)
	for _, m := range rec.Messages()[before:] {
		if (m.Topic == "tedee/R-1/state" && m.Payload != "locked") || (m.Topic == "tedee/R-1/battery" && m.Payload == "75") {
			t.Errorf("an event older than the state before the restart was applied: %s = %s", m.Topic, m.Payload)
		}
	}
	// The json follows the battery topic; wait for it rather than read whatever came last.
	rec.WaitUntil(t, waitTimeout, `json with "battery":70`, func([]brokertest.Message) bool {
		j, _ := rec.Last("tedee/R-1/json")
		return strings.Contains(j.Payload, `"battery":70`)
	})
	j, _ := rec.Last("tedee/R-1/json")
	for _, want := range []string{`"state":"locked"`, `"battery":70`, `"connected":true`, `"model":"lock_pro"`} {
		if !strings.Contains(j.Payload, want) {
			t.Errorf("snapshot after restart lacks %s: %s", want, j.Payload)
		}
	}
}

// TestStartWhileBrokerDown: a service started while its broker is down accepts webhooks, and when
// the broker comes back it first reads back the state it retains, so the snapshots it publishes
// are complete (the battery from before the restart) and carry the new event.
func TestStartWhileBrokerDown(t *testing.T) {
	b := brokertest.StartWith(t, brokertest.Options{Persistence: true})
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	svc := startService(t, b.URL(), "")
	postAll(t, svc.base, lockEvent("D-1", t0, 6, 80)...)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/D-1/#")
	rec.WaitUntil(t, waitTimeout, "a complete snapshot", func([]brokertest.Message) bool {
		m, ok := rec.Last("tedee/D-1/json")
		return ok && strings.Contains(m.Payload, `"battery":80`)
	})
	svc.stop(t)
	b.Stop(t)

	svc = startServiceUntil(t, "/healthz", b.URL(), "")
	postAll(t, svc.base, lockEvent("D-1", t0.Add(time.Second), 2, 0)[0]) // accepted during the outage
	b.Restart(t)
	deadline := time.Now().Add(40 * time.Second)
	for {
		j := brokertest.Retained(t, b.URL(), "tedee/D-1/json")["tedee/D-1/json"]
		if strings.Contains(j, `"state":"unlocked"`) {
			if !strings.Contains(j, `"battery":80`) || !strings.Contains(j, `"battery":"2026-11-01T10:00:00.000Z"`) {
				t.Fatalf("snapshot after the broker came back lost what it held before: %s", j)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event accepted during the outage never reached the broker; json: %s", j)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status, _ := request(t, "GET", svc.base+"/readyz", ""); status != http.StatusOK {
		t.Errorf("/readyz = %d after the broker came back", status)
	}
}

// TestBrokerOutage: 20 locks, the broker is killed, 200 more events arrive (all accepted), the
// broker comes back on the same port having lost everything: every lock's retained state
// converges to its last event, within a bound.
func TestBrokerOutage(t *testing.T) {
	const locks, during = 20, 200
	b := brokertest.Start(t)
	svc := startService(t, b.URL(), "")
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	type last struct{ state, battery string }
	want := map[string]last{}
	for i := 0; i < locks; i++ {
		serial := fmt.Sprintf("OUT-%02d", i)
		postAll(t, svc.base, lockEvent(serial, t0, 6, 100)...)
		want[serial] = last{"locked", "100"}
	}
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/OUT-19/#")
	rec.WaitFor(t, "tedee/OUT-19/battery", "100", waitTimeout)

	b.Stop(t)
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(20 * time.Millisecond) {
		if status, _ := request(t, "GET", svc.base+"/readyz", ""); status == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz does not report the outage")
		}
	}
	for i := 0; i < during; i++ {
		serial := fmt.Sprintf("OUT-%02d", i%locks)
		state, word := 2, "unlocked"
		if i%2 == 1 {
			state, word = 6, "locked"
		}
		battery := 99 - i/locks
		postAll(t, svc.base, lockEvent(serial, t0.Add(time.Duration(i+1)*time.Second), state, battery)...)
		want[serial] = last{word, fmt.Sprint(battery)}
	}
	b.Restart(t) // no persistence: the broker has forgotten every retained message
	restarted := time.Now()
	var got map[string]string
	for {
		got = brokertest.Retained(t, b.URL(), "tedee/#")
		converged := got["tedee/status"] == "online"
		for serial, w := range want {
			converged = converged && got["tedee/"+serial+"/state"] == w.state && got["tedee/"+serial+"/battery"] == w.battery
		}
		if converged {
			break
		}
		if time.Since(restarted) > 40*time.Second {
			for serial, w := range want {
				t.Errorf("%s: state %q battery %q, want %q %q", serial, got["tedee/"+serial+"/state"], got["tedee/"+serial+"/battery"], w.state, w.battery)
			}
			t.Fatalf("not converged %s after the broker came back", time.Since(restarted))
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(restarted)
	t.Logf("converged %s after the broker came back (%d locks, %d events during the outage)", took.Round(time.Millisecond), locks, 2*during)
	// The bound: paho retries the connection with back-off; 30 s covers a broker that was down
	// for a while, and this outage was short.
	if took > 30*time.Second {
		t.Errorf("convergence took %s, want under 30s", took)
	}
	if status, _ := request(t, "GET", svc.base+"/readyz", ""); status != http.StatusOK {
		t.Errorf("/readyz = %d after the broker came back", status)
	}
}
