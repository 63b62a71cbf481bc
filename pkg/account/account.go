// Package account follows a Tedee account through the Tedee Cloud API (contract §8): the device
// list (id → serial, names, firmware updates, settings, accessories), who moved each lock (the
// activity log, fetched after every state change, not by blind polling), the state of locks no
// bridge reports, and commands when a lock's Bridge API is absent or unreachable. Changes go to the
// owner (package keeper), never to the store. Every request counts against the client's budget
// (cloud.requests_per_hour): what does not fit is skipped and counted, never retried in a loop.
package account

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// Owner is the state's owner (package keeper): the account's changes go through it.
type Owner interface {
	CloudDevice(d state.CloudDevice, now time.Time) error
	CloudState(snap state.LockSnapshot, ts, now time.Time) error
	CloudBridge(serial string, update state.Update, now time.Time)
	Activity(serial string, entries []state.ActivityEntry, notBefore, now time.Time) int
	Bridged(serial string) bool
	LockState(serial string) (string, bool)
}

// Options configure an account.
type Options struct {
	Log *zap.Logger
	// DeviceRefresh is how often the device list is read again besides at start and after a
	// device-settings-changed webhook; 0 = daily.
	DeviceRefresh time.Duration
	// ActivityDelays are when the activity log is read after a state change, until an entry that
	// is new shows up (the log reaches the cloud seconds after the change); nil = 1, 3, 7 and 15 s.
	ActivityDelays []time.Duration
	// PollInterval is how often the state of locks no bridge reports is read (one request for
	// all); 0 = 60 s, which with the activity reads stays far within 600 requests an hour.
	PollInterval time.Duration
	// CommandTimeout bounds a cloud command (commands.timeout); 0 = 30 s.
	CommandTimeout time.Duration
	Now            func() time.Time // nil: time.Now
}

// activityEntries is how many entries one read of a lock's log asks for: what a few state
// changes in a row leave, at the cost of one request whatever the number.
const activityEntries = 10

// Account is one Tedee account followed through the Cloud API. It is safe for concurrent use.
type Account struct {
	api   *tedeecloud.Client
	owner Owner
	opts  Options
	log   *zap.Logger

	refresh chan struct{} // a device-settings-changed webhook asks for the device list
	wake    chan struct{} // a state change to follow up

	mu       sync.Mutex
	ids      map[string]int64 // serial → cloud device id, from the last device list
	bridges  []tedeecloud.Bridge
	revision map[int64]int64 // id → settings revision, to notice changed settings in a sync
	pending  map[string]*followUp
	health   Health
}

// followUp is a lock whose activity log is to be read.
type followUp struct {
	notBefore time.Time // the state change's time, less a margin: older entries are history
	attempt   int
	due       time.Time
}

// New returns an account read through api.
func New(api *tedeecloud.Client, owner Owner, opts Options) *Account {
	if opts.DeviceRefresh <= 0 {
		opts.DeviceRefresh = 24 * time.Hour
	}
	if opts.ActivityDelays == nil {
		opts.ActivityDelays = []time.Duration{time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Minute
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	return &Account{api: api, owner: owner, opts: opts, log: opts.Log,
		refresh: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		ids: map[string]int64{}, revision: map[int64]int64{}, pending: map[string]*followUp{}}
}

// StateChanged is told that a lock reported a state: its activity log will say who did it. It
// never blocks (the keeper calls it with its lock held).
func (a *Account) StateChanged(serial string) {
	now := a.opts.Now()
	f := &followUp{notBefore: now.Add(-time.Minute), due: now.Add(a.opts.ActivityDelays[0])}
	a.mu.Lock()
	if old, ok := a.pending[serial]; ok {
		// Another change: look again from the start, for both, but no later than the read
		// already due, so that a lock that keeps moving is still read.
		f.notBefore, f.due = old.notBefore, minTime(f.due, old.due)
	}
	a.pending[serial] = f
	a.mu.Unlock()
	signal(a.wake)
}

// RefreshDevices asks for the device list to be read again soon (a device-settings-changed
// webhook). It never blocks.
func (a *Account) RefreshDevices() { signal(a.refresh) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Owns reports whether the account's device list has the lock.
func (a *Account) Owns(serial string) bool {
	_, ok := a.idOf(serial)
	return ok
}

func (a *Account) idOf(serial string) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.ids[serial]
	return id, ok
}

// Run reads the device list, then follows state changes with activity reads, polls the locks no
// bridge reports, and reads the device list again daily or when asked, until ctx ends.
func (a *Account) Run(ctx context.Context) error {
	ctx = tedeecloud.WithPriority(ctx, tedeecloud.Background)
	devices := time.NewTimer(0)
	defer devices.Stop()
	poll := time.NewTimer(a.opts.PollInterval)
	defer poll.Stop()
	follow := time.NewTimer(time.Hour)
	defer follow.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-devices.C:
			if err := a.readDevices(ctx); err != nil {
				failures++
				devices.Reset(backoff(failures, err))
				continue
			}
			failures = 0
			devices.Reset(a.opts.DeviceRefresh)
		case <-a.refresh:
			devices.Reset(2 * time.Second) // settings change in bursts: one read for them all
		case <-poll.C:
			a.applyBridges(a.opts.Now())
			a.pollState(ctx)
			poll.Reset(a.opts.PollInterval)
		case <-a.wake:
		case <-follow.C:
		}
		follow.Reset(a.followUps(ctx))
	}
}

// backoff is how long to wait before reading the device list again after failures in a row: a
// key that Tedee refuses will not work in a minute, so those wait an hour.
func backoff(failures int, err error) time.Duration {
	if errors.Is(err, tedeecloud.ErrUnauthorized) {
		return time.Hour
	}
	return min(time.Duration(1<<min(failures, 5))*15*time.Second, 10*time.Minute)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
