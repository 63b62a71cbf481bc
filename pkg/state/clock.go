package state

import "time"

// The one time policy for every time that comes from outside (a webhook, a Bridge API reading,
// the cloud, a restored snapshot): a time more than maxFutureSkew ahead of ours counts as now
// (clampFuture), and a bridge whose clock went back (a reboot without NTP) is followed again
// instead of having every later event dropped as stale until its clock catches up: after
// clockBackRun of its events in a row that are each more than clockBackMin behind what was
// applied, or at once by a Bridge API reading that far behind, since a reading is the bridge's
// present. A single late retry is still dropped.
const (
	clockBackMin = 10 * time.Minute
	clockBackRun = 3
)

// clockWatch counts, for one bridge, its events in a row that are far behind what was applied.
type clockWatch struct {
	run  int
	last time.Time
}

// behind records an event time far behind what was applied and reports whether that makes
// clockBackRun in a row, each no older than the one before (a late retry among them breaks the
// run).
func (w *clockWatch) behind(ts time.Time) bool {
	if w.run > 0 && ts.Before(w.last) {
		w.run = 0
	}
	w.run++
	w.last = ts
	if w.run >= clockBackRun {
		w.run = 0
		return true
	}
	return false
}

// clear ends a run: the bridge sent an event that applied.
func (w *clockWatch) clear() { w.run = 0 }

// rewind makes ts the newest time applied for every kind of fact applied later than ts: the
// clock those were stamped by is no longer the bridge's.
func (l *lock) rewind(ts time.Time) {
	for k := range numKinds {
		if l.seen[k] && l.applied[k].After(ts) {
			l.applied[k] = ts
		}
	}
	if l.newest.After(ts) {
		l.newest = ts
	}
}

// farAhead reports whether any kind of fact was applied with a time more than clockBackMin after
// ts.
func (l *lock) farAhead(ts time.Time) bool {
	for k := range numKinds {
		if l.seen[k] && l.applied[k].Sub(ts) > clockBackMin {
			return true
		}
	}
	return false
}

// followClock rewinds the bridge and every lock last heard through it to ts, and tells the
// store's clock hook.
func (s *Store) followClock(b *bridge, ts, now time.Time) {
	from := b.applied
	for _, l := range s.locks {
		if l.bridge == b.name {
			if l.newest.After(from) {
				from = l.newest
			}
			l.rewind(ts)
		}
	}
	if b.seen && b.applied.After(ts) {
		b.applied = ts
	}
	if s.onClockBack != nil {
		s.onClockBack(b.name, from, ts, now)
	}
}

// OnClockBack sets a function told when a bridge's clock is found to have gone back: from is the
// newest time applied before, to the bridge's time now followed. For logging; it must not call
// the store.
func (s *Store) OnClockBack(f func(bridge string, from, to, now time.Time)) { s.onClockBack = f }

// clampFuture returns ts, or now when ts is further ahead than maxFutureSkew.
func clampFuture(ts, now time.Time) time.Time {
	if ts.After(now.Add(maxFutureSkew)) {
		return now
	}
	return ts
}
