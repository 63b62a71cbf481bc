package main

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome of one webhook, in pending.state.
const (
	stateUnsent int32 = iota // sent, not answered yet
	stateAccepted
	stateRejected  // answered, but not 2xx
	stateTransport // no answer: connection refused, reset, timeout
)

// pending is a webhook that is not settled yet: sent and waiting for its answer or its event, or
// accepted and lost, or rejected. Times are nanoseconds since the tracker's start plus one, so
// that 0 means "not yet".
type pending struct {
	seq        int
	sent, recv int64
	state      int32
}

// lockTrack holds one lock's unsettled webhooks. A lock's webhooks are sent one at a time, and
// its events usually arrive before the next one is sent, so the list is short: memory follows
// the locks and the webhooks in flight, not the webhooks sent.
type lockTrack struct {
	mu       sync.Mutex
	pending  []pending
	lastSent int // highest seq sent; -1 before the first
}

// maxLostIDs bounds the lost webhooks listed by index (all are counted).
const maxLostIDs = 10000

// tracker matches webhooks to their event messages and measures them, in memory bounded by the
// number of locks and of webhooks unsettled at once (in flight, lost or rejected), never by the
// number sent: a million webhooks take no more than a thousand.
type tracker struct {
	gen   *generator
	start time.Time
	locks []lockTrack

	sent, accepted, rejected, transport    atomic.Int64
	delivered, dups, unmatched, unaccepted atomic.Int64
	outstanding                            atomic.Int64 // accepted, event not yet received
	firstSent, lastResponse, lastEvent     atomic.Int64

	hmu     sync.Mutex
	latency *histogram // send -> event received, of delivered webhooks
	answer  *histogram // send -> HTTP answer, of answered webhooks
	// timeline, when not nil, holds the same per second of send time (the birth scenario
	// compares the seconds of a republish with those before it).
	timeline map[int]*slice
}

// slice is one second of the timeline.
type slice struct{ latency, answer *histogram }

func newTracker(gen *generator, timeline bool) *tracker {
	t := &tracker{gen: gen, start: time.Now(), locks: make([]lockTrack, gen.locks),
		latency: newHistogram(), answer: newHistogram()}
	for i := range t.locks {
		t.locks[i].lastSent = -1
	}
	if timeline {
		t.timeline = map[int]*slice{}
	}
	return t
}

// now is the time since the start in nanoseconds, plus one.
func (t *tracker) now() int64 { return int64(time.Since(t.start)) + 1 }

func raise(a *atomic.Int64, v int64) {
	for last := a.Load(); v > last && !a.CompareAndSwap(last, v); last = a.Load() {
	}
}

// begin records that a lock's seq-th webhook is about to be sent.
func (t *tracker) begin(lock, seq int) {
	at := t.now()
	t.firstSent.CompareAndSwap(0, at)
	lt := &t.locks[lock]
	lt.mu.Lock()
	lt.pending = append(lt.pending, pending{seq: seq, sent: at})
	lt.lastSent = max(lt.lastSent, seq)
	lt.mu.Unlock()
	t.sent.Add(1)
}

// find returns the pending entry of seq, or -1. lt.mu must be held.
func (lt *lockTrack) find(seq int) int {
	for i := range lt.pending {
		if lt.pending[i].seq == seq {
			return i
		}
	}
	return -1
}

// remove drops entry i. lt.mu must be held.
func (lt *lockTrack) remove(i int) {
	lt.pending = slices.Delete(lt.pending, i, i+1)
	if cap(lt.pending) > 16 && len(lt.pending) < cap(lt.pending)/4 {
		lt.pending = slices.Clip(lt.pending) // give back what a burst of stragglers took
	}
}

// answered records the outcome of a lock's seq-th webhook.
func (t *tracker) answered(lock, seq int, state int32) {
	at := t.now()
	if state != stateTransport {
		raise(&t.lastResponse, at)
	}
	lt := &t.locks[lock]
	lt.mu.Lock()
	i := lt.find(seq)
	if i < 0 {
		lt.mu.Unlock()
		return
	}
	p := &lt.pending[i]
	p.state = state
	sent, recv := p.sent, p.recv
	settled := false
	switch state {
	case stateAccepted:
		t.accepted.Add(1)
		if recv != 0 {
			lt.remove(i)
			settled = true
		} else {
			t.outstanding.Add(1)
		}
	case stateRejected:
		t.rejected.Add(1)
	case stateTransport:
		t.transport.Add(1)
	}
	if state != stateAccepted && recv != 0 {
		t.unaccepted.Add(1)
	}
	lt.mu.Unlock()
	t.record(sent, recv, at, settled, state != stateTransport)
}

// received records the event message of a lock's seq-th webhook, arrived at (tracker time).
func (t *tracker) received(lock, seq int, at int64) {
	lt := &t.locks[lock]
	lt.mu.Lock()
	i := lt.find(seq)
	if i < 0 {
		sentBefore := seq <= lt.lastSent
		lt.mu.Unlock()
		if sentBefore {
			t.dups.Add(1) // settled already: its event came before
		} else {
			t.unmatched.Add(1) // a webhook not sent (yet)
		}
		return
	}
	p := &lt.pending[i]
	if p.recv != 0 {
		lt.mu.Unlock()
		t.dups.Add(1)
		return
	}
	p.recv = at
	sent, state := p.sent, p.state
	switch state {
	case stateAccepted:
		t.outstanding.Add(-1)
		lt.remove(i)
	case stateRejected, stateTransport:
		t.unaccepted.Add(1)
	}
	lt.mu.Unlock()
	raise(&t.lastEvent, at)
	if state == stateAccepted {
		t.record(sent, at, 0, true, false)
	}
}

// record adds a settled webhook's latency and an answer's time to the histograms.
func (t *tracker) record(sent, recv, answerAt int64, settled, answered bool) {
	if !settled && !answered {
		return
	}
	t.hmu.Lock()
	defer t.hmu.Unlock()
	var sl *slice
	if t.timeline != nil {
		sec := int(time.Duration(sent) / time.Second)
		if sl = t.timeline[sec]; sl == nil {
			sl = &slice{latency: newHistogram(), answer: newHistogram()}
			t.timeline[sec] = sl
		}
	}
	if settled {
		t.delivered.Add(1)
		t.latency.add(time.Duration(recv - sent))
		if sl != nil {
			sl.latency.add(time.Duration(recv - sent))
		}
	}
	if answered {
		t.answer.add(time.Duration(answerAt - sent))
		if sl != nil {
			sl.answer.add(time.Duration(answerAt - sent))
		}
	}
}

// window merges the timeline's seconds of send time in [from, to).
func (t *tracker) window(from, to time.Duration) (latency, answer *histogram) {
	latency, answer = newHistogram(), newHistogram()
	t.hmu.Lock()
	defer t.hmu.Unlock()
	for sec, sl := range t.timeline {
		at := time.Duration(sec) * time.Second
		if at >= from && at < to {
			latency.merge(sl.latency)
			answer.merge(sl.answer)
		}
	}
	return latency, answer
}

// lost lists, once sending is over, the accepted webhooks whose event never came (by index,
// at most maxLostIDs of them) and counts them all.
func (t *tracker) lost() (n int, ids []int) {
	for lock := range t.locks {
		lt := &t.locks[lock]
		lt.mu.Lock()
		for _, p := range lt.pending {
			if p.state == stateAccepted && p.recv == 0 {
				n++
				if len(ids) < maxLostIDs {
					ids = append(ids, t.gen.indexOf(lock, p.seq))
				}
			}
		}
		lt.mu.Unlock()
	}
	slices.Sort(ids)
	return n, ids
}
