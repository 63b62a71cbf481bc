package mqtt

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
)

// The connection's lifecycle beyond delivery: read the state this service left retained back
// before publishing over it, and publish everything again whenever the broker or Home Assistant
// may have lost it. Configured by Options (Restore, Republish, BirthTopic) so that no caller has
// to get an order of calls right.

// restoreQuiet is how long the broker's replay of retained messages must pause before it is
// taken as complete.
const restoreQuiet = 300 * time.Millisecond

// startLifecycle holds delivery until the restore is done and follows Home Assistant's birth
// messages.
func (c *Client) startLifecycle() {
	if c.opts.Restore != nil && c.opts.RestoreFilter != "" {
		// A snapshot published before the old one has been read would replace it. Until the
		// restore, the owner of the state has little to publish, so little queues.
		c.Hold()
		go c.restore()
	} else {
		close(c.restored)
	}
	if c.opts.BirthTopic != "" && c.opts.Republish != nil {
		c.Subscribe(c.opts.BirthTopic, c.onBirth)
	}
}

// Restored is closed once the retained state has been read back and handed to Options.Restore
// (at once without a Restore). Webhooks served before it still work: what they publish waits.
func (c *Client) Restored() <-chan struct{} { return c.restored }

// restore reads the retained state back as soon as the broker is reachable, however long that
// takes, hands it over, republishes everything (what was published meanwhile was built without
// it) and starts delivery.
func (c *Client) restore() {
	defer close(c.restored)
	defer c.Release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	msgs, err := c.ReadRetained(ctx, c.opts.RestoreFilter, restoreQuiet)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return // closed before the broker came up
	}
	if err != nil {
		c.log.Warn("could not read the retained state back from the broker; going on without it", zap.Error(err))
	}
	// Restore republishes what the merge changed (what was published meanwhile was built without
	// it), before delivery starts.
	c.opts.Restore(msgs)
}

// republishOnConnect republishes after a reconnection, and after the first connection when there
// is no restore: the restore republishes what the broker lacks itself, once it has merged what
// the broker held. (This runs after the connection's subscriptions, by when the restore may have
// finished already: checking only that it had, every start republished everything a second
// time, 170,000 messages with 10,000 locks.)
func (c *Client) republishOnConnect(reconnection bool) {
	if c.opts.Republish == nil || (!reconnection && c.opts.Restore != nil) {
		return
	}
	select {
	case <-c.restored:
		c.opts.Republish()
	default:
	}
}

// onBirth handles Home Assistant's status topic: when it says "online" (Home Assistant started,
// or its MQTT integration reloaded), everything is published again after a short random delay,
// as Home Assistant asks, so that many devices answering one birth message do not all arrive at
// once. Births during the delay share one republish.
func (c *Client) onBirth(_ string, payload []byte, _ bool) {
	if string(payload) != "online" || !c.birth.CompareAndSwap(false, true) {
		return
	}
	delay := 500*time.Millisecond + rand.N(2*time.Second)
	c.log.Info("Home Assistant is online, republishing discovery and state", zap.Duration("delay", delay))
	time.AfterFunc(delay, func() {
		c.birth.Store(false)
		select {
		case <-c.stop:
		case <-c.restored: // before the restore, its own republish is still to come
			if c.opts.Birth != nil {
				c.opts.Birth()
			} else {
				c.opts.Republish()
			}
		default:
		}
	})
}
