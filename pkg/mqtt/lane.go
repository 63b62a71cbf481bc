package mqtt

import "github.com/tedee2mqtt/tedee2mqtt/pkg/state"

// lane is a queue of the outbox's entries, in order. An entry removed from the middle (superseded
// by a live value, or an event dropped over the bound) is marked gone in constant time and skipped
// when taken; so that marks cannot pile up while nothing is taken (a broker outage), the lane is
// compacted once most of it is gone, which keeps removal constant time on average.
type lane struct {
	entries []*entry
	gone    int // entries marked gone
	// minGone is how many gone entries the lane holds at least before it is compacted:
	// compactAfter, less in tests.
	minGone int
}

// compactAfter is how many gone entries a lane holds at least before it is compacted.
const compactAfter = 256

func (l *lane) len() int { return len(l.entries) - l.gone }

func (l *lane) add(e *entry) { l.entries = append(l.entries, e) }

// remove marks e, which is in the lane, gone, and lets its payload go.
func (l *lane) remove(e *entry) {
	e.gone, e.msg = true, state.Message{}
	l.gone++
	if l.gone >= l.minGone && 2*l.gone > len(l.entries) {
		kept := l.entries[:0]
		for _, e := range l.entries {
			if !e.gone {
				kept = append(kept, e)
			}
		}
		clear(l.entries[len(kept):])
		l.entries, l.gone = kept, 0
	}
}

// take appends up to n-len(batch) entries from the head to batch, skipping those gone.
func (l *lane) take(batch []*entry, n int) []*entry {
	i := 0
	for ; len(batch) < n && i < len(l.entries); i++ {
		if e := l.entries[i]; e.gone {
			l.gone--
		} else {
			batch = append(batch, e)
		}
	}
	l.entries = advance(l.entries, i)
	return batch
}

// prepend puts entries back at the head, in their order.
func (l *lane) prepend(es []*entry) { l.entries = append(es, l.entries...) }

// advance drops a slice's first k entries (taken or dropped). An emptied slice keeps its backing array for
// the next entries unless a burst made it large; the dropped entries are cleared either way, so
// that their payloads can be collected.
func advance(s []*entry, k int) []*entry {
	clear(s[:k])
	switch {
	case k < len(s):
		return s[k:]
	case cap(s) > 1024:
		return nil
	}
	return s[:0]
}
