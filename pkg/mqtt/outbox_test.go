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
