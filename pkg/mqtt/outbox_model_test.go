package mqtt

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// model is the outbox written the plain way (every removal a slice deletion), to check the
// outbox's constant-time bookkeeping against: same operations, same messages out, same counts.
type model struct {
	live, restated      []*modelEntry
	maxEvents, maxBytes int
	dropped             int
}

type modelEntry struct {
	msg      state.Message
	restated bool
}

func (m *model) pending(topic string) (*modelEntry, bool) {
	for _, e := range append(slices.Clone(m.live), m.restated...) {
		if e.msg.Retain && e.msg.Topic == topic {
			return e, true
		}
	}
	return nil, false
}

func (m *model) events() (n, bytes int) {
	for _, e := range m.live {
		if !e.msg.Retain {
			n, bytes = n+1, bytes+eventSize(e.msg)
		}
	}
	return n, bytes
}

func (m *model) dropOldestEvent() {
	i := slices.IndexFunc(m.live, func(e *modelEntry) bool { return !e.msg.Retain })
	m.live = slices.Delete(m.live, i, i+1)
	m.dropped++
}

func (m *model) push(msgs ...state.Message) {
	for _, msg := range msgs {
		if msg.Retain {
			if e, ok := m.pending(msg.Topic); ok {
				if !e.restated {
					e.msg = msg
					continue
				}
				m.restated = slices.DeleteFunc(m.restated, func(x *modelEntry) bool { return x == e })
			}
			m.live = append(m.live, &modelEntry{msg: msg})
			continue
		}
		for n, b := m.events(); n > 0 && (n >= m.maxEvents || b+eventSize(msg) > m.maxBytes); n, b = m.events() {
			m.dropOldestEvent()
		}
		m.live = append(m.live, &modelEntry{msg: msg})
	}
}

func (m *model) restate(msgs ...state.Message) {
	var live []state.Message
	for _, msg := range msgs {
		if !msg.Retain {
			live = append(live, msg)
		} else if e, ok := m.pending(msg.Topic); ok {
			e.msg = msg
		} else {
			m.restated = append(m.restated, &modelEntry{msg: msg, restated: true})
		}
	}
	m.push(live...)
}

func (m *model) take(n int) []*modelEntry {
	k := min(n, len(m.live))
	batch := slices.Clone(m.live[:k])
	m.live = m.live[k:]
	r := min(n-k, len(m.restated))
	for _, e := range m.restated[:r] {
		e.restated = false
		batch = append(batch, e)
	}
	m.restated = m.restated[r:]
	return batch
}

func (m *model) requeue(failed []*modelEntry) {
	var keep []*modelEntry
	for _, e := range failed {
		if _, superseded := m.pending(e.msg.Topic); e.msg.Retain && superseded {
			continue
		}
		keep = append(keep, e)
	}
	m.live = append(keep, m.live...)
	for n, b := m.events(); n > 0 && (n > m.maxEvents || b > m.maxBytes); n, b = m.events() {
		m.dropOldestEvent()
	}
}

func describe[E any](es []E, msg func(E) state.Message) []string {
	out := []string{}
	for _, e := range es {
		m := msg(e)
		out = append(out, fmt.Sprintf("%s=%s/%v", m.Topic, m.Payload, m.Retain))
	}
	return out
}

func (o *outbox) pendingMessages() []string {
	var es []*entry
	for _, e := range append(slices.Clone(o.live.entries), o.restated.entries...) {
		if !e.gone {
			es = append(es, e)
		}
	}
	return describe(es, func(e *entry) state.Message { return e.msg })
}

// TestOutboxMatchesModel runs random pushes, republishes, takes, acknowledgements and failures on
// the outbox and on the model, with bounds small enough to drop events often and, for half of the
// runs, lanes compacted as soon as they can be, and compares every batch taken and what is pending after every step.
func TestOutboxMatchesModel(t *testing.T) {
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 1))
		o := newOutbox(1 + r.IntN(20))
		o.maxEventBytes = 20 + r.IntN(200)
		if seed%2 == 0 { // compact the lanes as soon as half of them is gone
			o.live.minGone, o.restated.minGone = 1, 1
		}
		m := &model{maxEvents: o.maxEvents, maxBytes: o.maxEventBytes}
		var inflight [][]*entry
		var minflight [][]*modelEntry
		msg := func(i int) state.Message {
			if r.IntN(3) == 0 {
				return state.Message{Topic: "e", Payload: fmt.Appendf(nil, "%d", i)}
			}
			return state.Message{Topic: fmt.Sprintf("t%d", r.IntN(8)), Payload: fmt.Appendf(nil, "%d", i), Retain: true}
		}
		for step := range 1000 {
			switch op := r.IntN(10); {
			case op < 4:
				msgs := []state.Message{msg(step), msg(step)}
				o.push(msgs...)
				m.push(msgs...)
			case op < 6:
				msgs := []state.Message{msg(step), msg(step), msg(step)}
				o.restate(msgs...)
				m.restate(msgs...)
			case op < 8:
				n := r.IntN(6)
				got, want := o.take(n), m.take(n)
				g := describe(got, func(e *entry) state.Message { return e.msg })
				w := describe(want, func(e *modelEntry) state.Message { return e.msg })
				if diff := cmp.Diff(w, g); diff != "" {
					t.Fatalf("seed %d step %d: take(%d) (-model +outbox):\n%s", seed, step, n, diff)
				}
				inflight, minflight = append(inflight, got), append(minflight, want)
			case len(inflight) > 0:
				i := r.IntN(len(inflight))
				if op == 8 { // the broker did not acknowledge it
					o.requeue(inflight[i])
					m.requeue(minflight[i])
				}
				inflight, minflight = slices.Delete(inflight, i, i+1), slices.Delete(minflight, i, i+1)
			}
			want := describe(append(slices.Clone(m.live), m.restated...), func(e *modelEntry) state.Message { return e.msg })
			if diff := cmp.Diff(want, o.pendingMessages()); diff != "" {
				t.Fatalf("seed %d step %d: pending (-model +outbox):\n%s", seed, step, diff)
			}
			n, b := m.events()
			if o.len() != len(want) || len(o.events) != n || o.eventBytes != b || o.droppedEvents() != uint64(m.dropped) {
				t.Fatalf("seed %d step %d: len %d events %d bytes %d dropped %d; model %d %d %d %d", seed, step,
					o.len(), len(o.events), o.eventBytes, o.droppedEvents(), len(want), n, b, m.dropped)
			}
		}
	}
}

// TestOutboxOutageFloodStaysBounded: during an outage nothing is taken, and every event over the
// bound is dropped; the lane's marks of dropped events must not pile up.
func TestOutboxOutageFloodStaysBounded(t *testing.T) {
	o := newOutbox(100)
	o.push(retained("a/state", "locked"))
	for i := range 100000 {
		o.push(event("a/event", fmt.Sprint(i)))
	}
	if got, limit := len(o.live.entries), 2*o.live.len()+compactAfter; got > limit {
		t.Errorf("live lane holds %d entries for %d pending, want at most %d", got, o.live.len(), limit)
	}
	got := drain(o)
	if len(got) != 101 || got[0] != "a/state=locked" || got[1] != "a/event=99900" || got[100] != "a/event=99999" {
		t.Errorf("after the flood: %d messages, %v … %v", len(got), got[:2], got[len(got)-1])
	}
}

// BenchmarkOutboxPushDuringOutage: an event pushed while 10,000 locks' retained topics (120,000)
// and 10,000 events are pending, so that the oldest event must be dropped each time.
func BenchmarkOutboxPushDuringOutage(b *testing.B) {
	o := newOutbox(10000)
	for i := range 120000 {
		o.push(retained(fmt.Sprintf("t/%d", i), "x"))
	}
	for i := range 10000 {
		o.push(event("e", fmt.Sprint(i)))
	}
	ev := event("e", "new")
	b.ResetTimer()
	for range b.N {
		o.push(retained("t/5", "y"), ev)
	}
}
