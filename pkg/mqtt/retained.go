package mqtt

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// ReadRetained waits for the connection, subscribes to filter, collects the retained messages the
// broker replays, and unsubscribes. ctx bounds the whole of it; when it ends first, what was
// collected so far is returned with the error.
//
// The replay has ended when a marker comes back: a non-retained message the client publishes on
// <StatusTopic>/restore once subscribed, which the broker, handling one client's packets in order,
// delivers after the replay it queued for the subscription. Waiting for a pause instead (quiet)
// gave up too early at scale: with 170,000 retained topics Mosquitto took longer than 300 ms to
// start the replay of 10,000, and a restart read back none. quiet still bounds the wait where the
// marker cannot come (no status topic, or an ACL refusing it): then the replay ends at the first
// pause of quiet after something arrived (of 10 × quiet with a marker that did not come back),
// or after 10 × quiet with nothing.
//
// It subscribes at QoS 0: a broker drops QoS 1 messages, retained replays included, beyond its
// per-client queue (Mosquitto's max_queued_messages, 1,000 by default), so at QoS 1 a restart
// with thousands of locks read back only the first thousand. QoS 0 is not queued that way, and on
// the connection just made nothing is lost between the broker and us.
func (c *Client) ReadRetained(ctx context.Context, filter string, quiet time.Duration) ([]state.Message, error) {
	for !c.Connected() {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read retained %s: %w (%w)", filter, ErrNotConnected, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	var (
		mu   sync.Mutex
		msgs []state.Message
	)
	arrived := make(chan struct{}, 1)
	marker, nonce, ended := "", rand.Text(), make(chan struct{})
	if c.opts.StatusTopic != "" {
		marker = c.opts.StatusTopic + "/restore"
	}
	var endOnce sync.Once
	handler := func(_ paho.Client, m paho.Message) {
		if m.Topic() == marker {
			if string(m.Payload()) == nonce {
				endOnce.Do(func() { close(ended) })
			}
			return
		}
		if !m.Retained() {
			return // live traffic, our own publications among it
		}
		mu.Lock()
		msgs = append(msgs, state.Message{Topic: m.Topic(), Payload: m.Payload(), Retain: true})
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
	}
	filters := map[string]byte{filter: 0 /* QoS: see above */}
	if marker != "" {
		filters[marker] = 0
	}
	t := c.paho.SubscribeMultiple(filters, handler)
	defer func() {
		// Unsubscribe: otherwise every later publication on filter would come back to us.
		topics := []string{filter}
		if marker != "" {
			topics = append(topics, marker)
		}
		c.paho.Unsubscribe(topics...).WaitTimeout(ackTimeout)
	}()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", filter, err)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("subscribe %s: %w", filter, ctx.Err())
	}
	if marker != "" {
		c.paho.Publish(marker, 0, false, nonce) // not through the outbox, which holds delivery now
	}
	// The replay ends at the first pause of quiet once the marker is back (Mosquitto may deliver
	// the marker a little ahead of the replay's last messages), or without a marker; before the
	// marker, only a far longer pause ends it (the marker not coming back).
	markerBack, back := marker == "", (<-chan struct{})(ended)
	timer := time.NewTimer(10 * quiet)
	defer timer.Stop()
	for {
		select {
		case <-back:
			markerBack, back = true, nil
			timer.Reset(quiet)
		case <-arrived:
			if markerBack {
				timer.Reset(quiet)
			} else {
				timer.Reset(10 * quiet)
			}
		case <-timer.C:
			mu.Lock()
			defer mu.Unlock()
			return msgs, nil
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			return msgs, fmt.Errorf("read retained %s: %w", filter, ctx.Err())
		}
	}
}
