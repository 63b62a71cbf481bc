package keeper

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
)

// TestConcurrentSourcesOverMosquitto: the same as TestConcurrentSourcesOneLock, through the real
// MQTT client (its outbox coalesces pending retained messages, 64 in flight) to a real Mosquitto:
// once everything is delivered, what the broker retains is what the store holds.
func TestConcurrentSourcesOverMosquitto(t *testing.T) {
	b := brokertest.Start(t)
	client := mqtt.Dial(mqtt.Options{URL: b.URL(), ClientID: fmt.Sprintf("keeper-%d", time.Now().UnixNano()), QoS: 1,
		StatusTopic: "tedee/status"}, zap.NewNop())
	defer client.Close(time.Second)
	k := newKeeper(client)
	serials := []string{"L-1", "L-2", "L-3"}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			source(t, k, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g))), serials, 300, true)
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for client.Pending() > 0 { // queued or awaiting the broker's acknowledgement
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still pending", client.Pending())
		}
		time.Sleep(20 * time.Millisecond)
	}
	retained := brokertest.Retained(t, b.URL(), "#")
	delete(retained, "tedee/status") // the client's own, not the store's
	sameAsStore(t, retained, k.view())
}
