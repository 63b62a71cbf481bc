package mqtt

import (
	"context"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// TestReadRetainedManyTopics: the restore reads back every lock's json, however many. A broker
// keeps a per-client queue of QoS 1 messages beyond those in flight (Mosquitto:
// max_queued_messages, 1,000 by default; 20,000 in brokertest's config) and drops what does not
// fit, retained replays included: read at QoS 1, a default Mosquitto gave back 1,020 of 10,000
// snapshots. So the read-back subscribes at QoS 0, which the queue does not limit. 25,000 topics
// exceed brokertest's queue too.
func TestReadRetainedManyTopics(t *testing.T) {
	b := brokertest.Start(t)
	const n = 25000
	w := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("readback-writer"))
	if tok := w.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	toks := make([]paho.Token, 0, n)
	for i := range n {
		toks = append(toks, w.Publish(fmt.Sprintf("rb/L-%05d/json", i), 1, true, fmt.Sprintf(`{"serial":"L-%05d","pad":"%0400d"}`, i, i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal("publish:", tok.Error())
		}
	}
	w.Disconnect(250)

	r := Dial(Options{URL: b.URL(), ClientID: "readback-reader", QoS: 1, StatusTopic: "rb/status"}, zap.NewNop())
	defer r.Close(time.Second)
	start := time.Now()
	msgs, err := r.ReadRetained(context.Background(), "rb/+/json", restoreQuiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d retained messages in %s", len(msgs), time.Since(start))
	if len(msgs) != n {
		t.Errorf("read %d of %d retained messages", len(msgs), n)
	}
}
