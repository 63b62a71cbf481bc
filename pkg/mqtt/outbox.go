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
type outbox struct {
	mu        sync.Mutex
	queue     []*entry
	retained  map[string]*entry // pending retained entry per topic
	events    int               // non-retained entries in queue
	maxEvents int
	// eventBytes is the topic and payload bytes of the events in queue, at most maxEventBytes.
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
}

// maxQueuedEventBytes bounds the bytes of the events held during an outage: 10,000 events of the
// usual ~500 bytes fit, 10,000 of the largest a sender can make (4 KiB of data) do not.
const maxQueuedEventBytes = 8 << 20

func newOutbox(maxEvents int) *outbox {
	return &outbox{retained: map[string]*entry{}, maxEvents: maxEvents, maxEventBytes: maxQueuedEventBytes,
		wake: make(chan struct{}, 1)}
}

// eventSize is what an event costs against maxEventBytes.
func eventSize(m state.Message) int { return len(m.Topic) + len(m.Payload) }

// push adds messages and returns how many events it had to drop to stay within the bound.
func (o *outbox) push(msgs ...state.Message) (dropped int) {
	o.mu.Lock()
	for _, m := range msgs {
		if m.Retain {
			if e, ok := o.retained[m.Topic]; ok {
				e.msg = m
				continue
			}
			e := &entry{msg: m}
			o.retained[m.Topic] = e
			o.queue = append(o.queue, e)
			continue
		}
		for o.events > 0 && (o.events >= o.maxEvents || o.eventBytes+eventSize(m) > o.maxEventBytes) {
			o.dropOldestEvent()
			dropped++
		}
		o.queue = append(o.queue, &entry{msg: m})
		o.events++
		o.eventBytes += eventSize(m)
	}
	o.dropped += uint64(dropped)
	o.mu.Unlock()
	o.signal()
	return dropped
}

// signal wakes the sender without blocking.
func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) dropOldestEvent() {
	for i, e := range o.queue {
		if !e.msg.Retain {
			o.queue = append(o.queue[:i], o.queue[i+1:]...)
			o.events--
			o.eventBytes -= eventSize(e.msg)
			return
		}
	}
}

// take removes up to n messages from the head of the queue. A retained message taken is no longer
// pending: a newer one for the same topic queues behind it.
func (o *outbox) take(n int) []*entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n > len(o.queue) {
		n = len(o.queue)
	}
	batch := make([]*entry, n)
	copy(batch, o.queue[:n])
	o.queue = o.queue[n:]
	if o.drained != nil && len(o.queue) <= o.drainedAt {
		o.wakeWaiters()
	}
	for _, e := range batch {
		if e.msg.Retain {
			delete(o.retained, e.msg.Topic)
		} else {
			o.events--
			o.eventBytes -= eventSize(e.msg)
		}
	}
	return batch
}

// requeue puts back, at the head and in their order, messages the broker did not acknowledge. A
// retained one superseded by a newer pending value is dropped: the newer value will be sent.
func (o *outbox) requeue(failed []*entry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := make([]*entry, 0, len(failed))
	for _, e := range failed {
		if e.msg.Retain {
			if _, superseded := o.retained[e.msg.Topic]; superseded {
				continue
			}
			o.retained[e.msg.Topic] = e
		} else {
			o.events++
			o.eventBytes += eventSize(e.msg)
		}
		keep = append(keep, e)
	}
	o.queue = append(keep, o.queue...)
	for o.events > 0 && (o.events > o.maxEvents || o.eventBytes > o.maxEventBytes) {
		o.dropOldestEvent()
		o.dropped++
	}
}

// above returns nil when at most n messages are pending, else a channel closed once at most n are
// (or sooner: the caller checks again).
func (o *outbox) above(n int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) <= n {
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
	return len(o.queue)
}

// droppedEvents returns how many events were dropped over the bound so far.
func (o *outbox) droppedEvents() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}
