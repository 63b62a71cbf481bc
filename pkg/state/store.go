// Package state is the core of tedee2mqtt: it keeps what is known about every lock and bridge and
// turns each decoded Tedee event, Bridge API reading or restored snapshot into the MQTT messages
// that describe the change. It does no I/O and takes no locks: time comes in with every call and
// messages go out as return values, so it is tested without a network. One owner (package keeper)
// serialises every call and publishes the messages in the order the changes were made.
package state

import (
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
)

// MaxLocks bounds how many locks one process tracks before webhooks can make no new one known, so
// that a flood of invented serials cannot grow memory without limit; locks a Bridge API lists
// always get in. A property manager with thousands of locks stays far below it.
const MaxLocks = 10000

// maxFutureSkew is how far ahead of our clock an event time may be before it is treated as "now"
// for ordering. Without it, one event stamped by a bridge with a wrong clock (say, a year ahead)
// would make every later, correct event look old and freeze the lock's state.
const maxFutureSkew = 10 * time.Minute

var (
	// ErrStale means every fact in the event is older than what was already applied; nothing is
	// published.
	ErrStale = errors.New("older than the state already applied")
	// ErrUnknownEvent means the event is not one tedee2mqtt understands; nothing is published.
	ErrUnknownEvent = errors.New("unknown event")
	// ErrTooManyLocks means the event names a new lock while its bridge already has as many locks
	// no Bridge API lists as allowed (or MaxLocks are tracked).
	ErrTooManyLocks = errors.New("too many locks")
)

// Message is one outgoing MQTT publication.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// Store holds the state of every lock and bridge seen. It is not safe for concurrent use: its
// owner serialises the calls, so that the messages of one change are published before those of
// the next.
type Store struct {
	base    string
	disc    *homeassistant.Options // nil: no Home Assistant discovery
	locks   map[string]*lock
	bridges map[string]*bridge
	serials map[int64]string // device id → serial, for events that name devices by id
	// unlisted counts, per bridge ("" for the cloud), the locks made known by its webhooks or a
	// restored snapshot that no Bridge API has listed yet; origin is the bridge each is counted
	// under. A flood of invented serials fills its own bridge's share, and nothing else.
	unlisted     map[string]int
	origin       map[string]string
	maxPerBridge int
	seed         maphash.Seed // for the digests of published discovery configs
	// onClockBack, when set, is told when a bridge's clock went back (clock.go).
	onClockBack func(bridge string, from, to, now time.Time)
	onState     func(serial string) // cloud.go
	// catalog counts the changes of what the device list shows (locks and bridges, their ids,
	// names, models, firmware, bridge): Catalog lets a follower skip rebuilding it otherwise.
	catalog uint64
}

// Catalog returns a number that changes whenever a lock or bridge is added, removed or described
// differently (the operator API's devices list); state changes leave it as it is.
func (s *Store) Catalog() uint64 { return s.catalog }

// New returns an empty store publishing under baseTopic (e.g. "tedee"), with Home Assistant
// discovery when disc is not nil.
func New(baseTopic string, disc *homeassistant.Options) *Store {
	return &Store{base: baseTopic, disc: disc, locks: map[string]*lock{}, bridges: map[string]*bridge{},
		serials: map[int64]string{}, seed: maphash.MakeSeed(), unlisted: map[string]int{}, origin: map[string]string{},
		maxPerBridge: MaxLocks}
}

// SetMaxLocksPerBridge sets how many locks webhooks to one bridge (or the cloud) can make known
// that no Bridge API lists (at least 1; New's store allows MaxLocks, the service configures
// http.max_locks_per_bridge). It is configuration: call it before the store is used.
func (s *Store) SetMaxLocksPerBridge(n int) { s.maxPerBridge = max(n, 1) }

// lockFrom returns the lock with that serial, creating it on first sight of it in a webhook (or a
// restored snapshot) from the named bridge, unless that bridge already has its share of locks no
// Bridge API lists, or MaxLocks locks are tracked. A lock that exists is always returned:
// a flood can block only new invented serials, never a known lock.
func (s *Store) lockFrom(bridge, serial string) (*lock, error) {
	if l, ok := s.locks[serial]; ok {
		return l, nil
	}
	if n := s.unlisted[bridge]; n >= s.maxPerBridge {
		return nil, fmt.Errorf("%w: bridge %q already has %d locks its Bridge API has not listed", ErrTooManyLocks, bridge, n)
	}
	if len(s.locks) >= MaxLocks {
		return nil, fmt.Errorf("%w: %d locks tracked", ErrTooManyLocks, len(s.locks))
	}
	l := s.newLock(serial)
	s.origin[serial] = bridge
	s.unlisted[bridge]++
	return l, nil
}

// listedLock returns the lock with that serial, which a Bridge API lists, creating it if need
// be: such a lock always gets in, whatever has flooded the webhooks, and no longer counts against
// its bridge's share. created says whether it is new.
func (s *Store) listedLock(serial string) (l *lock, created bool) {
	l, ok := s.locks[serial]
	if !ok {
		l, created = s.newLock(serial), true
	}
	s.uncount(serial)
	return l, created
}

// orEmpty is *p, or "" for nil (a snapshot's bridge when only the cloud reported the lock).
func orEmpty(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Store) newLock(serial string) *lock {
	l := &lock{serial: serial, published: map[homeassistant.Entity]uint64{}}
	s.locks[serial] = l
	s.catalog++
	return l
}

// uncount takes a lock out of its bridge's share of unlisted locks.
func (s *Store) uncount(serial string) {
	if b, ok := s.origin[serial]; ok {
		delete(s.origin, serial)
		if s.unlisted[b]--; s.unlisted[b] <= 0 {
			delete(s.unlisted, b)
		}
	}
}

// identify records the lock's device id, by which the Tedee Cloud names it.
func (s *Store) identify(l *lock, id int64) {
	if id == 0 || id == l.id {
		return
	}
	if l.id != 0 && s.serials[l.id] == l.serial {
		delete(s.serials, l.id)
	}
	l.id = id
	s.serials[id] = l.serial
}

// SerialOf returns the serial of the lock with that device id, if a bridge has reported it.
func (s *Store) SerialOf(deviceID int64) (string, bool) {
	serial, ok := s.serials[deviceID]
	return serial, ok
}

// LockState returns the lock's current state word, if known.
func (s *Store) LockState(serial string) (string, bool) {
	if l, ok := s.locks[serial]; ok && l.state != nil {
		return *l.state, true
	}
	return "", false
}

// LocksOf returns the serials of the locks last heard through the named bridge.
func (s *Store) LocksOf(bridgeName string) []string {
	var out []string
	for serial, l := range s.locks {
		if l.bridge == bridgeName {
			out = append(out, serial)
		}
	}
	return out
}

// RemoveLock forgets a lock (the bridge no longer reports it) and returns the messages that
// remove its discovery configs and clear its retained topics.
func (s *Store) RemoveLock(serial string) []Message {
	l, ok := s.locks[serial]
	if !ok {
		return nil
	}
	delete(s.locks, serial)
	s.catalog++
	s.uncount(serial)
	if s.serials[l.id] == serial {
		delete(s.serials, l.id)
	}
	msgs := s.removeDiscovery(l)
	for _, f := range append(l.knownFacts(), "json") {
		msgs = append(msgs, Message{Topic: s.topic(serial, string(f)), Retain: true})
	}
	return msgs
}

// Republish returns every discovery config and every retained state topic, for when Home
// Assistant comes back online or the broker connection is re-established (a broker restarted
// without persistence has forgotten them).
func (s *Store) Republish() []Message {
	msgs := s.RepublishBridges(false)
	for _, l := range s.locks {
		msgs = append(msgs, s.republishLock(l, false)...)
	}
	return msgs
}

// Differing returns, after a restart, the serials of the locks whose json the broker does not
// retain as the store would publish it (given the json topics it retains): those, and only
// those, need republishing. A lock the broker holds as it should is left alone: the broker has
// its topics, and its discovery configs go out again with its next change. With thousands of
// locks a restart then sends what changed while the service was down, not everything.
func (s *Store) Differing(retained map[string][]byte) []string {
	var out []string
	for serial, l := range s.locks {
		if l.json == nil {
			l.json = mustJSON(l.view())
		}
		if b, ok := retained[s.topic(serial, "json")]; !ok || string(b) != string(l.json) {
			out = append(out, serial)
		}
	}
	return out
}

// Serials returns the serial of every lock, in no particular order: the batches a paced republish
// goes through.
func (s *Store) Serials() []string {
	out := make([]string, 0, len(s.locks))
	for serial := range s.locks {
		out = append(out, serial)
	}
	return out
}

// RepublishBridges returns every bridge's discovery config and, unless discoveryOnly, its retained
// state topics.
func (s *Store) RepublishBridges(discoveryOnly bool) []Message {
	var msgs []Message
	for _, b := range s.bridges {
		msgs = append(msgs, s.bridgeDiscovery(b, true)...)
		if !discoveryOnly {
			msgs = append(msgs, s.bridgeState(b)...)
		}
	}
	return msgs
}

// RepublishLocks is Republish for the named locks (those that still exist): their discovery
// configs and, unless discoveryOnly, their retained state topics.
func (s *Store) RepublishLocks(serials []string, discoveryOnly bool) []Message {
	var msgs []Message
	for _, serial := range serials {
		if l, ok := s.locks[serial]; ok {
			msgs = append(msgs, s.republishLock(l, discoveryOnly)...)
		}
	}
	return msgs
}

func (s *Store) republishLock(l *lock, discoveryOnly bool) []Message {
	msgs := s.lockDiscovery(l, true)
	if discoveryOnly {
		return msgs
	}
	for _, f := range l.knownFacts() {
		msgs = append(msgs, s.factMessage(l, f))
	}
	return append(msgs, s.lockJSON(l))
}

// Snapshots returns every lock's json snapshot (the payload of <base>/<serial>/json), by serial:
// what data_dir/state.json keeps.
func (s *Store) Snapshots() map[string][]byte {
	out := make(map[string][]byte, len(s.locks))
	for serial, l := range s.locks {
		if l.json == nil {
			l.json = mustJSON(l.view())
		}
		out[serial] = l.json
	}
	return out
}

func (s *Store) topic(segment, leaf string) string { return s.base + "/" + segment + "/" + leaf }
