package mqtt

import (
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

// send delivers queued messages while connected, until Close.
func (c *Client) send() {
	defer close(c.done)
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.out.wake:
		case <-retry.C:
		}
		if err := c.flush(c.stop); err != nil {
			c.log.Debug("delivery paused", zap.Error(err))
			// Back off a little before trying again; a reconnect wakes us sooner.
			retry.Reset(time.Second)
		}
	}
}

var (
	// ErrNotConnected means the broker could not be reached.
	ErrNotConnected = errors.New("not connected to broker")
	errHeld         = errors.New("delivery held")
)

// flush delivers everything queued until the queue is empty, the connection is down, or abort is
// closed. Messages not acknowledged go back to the head of the queue, in order.
//
// Up to maxInFlight messages await their PUBACK at once, and a message goes out as soon as it is
// queued and a slot is free: flush never waits for a whole batch to be acknowledged before sending
// more. Waiting for batches stalls on brokers that hold back PUBACKs - Mosquitto by default
// (set_tcp_nodelay false) sends one and keeps the rest until the client ACKs the TCP segment, and
// a client with nothing to send delays that ACK for up to 40 ms - which held every webhook for
// about 40 ms and capped delivery at a batch per stall.
func (c *Client) flush(abort <-chan struct{}) error {
	type flight struct {
		e     *entry
		token paho.Token
		sent  time.Time
	}
	var (
		inflight []flight
		failed   []*entry
		firstErr error
	)
	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	// giveUp fails everything still in flight; stopping sending after a failure keeps what is
	// requeued ahead of everything not yet sent, so order is kept.
	// Messages behind the head may have been acknowledged already: those are done, and sending
	// them again would duplicate events.
	giveUp := func(err error, observe bool) {
		for _, f := range inflight {
			select {
			case <-f.token.Done():
				if f.token.Error() == nil {
					c.observe(true)
					continue
				}
			default:
			}
			if observe {
				c.observe(false)
			}
			failed = append(failed, f.e)
		}
		inflight = nil
		firstErr = err
	}
	for {
		if firstErr == nil {
			if !c.Connected() {
				firstErr = ErrNotConnected
			} else if c.held.Load() {
				firstErr = errHeld
			} else if room := maxInFlight - len(inflight); room > 0 {
				for _, e := range c.out.take(room) {
					t := c.paho.Publish(e.msg.Topic, c.opts.QoS, e.msg.Retain, e.msg.Payload)
					inflight = append(inflight, flight{e: e, token: t, sent: time.Now()})
				}
				c.inflight.Store(int64(len(inflight)))
			}
		}
		if len(inflight) == 0 {
			break
		}
		head := inflight[0]
		timer.Reset(time.Until(head.sent.Add(ackTimeout)))
		var more <-chan struct{} // new messages to send while waiting, when there is room
		if firstErr == nil && len(inflight) < maxInFlight {
			more = c.out.wake
		}
		select {
		case <-head.token.Done():
			inflight = inflight[1:]
			c.inflight.Store(int64(len(inflight)))
			err := head.token.Error()
			c.observe(err == nil)
			if err != nil {
				failed = append(failed, head.e)
				if firstErr == nil {
					firstErr = fmt.Errorf("publish %s: %w", head.e.msg.Topic, err)
				}
			}
		case <-more:
		case <-timer.C:
			giveUp(fmt.Errorf("publish %s: no acknowledgement within %s", head.e.msg.Topic, ackTimeout), true)
		case <-abort:
			giveUp(errors.New("aborted"), false)
		}
	}
	if len(failed) > 0 {
		c.out.requeue(failed)
	}
	c.inflight.Store(0) // what failed is queued again: counted by the outbox
	return firstErr
}

func (c *Client) observe(ok bool) {
	if c.opts.Observer != nil {
		c.opts.Observer.Published(ok)
	}
}
