package fakecloud

// How the fake's time passes: pending lock movements and settings are applied when they are
// due, by timers with the real clock and on the next question with a fake one, and the OnMove
// calls they cause are made afterwards, outside the lock, in order.

import "time"

// move is one step of an operation: at that time the lock reaches state, and if code is not 0
// the lock logs that activity event for the key's owner.
type move struct {
	at    time.Time
	state int
	code  int
}

// advanceLocked applies everything due by now (c.mu held) and queues the OnMove calls.
func (c *Cloud) advanceLocked(now time.Time) {
	for _, e := range c.locks {
		for len(e.moves) > 0 && !e.moves[0].at.After(now) {
			m := e.moves[0]
			e.moves = e.moves[1:]
			e.State = m.state
			e.Jammed = false
			e.changedAt = m.at
			if m.code != 0 {
				c.logLocked(e, m.code, c.opts.User, m.at)
			}
			if c.opts.OnMove != nil && !c.closed {
				c.moved = append(c.moved, e.copyLock())
			}
		}
		if len(e.moves) == 0 {
			e.moves = nil
		}
		// A lock applies new settings only while the cloud can reach it.
		if e.DeviceRevision < e.TargetDeviceRevision && !e.applyAt.After(now) && c.reachable(e) {
			e.DeviceRevision = e.TargetDeviceRevision
		}
	}
}

// scheduleLocked makes sure the fake looks again at t (c.mu held). Only with the real clock: a
// fake clock is not a timer's business, the next question does it.
func (c *Cloud) scheduleLocked(t time.Time) {
	if !c.real || c.closed {
		return
	}
	var timer *time.Timer
	// c.mu is held, so the function cannot run before timer is set and recorded.
	timer = time.AfterFunc(time.Until(t), func() {
		c.mu.Lock()
		delete(c.timers, timer)
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.advanceLocked(c.opts.Now())
		c.mu.Unlock()
		c.notify()
	})
	c.timers[timer] = struct{}{}
}

// notify makes the queued OnMove calls, without c.mu held. One goroutine at a time makes them
// (the others leave theirs in the queue for it), so they are made in order even when OnMove
// itself asks the fake something.
func (c *Cloud) notify() {
	c.mu.Lock()
	if c.notifier {
		c.mu.Unlock()
		return
	}
	c.notifier = true
	for len(c.moved) > 0 && !c.closed {
		l := c.moved[0]
		c.moved = c.moved[1:]
		c.mu.Unlock()
		c.opts.OnMove(l)
		c.mu.Lock()
	}
	c.moved = nil
	c.notifier = false
	c.mu.Unlock()
}
