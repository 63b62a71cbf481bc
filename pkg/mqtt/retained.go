package mqtt

import (
	"context"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// ReadRetained waits for the connection, subscribes to filter, collects the retained messages the
// broker replays until none has arrived for quiet, and unsubscribes. ctx bounds the whole of it;
// when it ends first, what was collected so far is returned with the error.
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
	t := c.paho.Subscribe(filter, 0 /* QoS: see above */, func(_ paho.Client, m paho.Message) {
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
	})
	defer func() {
		// Unsubscribe: otherwise every later publication on filter would come back to us.
		c.paho.Unsubscribe(filter).WaitTimeout(ackTimeout)
	}()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", filter, err)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("subscribe %s: %w", filter, ctx.Err())
	}
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		select {
		case <-arrived:
			timer.Reset(quiet)
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
