// Package keeper owns the state: every change, whatever its source (bridge and cloud webhooks,
// Bridge API readings, command read-backs, the restore at startup, republishing, removal), is
// applied to the core (package state) and handed to the publisher under one lock. So the
// messages leave in the order the state changed, and what stays retained on the broker is what
// the store holds, however the sources interleave. Nothing else calls the store's mutating
// methods.
package keeper

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Publisher takes the messages of a change. Publish must not block: it is called with the
// keeper's lock held, which is what keeps changes and their messages in one order. The MQTT
// client's outbox only queues.
//
// Restate takes a republish's messages, which say again what was published before. It must not
// block either. It may send them after changes published later (the MQTT client does, so that a
// republish of 10,000 locks does not delay a webhook), but never a topic's older value after its
// newer one.
type Publisher interface {
	Publish(msgs ...state.Message)
	Restate(msgs ...state.Message)
}

// Options configure a keeper.
type Options struct {
	// CloudDevices maps Tedee Cloud device ids to serials for locks that no bridge reports
	// (cloud.devices).
	CloudDevices map[int64]string
	// Log, when set, is told what a user should know of the state: a bridge whose clock went
	// back and is followed again.
	Log *zap.Logger
	// OnStateChange, when set, is told that a lock reported a state (package account then fetches
	// who did it). It is called with the keeper's lock held: it must not block.
	OnStateChange func(serial string)
}

// Keeper applies and publishes every change. It is safe for concurrent use.
type Keeper struct {
	out     Publisher
	devices map[int64]string
	seen    *recent // cloud webhooks already received

	republishing sync.Mutex // one paced republish at a time

	mu      sync.Mutex
	store   *state.Store
	changed chan struct{} // closed at the next change, then replaced
}

// New returns a keeper of store, publishing through out.
func New(store *state.Store, out Publisher, opts Options) *Keeper {
	if opts.Log != nil {
		store.OnClockBack(func(bridge string, from, to, now time.Time) {
			opts.Log.Warn("the bridge's clock went back (a restart without NTP?); following its new clock",
				zap.String("bridge", bridge), zap.Time("newest_before", from), zap.Time("bridge_time", to),
				zap.Time("our_time", now))
		})
	}
	if opts.OnStateChange != nil {
		store.OnStateChange(opts.OnStateChange)
	}
	return &Keeper{store: store, out: out, devices: opts.CloudDevices,
		seen: newRecent(dedupEntries, dedupWindow), changed: make(chan struct{})}
}

// change runs f on the store with the lock held and publishes what it returns, still under the
// lock, then wakes those waiting for a change.
func (k *Keeper) change(f func(s *state.Store) []state.Message) {
	k.mu.Lock()
	defer k.mu.Unlock()
	msgs := f(k.store)
	if len(msgs) == 0 {
		return
	}
	k.out.Publish(msgs...)
	close(k.changed)
	k.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next change published, for those who follow
// the state: state.json, the operator API and the status page. (A command still polls LockState
// for its confirmation.)
func (k *Keeper) Changed() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.changed
}

// BridgeEvent applies a webhook received from the named bridge. The error is a real failure
// (too many locks); what is merely not applied is an outcome.
func (k *Keeper) BridgeEvent(bridge string, ev tedee.Event, now time.Time) (state.Outcome, error) {
	return k.apply(bridge, ev, now)
}

func (k *Keeper) apply(bridge string, ev tedee.Event, now time.Time) (state.Outcome, error) {
	var err error
	k.change(func(s *state.Store) []state.Message {
		var msgs []state.Message
		msgs, err = s.Apply(bridge, ev, now)
		return msgs
	})
	switch err {
	case nil:
		return state.Applied, nil
	case state.ErrStale:
		return state.Stale, nil
	case state.ErrUnknownEvent:
		return state.UnknownEvent, nil
	}
	return "", err
}

// Snapshot applies a lock as read from the named bridge's API at the bridge's time ts.
func (k *Keeper) Snapshot(bridge string, snap state.LockSnapshot, ts, now time.Time) error {
	var err error
	k.change(func(s *state.Store) []state.Message {
		var msgs []state.Message
		msgs, err = s.ApplySnapshot(bridge, snap, ts, now)
		return msgs
	})
	return err
}

// Bridge applies a bridge's details as read from its API.
func (k *Keeper) Bridge(name string, info state.BridgeInfo, ts, now time.Time) {
	k.change(func(s *state.Store) []state.Message { return s.SetBridge(name, info, ts, now) })
}

// Remove forgets a lock and clears its retained topics and Home Assistant entities.
func (k *Keeper) Remove(serial string) {
	k.change(func(s *state.Store) []state.Message { return s.RemoveLock(serial) })
}

// Restore merges a json snapshot an earlier run left retained. Nothing is published.
func (k *Keeper) Restore(topic string, payload []byte, now time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Restore(topic, payload, now)
}

// Differing returns the locks the broker does not retain as the store holds them
// (state.Store.Differing), to republish after the restore.
func (k *Keeper) Differing(retained map[string][]byte) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Differing(retained)
}

// republishBatch is how many locks a paced republish takes at a time under the lock: about 100
// messages, a millisecond of the owner's time, so that webhooks interleave with a republish of
// thousands of locks instead of waiting for all of it.
const republishBatch = 10

// RepublishPaced publishes every discovery config and, unless discoveryOnly, every retained state
// again, a few locks at a time, calling pace with the number of messages after each batch. pace
// runs outside the lock: the wiring waits there for the broker and caps the rate, so that Home
// Assistant is not sent 70,000 configs at once and live changes are not queued behind them; it
// returns false to stop the republish (at shutdown). Each batch is the state as it is then, and
// goes out through Restate: a change made meanwhile may leave before batches queued earlier, but a
// topic's value never after an older one. Paced republishes run one at a time. It is for the
// broker connection coming back and Home Assistant's birth.
func (k *Keeper) RepublishPaced(discoveryOnly bool, pace func(messages int) bool) {
	k.republishPaced(nil, true, discoveryOnly, pace)
}

// RepublishLocksPaced is RepublishPaced for the named locks only (none: only the bridges).
func (k *Keeper) RepublishLocksPaced(serials []string, discoveryOnly bool, pace func(messages int) bool) {
	k.republishPaced(serials, false, discoveryOnly, pace)
}

func (k *Keeper) republishPaced(serials []string, all, discoveryOnly bool, pace func(messages int) bool) {
	k.republishing.Lock()
	defer k.republishing.Unlock()
	k.mu.Lock()
	if all {
		serials = k.store.Serials()
	}
	msgs := k.store.RepublishBridges(discoveryOnly)
	k.out.Restate(msgs...)
	k.mu.Unlock()
	if !pace(len(msgs)) {
		return
	}
	for i := 0; i < len(serials); i += republishBatch {
		k.mu.Lock()
		msgs := k.store.RepublishLocks(serials[i:min(i+republishBatch, len(serials))], discoveryOnly)
		if len(msgs) > 0 {
			k.out.Restate(msgs...)
		}
		k.mu.Unlock()
		if !pace(len(msgs)) {
			return
		}
	}
}

// Snapshots returns every lock's json snapshot, by serial (for data_dir/state.json).
func (k *Keeper) Snapshots() map[string][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Snapshots()
}

// Locks returns every lock as its json topic shows it (a copy), for readers that follow the
// state through Changed instead of reading MQTT back.
func (k *Keeper) Locks() []state.LockJSON {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Locks()
}

// Bridges returns every bridge as its json topic shows it (a copy).
func (k *Keeper) Bridges() []state.BridgeJSON {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Bridges()
}

// Catalog returns a number that changes whenever the device list would (state.Store.Catalog).
func (k *Keeper) Catalog() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Catalog()
}

// LockState returns the lock's current state word, if known.
func (k *Keeper) LockState(serial string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.LockState(serial)
}

// LocksOf returns the serials of the locks last heard through the named bridge.
func (k *Keeper) LocksOf(bridge string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.LocksOf(bridge)
}
