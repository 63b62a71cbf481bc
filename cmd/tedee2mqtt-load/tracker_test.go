package main

import (
	"fmt"
	"testing"
	"time"
)

func testTracker(t *testing.T, locks int, timeline bool) *tracker {
	t.Helper()
	gen, err := newGenerator(locks, 100*locks, 20000000, testBase, formatPost)
	if err != nil {
		t.Fatal(err)
	}
	return newTracker(gen, timeline)
}

func (t *tracker) pendingCount() int {
	n := 0
	for i := range t.locks {
		n += len(t.locks[i].pending)
	}
	return n
}

// Every order in which an answer and an event can arrive settles a webhook once, and what is
// settled is forgotten.
func TestTrackerSettlesInEitherOrder(t *testing.T) {
	tr := testTracker(t, 3, false)
	tr.begin(0, 0)
	tr.answered(0, 0, stateAccepted)
	tr.received(0, 0, tr.now()) // event after the answer
	tr.begin(1, 0)
	tr.received(1, 0, tr.now()) // event before the answer
	tr.answered(1, 0, stateAccepted)
	if got := tr.delivered.Load(); got != 2 {
		t.Errorf("delivered %d, want 2", got)
	}
	if tr.latency.count() != 2 || tr.answer.count() != 2 {
		t.Errorf("latencies %d, answers %d, want 2, 2", tr.latency.count(), tr.answer.count())
	}
	if n := tr.pendingCount(); n != 0 || tr.outstanding.Load() != 0 {
		t.Errorf("%d pending, %d outstanding after both settled", n, tr.outstanding.Load())
	}
	tr.received(0, 0, tr.now()) // again
	tr.received(2, 0, tr.now()) // never sent
	if tr.dups.Load() != 1 || tr.unmatched.Load() != 1 {
		t.Errorf("duplicates %d, unmatched %d, want 1, 1", tr.dups.Load(), tr.unmatched.Load())
	}
}

func TestTrackerCountsLostRejectedAndUnaccepted(t *testing.T) {
	tr := testTracker(t, 4, false)
	for seq := range 5 {
		for lock := range 4 {
			tr.begin(lock, seq)
			switch {
			case lock == 3 && seq == 2:
				tr.answered(lock, seq, stateRejected) // rejected, no event
			case lock == 2 && seq == 4:
				tr.received(lock, seq, tr.now()) // published, then answered 500
				tr.answered(lock, seq, stateRejected)
			case lock == 1 && seq == 3:
				tr.answered(lock, seq, stateTransport)
			case lock == 0 && seq%2 == 1:
				tr.answered(lock, seq, stateAccepted) // lost
			default:
				tr.answered(lock, seq, stateAccepted)
				tr.received(lock, seq, tr.now())
			}
		}
	}
	if tr.outstanding.Load() != 2 {
		t.Errorf("outstanding %d, want the 2 lost", tr.outstanding.Load())
	}
	r := tr.result("x", nil, nil, 0, nil)
	if r.Sent != 20 || r.Accepted != 17 || r.Rejected != 2 || r.Transport != 1 {
		t.Errorf("sent %d accepted %d rejected %d transport %d; want 20 17 2 1", r.Sent, r.Accepted, r.Rejected, r.Transport)
	}
	if r.Delivered != 15 || r.Lost != 2 || r.Unaccepted != 1 {
		t.Errorf("delivered %d lost %d unaccepted %d; want 15 2 1", r.Delivered, r.Lost, r.Unaccepted)
	}
	gen := tr.gen
	if want := []int{gen.indexOf(0, 1), gen.indexOf(0, 3)}; fmt.Sprint(r.LostIDs) != fmt.Sprint(want) {
		t.Errorf("lost ids %v, want %v", r.LostIDs, want)
	}
	if r.Latency.count() != 15 || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Errorf("%d latencies, p50 %v p99 %v max %v", r.Latency.count(), r.P50, r.P99, r.Max)
	}
}

// A long healthy run keeps nothing per webhook.
func TestTrackerMemoryDoesNotGrowWithWebhooks(t *testing.T) {
	tr := testTracker(t, 10, false)
	for seq := range 100 {
		for lock := range 10 {
			tr.begin(lock, seq)
			tr.answered(lock, seq, stateAccepted)
			tr.received(lock, seq, tr.now())
		}
	}
	if n := tr.pendingCount(); n != 0 {
		t.Errorf("%d webhooks still held after all settled", n)
	}
	if tr.delivered.Load() != 1000 {
		t.Errorf("delivered %d", tr.delivered.Load())
	}
}

func TestTrackerWindows(t *testing.T) {
	tr := testTracker(t, 2, true)
	// Fake send times: webhooks "sent" at 0.5 s, 1.5 s and 2.5 s with latencies 1, 2 and 30 ms.
	add := func(sentAt, latency time.Duration) {
		sent := int64(sentAt) + 1
		tr.record(sent, sent+int64(latency), sent+int64(latency/2), true, true)
	}
	add(500*time.Millisecond, time.Millisecond)
	add(1500*time.Millisecond, 2*time.Millisecond)
	add(2500*time.Millisecond, 30*time.Millisecond)
	lat, ans := tr.window(0, 2*time.Second)
	if lat.count() != 2 || lat.max != 2*time.Millisecond || ans.max != time.Millisecond {
		t.Errorf("first two seconds: %d latencies, max %v, answer max %v", lat.count(), lat.max, ans.max)
	}
	lat, _ = tr.window(2*time.Second, 3*time.Second)
	if lat.count() != 1 || lat.percentile(99) != 30*time.Millisecond {
		t.Errorf("third second: %d latencies, p99 %v", lat.count(), lat.percentile(99))
	}
}
