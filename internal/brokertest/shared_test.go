package brokertest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestSharedSubscriptionSplitsCommands is the part of docs/scaling.md that runs here: two
// instances that subscribe to the command topic as one shared group ($share/<group>/…, MQTT 5's
// shared subscriptions, which Mosquitto 2 also serves to MQTT 3.1.1 clients) each get a share of
// the commands, and no command reaches both, so no lock moves twice. Without the group both
// would get every one. It logs the split.
func TestSharedSubscriptionSplitsCommands(t *testing.T) {
	b := Start(t)
	if b.Kind() != "mosquitto" {
		t.Skip("shared subscriptions are Mosquitto's here; the embedded fallback is not the broker measured")
	}
	const commands = 1000
	var mu sync.Mutex
	got := map[string][]string{} // instance → payloads
	var all sync.WaitGroup
	all.Add(commands)
	for _, instance := range []string{"a", "b"} {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("shared-" + instance))
		if tok := c.Connect(); !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", instance, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		tok := c.Subscribe("$share/tedee2mqtt/tedee/+/set", 1, func(_ paho.Client, m paho.Message) {
			mu.Lock()
			got[instance] = append(got[instance], string(m.Payload()))
			mu.Unlock()
			all.Done()
		})
		if !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", instance, tok.Error())
		}
	}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("shared-publisher"))
	if tok := pub.Connect(); !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	start := time.Now()
	for i := range commands {
		pub.Publish(fmt.Sprintf("tedee/L-%03d/set", i%100), 1, false, fmt.Sprint(i))
	}
	done := make(chan struct{})
	go func() { all.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatalf("not every command arrived: %d + %d of %d", len(got["a"]), len(got["b"]), commands)
	}
	time.Sleep(200 * time.Millisecond) // a command delivered twice would arrive meanwhile
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, payloads := range got {
		for _, p := range payloads {
			if seen[p] {
				t.Errorf("command %s reached both instances", p)
			}
			seen[p] = true
		}
	}
	if len(seen) != commands || len(got["a"]) == 0 || len(got["b"]) == 0 {
		t.Errorf("split %d / %d, %d distinct of %d", len(got["a"]), len(got["b"]), len(seen), commands)
	}
	t.Logf("%d commands in %s: instance a %d, instance b %d", commands, time.Since(start).Round(time.Millisecond), len(got["a"]), len(got["b"]))
}
