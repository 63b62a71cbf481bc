package mqtt

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

func events(n int) []state.Message {
	msgs := make([]state.Message, n)
	for i := range msgs {
		msgs[i] = state.Message{Topic: "bp/event", Payload: fmt.Appendf(nil, "%d", i)}
	}
	return msgs
}

// returnsWithin runs f and fails the test if it has not returned after limit.
func returnsWithin(t *testing.T, limit time.Duration, what string, f func()) time.Duration {
	t.Helper()
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		f()
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		return d
	case <-time.After(limit):
		t.Fatalf("%s still waiting after %s", what, limit)
		return 0
	}
}

func TestOutboxAbove(t *testing.T) {
	o := newOutbox(100)
	if o.above(0) != nil {
		t.Fatal("empty outbox: above(0) must not wait")
	}
	o.push(events(3)...)
	if o.above(3) != nil {
		t.Error("3 pending: above(3) must not wait")
	}
	ch := o.above(2)
	if ch == nil {
		t.Fatal("3 pending: above(2) must wait")
	}
	select {
	case <-ch:
		t.Fatal("woken before anything left the queue")
	default:
	}
	o.push(events(1)...)
	select {
	case <-ch:
		t.Fatal("woken by a push")
	default:
	}
	o.take(1) // 3 left
	select {
	case <-ch:
		t.Fatal("woken with 3 pending, waiting for 2")
	default:
	}
	o.take(1)
	select {
	case <-ch:
	default:
		t.Fatal("not woken when the queue was down to 2")
	}
}

// TestWaitBelowWaitsForTheBroker: connected, WaitBelow returns once the backlog is down to n, and
// only then.
func TestWaitBelowWaitsForTheBroker(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "bp/#")
	c := Dial(Options{URL: b.URL(), ClientID: "bp-wait", QoS: 1, StatusTopic: "bp/status"}, zap.NewNop())
	defer c.Close(time.Second)
	rec.WaitFor(t, "bp/status", "online", 10*time.Second)
	for i := 0; i < 20; i++ {
		c.Publish(events(500)...)
		returnsWithin(t, 30*time.Second, "WaitBelow(10)", func() { c.WaitBelow(10, time.Hour) })
		if n := c.out.len(); n > 10 {
			t.Fatalf("WaitBelow(10) returned with %d queued", n)
		}
	}
	rec.WaitFor(t, "bp/event", "499", 10*time.Second)
}

// TestWaitBelowDoesNotWaitDuringOutage: with no broker, WaitBelow returns at once whatever the
// backlog, so webhooks are still accepted at once during an outage.
func TestWaitBelowDoesNotWaitDuringOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	c := Dial(Options{URL: url, ClientID: "bp-outage", QoS: 1, StatusTopic: "bp/status"}, zap.NewNop())
	defer c.Close(0)
	c.Publish(events(1000)...)
	returnsWithin(t, 10*time.Second, "WaitBelow during an outage", func() { c.WaitBelow(0, time.Hour) })
	if c.Pending() != 1000 {
		t.Errorf("pending = %d, want 1000 (nothing can have been delivered)", c.Pending())
	}
}

// TestWaitBelowGivesUpAfterMax: a broker that accepts the connection but never acknowledges a
// publish holds WaitBelow for max, not longer.
func TestWaitBelowGivesUpAfterMax(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 1)
				if _, err := conn.Read(buf); err != nil { // the CONNECT packet's first byte
					return
				}
				conn.Write([]byte{0x20, 0x02, 0x00, 0x00}) // CONNACK, accepted; then silence
				io.Copy(io.Discard, conn)
			}()
		}
	}()
	c := Dial(Options{URL: "tcp://" + ln.Addr().String(), ClientID: "bp-stall", QoS: 1, StatusTopic: "bp/status"}, zap.NewNop())
	defer c.Close(0)
	deadline := time.Now().Add(10 * time.Second)
	for !c.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !c.Connected() {
		t.Fatal("not connected to the silent broker")
	}
	c.Publish(events(maxInFlight + 100)...)
	const max = 200 * time.Millisecond
	waited := returnsWithin(t, 10*time.Second, "WaitBelow against a silent broker", func() { c.WaitBelow(0, max) })
	if waited < max {
		t.Errorf("WaitBelow returned after %s with %d pending, before its %s", waited, c.Pending(), max)
	}
}

// TestHoldQueuesUntilRelease: while held, nothing queued is sent although connected, retained
// messages coalesce, WaitBelow does not wait; on Release the newest values and every event go out.
func TestHoldQueuesUntilRelease(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#") // hold/# and events()' bp/event
	c := Dial(Options{URL: b.URL(), ClientID: "hold-test", QoS: 1, StatusTopic: "hold/status"}, zap.NewNop())
	defer c.Close(time.Second)
	c.Hold()
	rec.WaitFor(t, "hold/status", "online", 10*time.Second) // connected: the status is not queued
	c.Publish(state.Message{Topic: "hold/state", Payload: []byte("1"), Retain: true},
		state.Message{Topic: "hold/event", Payload: []byte("a")})
	c.Publish(state.Message{Topic: "hold/state", Payload: []byte("2"), Retain: true},
		state.Message{Topic: "hold/event", Payload: []byte("b")})
	c.Publish(events(PaceBacklog)...)
	returnsWithin(t, 10*time.Second, "WaitBelow while held", func() { c.WaitBelow(0, time.Hour) })
	time.Sleep(300 * time.Millisecond) // what a release-less sender would have delivered by now
	for _, m := range rec.Messages() {
		if m.Topic != "hold/status" {
			t.Fatalf("delivered while held: %s", m)
		}
	}
	c.Release()
	rec.WaitFor(t, "bp/event", fmt.Sprint(PaceBacklog-1), 10*time.Second)
	var got []string
	for _, m := range rec.Messages() {
		if m.Topic == "hold/state" || m.Topic == "hold/event" {
			got = append(got, m.Topic+"="+m.Payload)
		}
	}
	if want := "hold/state=2 hold/event=a hold/event=b"; strings.Join(got, " ") != want {
		t.Errorf("after release: %v, want %s", got, want)
	}
}

// TestRestatedAfterLive: through a real broker, a live change queued behind a republish of
// thousands of retained messages reaches a subscriber before the republish, and a topic
// republished and then changed ends with its change.
func TestRestatedAfterLive(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "lane/#")
	c := Dial(Options{URL: b.URL(), ClientID: "lane-test", QoS: 1, StatusTopic: "lane/status"}, zap.NewNop())
	defer c.Close(time.Second)
	c.Hold()
	rec.WaitFor(t, "lane/status", "online", 10*time.Second)
	const n = 2000
	restated := make([]state.Message, n)
	for i := range restated {
		restated[i] = state.Message{Topic: fmt.Sprintf("lane/config/%d", i), Payload: []byte("c"), Retain: true}
	}
	c.Restate(restated...)
	c.Restate(state.Message{Topic: "lane/lock/state", Payload: []byte("locked"), Retain: true})
	c.Publish(state.Message{Topic: "lane/lock/state", Payload: []byte("unlocked"), Retain: true},
		state.Message{Topic: "lane/lock/event", Payload: []byte("unlocked")})
	if got := c.Pending(); got != n+2 {
		t.Errorf("pending = %d, want %d (the superseded republished state is not)", got, n+2)
	}
	c.Release()
	rec.WaitFor(t, fmt.Sprintf("lane/config/%d", n-1), "c", 20*time.Second)
	var got []string
	for _, m := range rec.Messages() {
		if m.Topic != "lane/status" {
			got = append(got, m.Topic+"="+m.Payload)
		}
	}
	if len(got) != n+2 {
		t.Fatalf("received %d messages, want %d", len(got), n+2)
	}
	if want := "lane/lock/state=unlocked lane/lock/event=unlocked"; strings.Join(got[:2], " ") != want {
		t.Errorf("first received: %v, want %s before the republish", got[:2], want)
	}
	for _, m := range got[2:] {
		if strings.HasPrefix(m, "lane/lock/") {
			t.Errorf("received %s after the live change", m)
		}
	}
}
