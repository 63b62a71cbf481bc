package main

import (
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
)

// A republish (the broker connection came back, Home Assistant's birth) sends every discovery
// config again, and after a reconnection every state: with 10,000 locks, 70,000 configs and as
// many states. Sent at once, they would fill memory and reach Home Assistant faster than it reads,
// past Mosquitto's per-client queue (max_queued_messages, 1,000 by default), which then drops them.
// So the keeper republishes a few locks at a time, and between batches the wiring waits. Live
// changes do not wait behind a republish: it goes through the outbox's second lane (Restate).
const (
	// republishBacklog is how few messages may be pending before the next batch is queued: it
	// bounds what a republish holds in memory. A live change passes those still queued and
	// waits only for those already sent.
	republishBacklog = 100
	// republishRate caps a republish's messages per second: 70,000 configs in about 25 s, well
	// within the minute Home Assistant allows, at a pace a subscriber on a Raspberry Pi keeps up with.
	republishRate = 3000
)

// republishPace returns the pace of one republish: after each batch of n messages it waits until
// the broker has taken most of what is pending (not while disconnected: then everything is queued,
// coalesced per topic, for when it is back) and until the batch's share of the rate has passed.
// It stops the republish when the client closes.
func republishPace(client *mqtt.Client) func(n int) bool {
	start, sent := time.Now(), 0
	return func(n int) bool {
		sent += n
		client.WaitBelow(republishBacklog, time.Second)
		due := start.Add(time.Duration(float64(sent) / republishRate * float64(time.Second)))
		select {
		case <-time.After(time.Until(due)):
			return true
		case <-client.Closing():
			return false // shutting down: what is pending is delivered, the rest is not needed
		}
	}
}
