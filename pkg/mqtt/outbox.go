package mqtt

import (
	"sync"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// outbox holds the messages not yet acknowledged by the broker. Retained messages are state: only
// the newest per topic matters, so a new one replaces a pending one in place and an outage
// converges to the latest state instead of replaying a backlog. Non-retained messages (events) are
// kept in order up to maxEvents and maxEventBytes of topic and payload; beyond either the oldest
// are dropped and counted, so that memory during an outage is bounded whatever the events carry.
//
// Restated messages (a republish: the state and configs again, for a broker or Home Assistant that
// may have lost them) wait in a second lane, sent only when nothing live is queued: a webhook's
// state does not queue behind tens of thousands of configs. A topic has one pending message
// whatever its lane; a live one for a topic pending in the restated lane replaces it and takes the
// live lane, so a newer value never leaves after an older one.
type outbox struct {
	mu       sync.Mutex
	live     lane              // live changes, in order
	restated lane              // restated retained messages, sent when live is empty
	retained map[string]*entry // pending retained entry per topic, in either lane
	// events is the pending events (all in live), oldest first: the next to drop over the bound.
	events    []*entry
	maxEvents int
	// eventBytes is the topic and payload bytes of the pending events, at most maxEventBytes.
	eventBytes, maxEventBytes int
	dropped                   uint64
	// wake is signalled (without blocking) whenever messages are added.
	wake chan struct{}
	// drained, when not nil, is closed once the queue is down to drainedAt messages (or waiting
	// is pointless), waking those waiting for it to shrink. Made only when someone waits. Waking
	// them at every message taken instead cost more CPU than the wait saved.
	drained   chan struct{}
	drainedAt int
}

type entry struct {
	msg state.Message
	// restated: the entry waits in the restated lane. gone: it was removed from its lane
	// (superseded there by a live value, or an event dropped over the bound) and is skipped.
	restated, gone bool
}

// maxQueuedEventBytes bounds the bytes of the events held during an outage: 10,000 events of the
// usual ~500 bytes fit, 10,000 of the largest a sender can make (4 KiB of data) do not.
const maxQueuedEventBytes = 8 << 20

func newOutbox(maxEvents int) *outbox {
	return &outbox{retained: map[string]*entry{}, maxEvents: maxEvents, maxEventBytes: maxQueuedEventBytes,
		live: lane{minGone: compactAfter}, restated: lane{minGone: compactAfter}, wake: make(chan struct{}, 1)}
}

// eventSize is what an event costs against maxEventBytes.
func eventSize(m state.Message) int { return len(m.Topic) + len(m.Payload) }

// push adds live messages and returns how many events it had to drop to stay within the bound.
func (o *outbox) push(msgs ...state.Message) (dropped int) {
	o.mu.Lock()
	for _, m := range msgs {
		if m.Retain {
			if e, ok := o.retained[m.Topic]; ok {
				if !e.restated {
					e.msg = m
					continue
				}
				o.restated.remove(e) // older than m: m goes instead, and in the live lane
			}
			e := &entry{msg: m}
			o.retained[m.Topic] = e
			o.live.add(e)
			continue
		}
		for len(o.events) > 0 && (len(o.events) >= o.maxEvents || o.eventBytes+eventSize(m) > o.maxEventBytes) {
			o.dropOldestEvent()
			dropped++
		}
		e := &entry{msg: m}
		o.live.add(e)
		o.events = append(o.events, e)
		o.eventBytes += eventSize(m)
	}
	o.dropped += uint64(dropped)
	o.mu.Unlock()
	o.signal()
	return dropped
}

// restate adds messages to the restated lane. A topic already pending (in either lane) takes the
// new value in place: it is as new as any. Events are live whatever the caller says.
func (o *outbox) restate(msgs ...state.Message) (dropped int) {
	o.mu.Lock()
	var live []state.Message
	for _, m := range msgs {
		if !m.Retain {
			live = append(live, m)
			continue
		}
		if e, ok := o.retained[m.Topic]; ok {
			e.msg = m
			continue
		}
		e := &entry{msg: m, restated: true}
		o.retained[m.Topic] = e
		o.restated.add(e)
	}
	o.mu.Unlock()
	if len(live) > 0 {
		return o.push(live...)
	}
	o.signal()
	return 0
}

// signal wakes the sender without blocking.
func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// dropOldestEvent drops the oldest pending event, in constant time: during an outage with
// thousands of locks it runs for every event, under the keeper's lock.
func (o *outbox) dropOldestEvent() {
	e := o.events[0]
	o.events = advance(o.events, 1)
	o.eventBytes -= eventSize(e.msg)
	o.live.remove(e)
}

// take removes up to n messages: the live lane's first, then the restated lane's. A retained
// message taken is no longer pending: a newer one for the same topic queues behind it.
func (o *outbox) take(n int) []*entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	batch := o.restated.take(o.live.take(make([]*entry, 0, min(n, o.pending())), n), n)
	if o.drained != nil && o.pending() <= o.drainedAt {
		o.wakeWaiters()
	}
	events := 0 // taken: the oldest pending, since the live lane and events have the same order
	for _, e := range batch {
		if e.msg.Retain {
			delete(o.retained, e.msg.Topic)
		} else {
			events++
			o.eventBytes -= eventSize(e.msg)
		}
	}
	o.events = advance(o.events, events)
	return batch
}

// pending is the number of messages waiting in both lanes; o.mu must be held.
func (o *outbox) pending() int { return o.live.len() + o.restated.len() }

// requeue puts back, at the head of the live lane and in their order, messages the broker did not
// acknowledge (restated ones too: they were sent already once). A retained one superseded by a
// newer pending value is dropped: the newer value will be sent.
func (o *outbox) requeue(failed []*entry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := make([]*entry, 0, len(failed))
	var events []*entry
	for _, e := range failed {
		if e.msg.Retain {
			if _, superseded := o.retained[e.msg.Topic]; superseded {
				continue
			}
			e.restated = false // back in the live lane, whichever it left
			o.retained[e.msg.Topic] = e
		} else {
			events = append(events, e)
			o.eventBytes += eventSize(e.msg)
		}
		keep = append(keep, e)
	}
	o.live.prepend(keep)
	o.events = append(events, o.events...)
	for len(o.events) > 0 && (len(o.events) > o.maxEvents || o.eventBytes > o.maxEventBytes) {
		o.dropOldestEvent()
		o.dropped++
	}
}

// above returns nil when at most n messages are pending, else a channel closed once at most n are
// (or sooner: the caller checks again).
func (o *outbox) above(n int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending() <= n {
		return nil
	}
	if o.drained == nil {
		o.drained, o.drainedAt = make(chan struct{}), n
	}
	o.drainedAt = max(o.drainedAt, n)
	return o.drained
}

// wakeAll wakes everyone waiting in above, whatever the queue's length.
func (o *outbox) wakeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.wakeWaiters()
}

// wakeWaiters wakes everyone waiting in above; o.mu must be held.
func (o *outbox) wakeWaiters() {
	if o.drained != nil {
		close(o.drained)
		o.drained = nil
	}
}

// len returns the number of pending messages.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending()
}

// droppedEvents returns how many events were dropped over the bound so far.
func (o *outbox) droppedEvents() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}
