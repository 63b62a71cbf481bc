package keeper

import (
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// The Tedee Cloud API's changes (package account): its device list, the state its sync reports
// for locks no bridge reports, and activity logs.

// CloudDevice applies what the Cloud API's device list says about a lock.
func (k *Keeper) CloudDevice(d state.CloudDevice, now time.Time) error {
	var err error
	k.change(func(s *state.Store) []state.Message {
		var msgs []state.Message
		msgs, err = s.ApplyCloudDevice(d, now)
		return msgs
	})
	return err
}

// CloudState applies a lock's state as the Cloud API's sync reports it, ts being its last state
// change; ignored for a lock a bridge reports (state.ApplyCloudState says why).
func (k *Keeper) CloudState(snap state.LockSnapshot, ts, now time.Time) error {
	var err error
	k.change(func(s *state.Store) []state.Message {
		var msgs []state.Message
		msgs, err = s.ApplyCloudState(snap, ts, now)
		return msgs
	})
	return err
}

// Activity applies a fetch of a lock's activity log and returns how many entries were new.
func (k *Keeper) Activity(serial string, entries []state.ActivityEntry, notBefore, now time.Time) int {
	n := 0
	k.change(func(s *state.Store) []state.Message {
		msgs := s.ApplyActivity(serial, entries, notBefore, now)
		for _, m := range msgs {
			if !m.Retain {
				n++
			}
		}
		return msgs
	})
	return n
}

// Bridged reports whether a bridge of tedee2mqtt reports the lock (its webhooks or its API): its
// commands go there, and the cloud's state readings are not needed for it.
func (k *Keeper) Bridged(serial string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Bridged(serial)
}

// CanOpen reports whether the lock can open: its pull spring is enabled or it was seen pulling.
func (k *Keeper) CanOpen(serial string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.CanOpen(serial)
}

// CloudBridge applies a bridge's firmware update from the Cloud API's device list.
func (k *Keeper) CloudBridge(serial string, update state.Update, now time.Time) {
	k.change(func(s *state.Store) []state.Message { return s.ApplyCloudBridge(serial, update, now) })
}
