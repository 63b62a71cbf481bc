package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// TestStopDuringBrokerOutageLosesNothing: webhooks accepted while the broker is down, then a stop
// (as SIGTERM), then the broker back empty: the restarted service publishes every accepted change,
// from data_dir/state.json.
func TestStopDuringBrokerOutageLosesNothing(t *testing.T) {
	b := brokertest.Start(t) // no persistence: it comes back empty
	data := "data_dir: " + fmt.Sprintf("%q", t.TempDir()) + "\n"
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	const locks = 20
	svc := startService(t, b.URL(), data)
	for i := range locks {
		postAll(t, svc.base, lockEvent(fmt.Sprintf("S-%02d", i), t0, 6, 80)...)
	}
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	rec.WaitFor(t, fmt.Sprintf("tedee/S-%02d/battery", locks-1), "80", waitTimeout)

	b.Stop(t)
	for i := range locks { // accepted while the broker is away: 204, and only in memory
		postAll(t, svc.base, lockEvent(fmt.Sprintf("S-%02d", i), t0.Add(time.Minute), 2, 40+i)...)
	}
	svc.stop(t)
	b.Restart(t)
	if got := brokertest.Retained(t, b.URL(), "tedee/#"); len(got) != 0 {
		t.Fatalf("the broker did not come back empty: %d retained", len(got))
	}

	startService(t, b.URL(), data)
	want := map[string]string{}
	for i := range locks {
		want[fmt.Sprintf("tedee/S-%02d/state", i)] = "unlocked"
		want[fmt.Sprintf("tedee/S-%02d/battery", i)] = fmt.Sprint(40 + i)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		got := brokertest.Retained(t, b.URL(), "tedee/#")
		missing := []string{}
		for topic, payload := range want {
			if got[topic] != payload {
				missing = append(missing, topic+"="+payload+" (got "+got[topic]+")")
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, %d accepted changes are missing, e.g. %s", len(missing), missing[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
