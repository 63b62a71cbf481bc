package mqtt

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// countingObserver records publish results.
type countingObserver struct {
	mu      sync.Mutex
	ok, bad int
}

func (o *countingObserver) Published(ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ok {
		o.ok++
	} else {
		o.bad++
	}
}

func (o *countingObserver) counts() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ok, o.bad
}

// TestObserverCountsAcknowledgedPublishes: every queued message the broker acknowledges is
// reported once as ok; the status announcements outside the queue are not reported.
func TestObserverCountsAcknowledgedPublishes(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "obs/#")
	obs := &countingObserver{}
	c := Dial(Options{URL: b.URL(), ClientID: "observer-test", QoS: 1, StatusTopic: "obs/status", Observer: obs}, zap.NewNop())
	c.Publish(
		state.Message{Topic: "obs/a", Payload: []byte("1"), Retain: true},
		state.Message{Topic: "obs/b", Payload: []byte("2"), Retain: true},
		state.Message{Topic: "obs/event", Payload: []byte("3")},
	)
	rec.WaitFor(t, "obs/event", "3", 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for ok, _ := obs.counts(); ok < 3 && time.Now().Before(deadline); ok, _ = obs.counts() {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, bad := obs.counts(); ok != 3 || bad != 0 {
		t.Errorf("observer saw %d ok and %d errors, want 3 and 0", ok, bad)
	}
}
