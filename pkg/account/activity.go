package account

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// followUps reads the activity log of every lock whose read is due and returns how long until the
// next one is. A read that finds a new entry ends the lock's follow-up; one that does not is
// tried again at the next delay, and given up after the last.
func (a *Account) followUps(ctx context.Context) time.Duration {
	for {
		serial, f, wait := a.nextDue()
		if serial == "" {
			return wait
		}
		id, ok := a.idOf(serial)
		if !ok {
			a.done(serial, f)
			continue // not in the account's device list (yet): nothing to read
		}
		list, err := a.api.Activity(ctx, id, activityEntries)
		if err != nil {
			// Over the budget or rate-limited: skipped (the client counts it), not retried in a
			// loop; the next state change tries again.
			a.log.Debug("could not read a lock's activity log", zap.String("serial", serial), zap.Error(err))
			a.done(serial, f)
			continue
		}
		if n := a.owner.Activity(serial, entries(list), f.notBefore, a.opts.Now()); n > 0 || !a.retry(serial, f) {
			a.done(serial, f)
		}
	}
}

// nextDue returns a lock whose read is due, or how long until one is.
func (a *Account) nextDue() (string, *followUp, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.opts.Now()
	wait := time.Hour
	for serial, f := range a.pending {
		if !f.due.After(now) {
			return serial, f, 0
		}
		wait = min(wait, f.due.Sub(now))
	}
	return "", nil, wait
}

// retry schedules the next read of a lock's log, if there is one to come.
func (a *Account) retry(serial string, f *followUp) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending[serial] != f {
		return true // a new state change replaced it meanwhile: done must not remove that one
	}
	f.attempt++
	if f.attempt >= len(a.opts.ActivityDelays) {
		return false
	}
	f.due = a.opts.Now().Add(a.opts.ActivityDelays[f.attempt] - a.opts.ActivityDelays[f.attempt-1])
	return true
}

// done ends a lock's follow-up, unless a new state change replaced it meanwhile.
func (a *Account) done(serial string, f *followUp) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending[serial] == f {
		delete(a.pending, serial)
	}
}

// entries describes the log's entries for the state; gate entries are not a lock's.
func entries(list []tedeecloud.Activity) []state.ActivityEntry {
	out := make([]state.ActivityEntry, 0, len(list))
	for _, e := range list {
		d, ok := tedee.DescribeActivity(e.Event)
		if !ok {
			continue
		}
		out = append(out, state.ActivityEntry{ID: e.ID, Code: e.Event, Event: d.Event, Source: d.Source,
			User: e.UserName, Moves: d.Moves, At: e.Date})
	}
	return out
}
