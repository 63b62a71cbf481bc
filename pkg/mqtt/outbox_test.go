package mqtt

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

func retained(topic, payload string) state.Message {
	return state.Message{Topic: topic, Payload: []byte(payload), Retain: true}
}

func event(topic, payload string) state.Message {
	return state.Message{Topic: topic, Payload: []byte(payload)}
}

func drain(o *outbox) []string {
	var out []string
	for _, e := range o.take(1 << 20) {
		out = append(out, fmt.Sprintf("%s=%s", e.msg.Topic, e.msg.Payload))
	}
	return out
}

func TestOutboxCoalescesStateKeepsEvents(t *testing.T) {
	o := newOutbox(10)
	o.push(retained("a/state", "locked"), event("a/event", "1"))
	o.push(retained("a/state", "unlocked"), event("a/event", "2"), retained("b/state", "locked"))
	want := []string{"a/state=unlocked", "a/event=1", "a/event=2", "b/state=locked"}
	if diff := cmp.Diff(want, drain(o)); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
	if o.len() != 0 || o.events != 0 || len(o.retained) != 0 {
		t.Errorf("outbox not empty after drain: len=%d events=%d retained=%d", o.len(), o.events, len(o.retained))
	}
}

func TestOutboxBoundsEvents(t *testing.T) {
	o := newOutbox(3)
	dropped := 0
	for i := 0; i < 5; i++ {
		dropped += o.push(event("a/event", fmt.Sprint(i)), retained("a/state", fmt.Sprint(i)))
	}
	if dropped != 2 || o.droppedEvents() != 2 {
		t.Errorf("dropped = %d (total %d), want 2", dropped, o.droppedEvents())
	}
	want := []string{"a/state=4", "a/event=2", "a/event=3", "a/event=4"}
	if diff := cmp.Diff(want, drain(o)); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
}

func TestOutboxRequeue(t *testing.T) {
	o := newOutbox(10)
	o.push(retained("a/state", "locked"), event("a/event", "1"), retained("b/state", "locked"))
	batch := o.take(2)
	// While the batch was in flight, a newer a/state arrived: the failed old value must not be
	// sent again, the event must, and it goes ahead of what queued meanwhile.
	o.push(retained("a/state", "unlocked"))
	o.requeue(batch)
	want := []string{"a/event=1", "b/state=locked", "a/state=unlocked"}
	if diff := cmp.Diff(want, drain(o)); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
}

// Events are bounded by their bytes too: large ones cannot hold more memory than small ones.
func TestOutboxBoundsEventBytes(t *testing.T) {
	o := newOutbox(1000)
	o.maxEventBytes = 100
	big := string(make([]byte, 30))
	dropped := 0
	for i := range 10 {
		dropped += o.push(event("e", fmt.Sprint(i)+big))
	}
	if o.eventBytes > 100 || o.events != 3 || dropped != 7 {
		t.Errorf("after 10 events of 32 bytes within 100: %d events, %d bytes, %d dropped; want 3, ≤100, 7",
			o.events, o.eventBytes, dropped)
	}
	batch := o.take(2)
	o.push(event("e", "x"+big))
	o.requeue(batch)
	if o.eventBytes > 100 || o.eventBytes != 32*o.events {
		t.Errorf("after requeue: %d events, %d bytes", o.events, o.eventBytes)
	}
	drain(o)
	if o.eventBytes != 0 || o.events != 0 {
		t.Errorf("drained outbox still counts %d events, %d bytes", o.events, o.eventBytes)
	}
}
