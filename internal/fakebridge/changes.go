package fakebridge

// Changes of a lock's status told to Options.OnChange, so that a demo or a test can keep
// another fake (the Tedee Cloud's) telling the same story as the bridge.

// Change is a lock as it is after a change of its status (state, jammed or door state), and what
// made the change.
type Change struct {
	Lock Lock
	// Op is the Bridge API operation whose movement this step is: "lock", "unlock", "pull" (also
	// an unlock in mode 4 of an unlocked lock, which pulls), or "auto-pull" (the pull an unlock
	// makes when the auto pull spring is on). "" for a change made by Update.
	Op string
}

// changedLocked queues the OnChange call for lock l's new status (b.mu held).
func (b *Bridge) changedLocked(l *Lock, op string) {
	if b.opts.OnChange != nil && !b.closed {
		b.changes = append(b.changes, Change{Lock: *l, Op: op})
	}
}

// tellChanges makes the queued OnChange calls, without b.mu held. One goroutine at a time makes
// them (the others leave theirs in the queue for it), so they are made in order even when
// OnChange itself changes a lock. None starts after Close.
func (b *Bridge) tellChanges() {
	b.mu.Lock()
	if b.telling || b.opts.OnChange == nil {
		b.mu.Unlock()
		return
	}
	b.telling = true
	for len(b.changes) > 0 && !b.closed {
		c := b.changes[0]
		b.changes = b.changes[1:]
		b.mu.Unlock()
		b.opts.OnChange(c)
		b.mu.Lock()
	}
	b.changes = nil // all told, or dropped after Close
	b.telling = false
	b.mu.Unlock()
}
