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
	if o.len() != 0 || len(o.events) != 0 || len(o.retained) != 0 {
		t.Errorf("outbox not empty after drain: len=%d events=%d retained=%d", o.len(), len(o.events), len(o.retained))
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
	if o.eventBytes > 100 || len(o.events) != 3 || dropped != 7 {
		t.Errorf("after 10 events of 32 bytes within 100: %d events, %d bytes, %d dropped; want 3, ≤100, 7",
			len(o.events), o.eventBytes, dropped)
	}
	batch := o.take(2)
	o.push(event("e", "x"+big))
	o.requeue(batch)
	if o.eventBytes > 100 || o.eventBytes != 32*len(o.events) {
		t.Errorf("after requeue: %d events, %d bytes", len(o.events), o.eventBytes)
	}
	drain(o)
	if o.eventBytes != 0 || len(o.events) != 0 {
		t.Errorf("drained outbox still counts %d events, %d bytes", len(o.events), o.eventBytes)
	}
}

// A republish waits behind live changes, however much of it is queued, and a live value for a
// topic the republish holds replaces it: it leaves once, in the live lane, never after an older
// value of its own topic.
func TestOutboxRestatedWaitsBehindLive(t *testing.T) {
	o := newOutbox(10)
	o.restate(retained("c/config", "c1"), retained("a/state", "locked"), retained("b/state", "locked"),
		event("e", "restated-event-is-live"))
	o.push(retained("x/state", "open"), event("x/event", "1"))
	o.push(retained("a/state", "unlocked")) // newer than the restated a/state
	o.restate(retained("x/state", "open-again"), retained("b/state", "locked2"))
	if got := o.len(); got != 6 {
		t.Errorf("len = %d, want 6 (the superseded restated value is not pending)", got)
	}
	first := o.take(3)
	var got []string
	for _, e := range first {
		got = append(got, fmt.Sprintf("%s=%s", e.msg.Topic, e.msg.Payload))
	}
	got = append(got, drain(o)...)
	want := []string{"e=restated-event-is-live", "x/state=open-again", "x/event=1", "a/state=unlocked",
		"c/config=c1", "b/state=locked2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if o.len() != 0 || o.restated.gone != 0 || len(o.retained) != 0 {
		t.Errorf("outbox not empty after drain: len=%d stale=%d retained=%d", o.len(), o.restated.gone, len(o.retained))
	}
}

// A restated message the broker did not acknowledge goes back ahead of everything (it was sent
// once), unless a live value for its topic arrived meanwhile.
func TestOutboxRequeueRestated(t *testing.T) {
	o := newOutbox(10)
	o.restate(retained("a/config", "a"), retained("b/config", "b"))
	batch := o.take(2)
	o.push(retained("b/config", "b-live"), retained("z/state", "z"))
	o.requeue(batch)
	want := []string{"a/config=a", "b/config=b-live", "z/state=z"}
	if diff := cmp.Diff(want, drain(o)); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
}

// Taking drops the lanes' references to what was taken, so that a payload sent is not held.
func TestOutboxTakeReleasesEntries(t *testing.T) {
	o := newOutbox(10)
	o.push(retained("a", "1"), retained("b", "2"), retained("c", "3"))
	o.restate(retained("d", "4"), retained("e", "5"))
	backing, restated := o.live.entries[:3], o.restated.entries[:2]
	o.take(2)
	o.take(2)
	for i, e := range append(backing[:2:2], restated[:1]...) {
		if e != nil {
			t.Errorf("taken entry %d (%s) still referenced by its lane", i, e.msg.Topic)
		}
	}
}
