// Package controller drives one Tedee Bridge through its local API: it syncs the bridge and its
// locks at startup and periodically, keeps tedee2mqtt's webhook registered on the bridge, and
// executes lock commands, confirming each from the lock's reported state.
package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// StateOwner is what the controller needs of the owner of the state (package keeper), through
// which every reading is applied and published in the order it was applied.
type StateOwner interface {
	Snapshot(bridge string, snap state.LockSnapshot, ts, now time.Time) error
	Bridge(name string, info state.BridgeInfo, ts, now time.Time)
	Remove(serial string)
	LockState(serial string) (string, bool)
	LocksOf(bridge string) []string
}

// Options configure a controller.
type Options struct {
	Bridge       string        // the bridge's name in tedee2mqtt (its webhook route)
	PollInterval time.Duration // 0: sync at startup only
	// PublicURL, when set, is how the bridge reaches tedee2mqtt; the callback
	// PublicURL/webhook/<Bridge> is then kept registered.
	PublicURL      string
	CallbackMethod string // POST, GET or GET+NO_PARAMS
	Secret         string // sent as "Authorization: Bearer <Secret>" when set
	// CallbackCheckInterval is how often the registration is verified. Default 5 minutes: the
	// bridge forgets callbacks when its API configuration is reset, and other integrations may
	// replace them all.
	CallbackCheckInterval time.Duration
	// CommandTimeout bounds a command, from the request to the confirmed state. Default 30s.
	CommandTimeout time.Duration
}

// Driver drives one Tedee Bridge through its local API: sync, settings refresh, callback upkeep
// and the commands the Router hands it.
type Driver struct {
	opts Options
	api  *tedeeapi.Client
	core StateOwner
	log  *zap.Logger

	refresh chan string
	checkCB chan struct{}

	mu      sync.Mutex
	ids     map[string]int64         // serial → lock id, from the last sync
	pulls   map[string]time.Duration // serial → pull spring duration, from the settings
	missing map[string]int           // serial → consecutive syncs that did not list it
	offset  time.Duration            // bridge clock minus ours
	skewed  bool                     // offset is at least skewWarning (logged once)
	health  health                   // what Health reports
	running map[string]*sync.Mutex
}

// New returns a controller; Run starts it.
func New(opts Options, api *tedeeapi.Client, core StateOwner, log *zap.Logger) *Driver {
	if opts.CallbackCheckInterval <= 0 {
		opts.CallbackCheckInterval = 5 * time.Minute
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 30 * time.Second
	}
	if opts.CallbackMethod == "" {
		opts.CallbackMethod = "POST"
	}
	return &Driver{opts: opts, api: api, core: core, log: log,
		refresh: make(chan string, 16), checkCB: make(chan struct{}, 1),
		ids: map[string]int64{}, pulls: map[string]time.Duration{}, missing: map[string]int{}, running: map[string]*sync.Mutex{}}
}

// Run syncs and keeps the callback registered until ctx is done. Failures are logged and
// retried; Run only returns when ctx ends.
func (c *Driver) Run(ctx context.Context) error {
	poll := time.NewTimer(0)
	defer poll.Stop()
	callback := time.NewTimer(0)
	defer callback.Stop()
	if c.opts.PublicURL == "" {
		callback.Stop() // nothing to register; since Go 1.23 a stopped timer never fires
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			if c.pollOnce(ctx, poll) && c.opts.PublicURL != "" {
				// Every sync verifies the callback too: a bridge that lost it (reset, another
				// integration replacing all callbacks) is noticed within a poll, not minutes.
				c.ensureCallbackLogged(ctx, callback)
			}
		case serial := <-c.refresh:
			c.refreshLock(ctx, serial)
		case <-callback.C:
			c.ensureCallbackLogged(ctx, callback)
		case <-c.checkCB:
			if c.opts.PublicURL != "" {
				c.ensureCallbackLogged(ctx, callback) // Reset inside replaces the pending check
			}
		}
	}
}

// syncRetry is how soon a failed sync is tried again.
const syncRetry = 15 * time.Second

// pollOnce syncs and schedules the next sync; it reports whether this one succeeded.
func (c *Driver) pollOnce(ctx context.Context, poll *time.Timer) bool {
	if err := c.Sync(ctx); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("bridge sync failed", zap.Error(err), zap.Duration("retry_in", syncRetry))
		}
		poll.Reset(syncRetry)
		return false
	}
	if c.opts.PollInterval > 0 {
		poll.Reset(c.opts.PollInterval)
	}
	return true
}

func (c *Driver) ensureCallbackLogged(ctx context.Context, t *time.Timer) {
	next := c.opts.CallbackCheckInterval
	err := c.EnsureCallback(ctx)
	if ctx.Err() == nil {
		c.recordCallback(err)
	}
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("callback registration failed", zap.Error(err))
		}
		next = syncRetry
	}
	t.Reset(next)
}

// Refresh asks for the lock to be read again (its settings changed). It does not block.
func (c *Driver) Refresh(serial string) {
	select {
	case c.refresh <- serial:
	default:
	}
}

// CheckCallback asks for the registration to be verified soon (the bridge's cloud link changed,
// which may mean it restarted). It does not block.
func (c *Driver) CheckCallback() {
	select {
	case c.checkCB <- struct{}{}:
	default:
	}
}

// Bridge returns the name of the bridge it drives.
func (c *Driver) Bridge() string { return c.opts.Bridge }

// Owns reports whether the last sync listed the lock.
func (c *Driver) Owns(serial string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ids[serial]
	return ok
}

// skewWarning is the difference between the bridge's clock and ours from which it is logged: the
// bridge stamps webhooks with its clock, and the ordering rule compares those times.
const skewWarning = time.Minute

// setOffset records the bridge's clock minus ours, and says so when it becomes large or small
// again (not at every sync).
func (c *Driver) setOffset(offset time.Duration) {
	c.mu.Lock()
	c.offset, c.health.skewKnown = offset, true
	large := offset.Abs() >= skewWarning
	changed := large != c.skewed
	c.skewed = large
	c.mu.Unlock()
	switch {
	case changed && large:
		c.log.Warn("the bridge's clock differs from ours; its webhooks are ordered by its clock, so check its NTP",
			zap.Duration("clock_skew", offset))
	case changed:
		c.log.Info("the bridge's clock agrees with ours again", zap.Duration("clock_skew", offset))
	}
}

// bridgeTime converts our clock to the bridge's, in which webhook timestamps are written.
func (c *Driver) bridgeTime(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return t.Add(c.offset)
}

// Sync reads the bridge and every lock and publishes them as if webhooks had arrived. Locks the
// bridge stopped listing (two syncs in a row, so one odd answer removes nothing) are removed.
func (c *Driver) Sync(ctx context.Context) error {
	firmware, err := c.sync(ctx)
	if ctx.Err() == nil {
		c.recordSync(time.Now(), firmware, err)
	}
	return err
}

// sync is Sync; it returns the bridge's firmware version for Health.
func (c *Driver) sync(ctx context.Context) (string, error) {
	b, err := c.api.Bridge(ctx)
	if err != nil {
		return "", fmt.Errorf("read bridge: %w", err)
	}
	now := time.Now()
	if bt, err := tedee.ParseTime(b.CurrentTime); err == nil {
		c.setOffset(bt.Sub(now))
	}
	c.core.Bridge(c.opts.Bridge, state.BridgeInfo{Name: b.Name, Serial: b.SerialNumber, Firmware: b.Version,
		Connected: b.IsConnected.Bool()}, c.bridgeTime(now), now)

	start := time.Now()
	locks, bad, err := c.api.Locks(ctx)
	if err != nil {
		return b.Version, fmt.Errorf("read locks: %w", err)
	}
	for _, e := range bad {
		c.log.Warn("skipped a lock the bridge reported in a form we cannot read; the others sync", zap.Error(e))
	}
	ts := c.bridgeTime(start)
	listed := map[string]bool{}
	for _, l := range locks {
		if err := c.apply(l, ts); err != nil {
			c.log.Warn("skipped lock", zap.Int64("lock_id", l.ID), zap.Error(err))
			continue
		}
		listed[l.SerialNumber] = true
	}
	if len(bad) > 0 {
		// An unreadable element may be any lock: none is counted as gone on this sync.
		return b.Version, nil
	}
	c.mu.Lock()
	var gone []string
	for _, serial := range c.core.LocksOf(c.opts.Bridge) {
		if listed[serial] {
			delete(c.missing, serial)
			continue
		}
		c.missing[serial]++
		if c.missing[serial] >= 2 {
			gone = append(gone, serial)
			delete(c.missing, serial)
			delete(c.ids, serial)
		}
	}
	c.mu.Unlock()
	for _, serial := range gone {
		c.log.Info("lock no longer reported by the bridge, removing it", zap.String("serial", serial))
		c.core.Remove(serial)
	}
	c.log.Debug("synced", zap.Int("locks", len(locks)))
	return b.Version, nil
}

// apply publishes one lock as read from the API.
func (c *Driver) apply(l tedeeapi.LockDetails, ts time.Time) error {
	snap := state.LockSnapshot{ID: l.ID, Serial: l.SerialNumber, Name: l.Name, DeviceType: l.Type,
		Firmware: l.Version, Connected: l.IsConnected.Bool(), Jammed: l.Jammed.Bool(), Battery: l.BatteryLevel,
		Charging: l.IsCharging.Bool(), PullSpring: l.DeviceSettings.PullSpringEnabled.Bool(), RSSI: l.RSSI,
		Settings: settings(l.DeviceSettings)}
	if l.State != nil {
		snap.State = new(tedee.LockState(*l.State))
	}
	if l.DoorState != nil {
		d := tedee.DoorState(*l.DoorState)
		snap.DoorState = &d
	}
	if err := c.core.Snapshot(c.opts.Bridge, snap, ts, time.Now()); err != nil {
		return err
	}
	c.mu.Lock()
	c.ids[l.SerialNumber] = l.ID
	if d := l.DeviceSettings.PullSpringDuration; d != nil {
		c.pulls[l.SerialNumber] = time.Duration(*d) * time.Second
	}
	c.mu.Unlock()
	return nil
}

// settings are the lock's settings as its bridge reports them (tedee/<serial>/settings), or nil
// when it reports none.
func settings(d tedeeapi.DeviceSettings) *state.Settings {
	s := state.Settings{AutoLock: d.AutoLockEnabled.Bool(), AutoLockDelay: d.AutoLockDelay,
		ButtonLock: d.ButtonLockEnabled.Bool(), ButtonUnlock: d.ButtonUnlockEnabled.Bool(),
		PullSpring: d.PullSpringEnabled.Bool(), PullSpringDuration: d.PullSpringDuration,
		AutoPull: d.AutoPullSpringEnabled.Bool(), PostponedLock: d.PostponedLockEnabled.Bool(),
		PostponedLockDelay: d.PostponedLockDelay}
	if len(s.Keys()) == 0 {
		return nil
	}
	return &s
}

func (c *Driver) lockID(serial string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[serial]
	return id, ok
}

// refreshLock reads one lock again; an unknown lock means a full sync.
func (c *Driver) refreshLock(ctx context.Context, serial string) {
	id, ok := c.lockID(serial)
	var err error
	if !ok {
		err = c.Sync(ctx)
	} else {
		err = c.readLock(ctx, id)
	}
	if err != nil && ctx.Err() == nil {
		c.log.Warn("refresh lock failed", zap.String("serial", serial), zap.Error(err))
	}
}

func (c *Driver) readLock(ctx context.Context, id int64) error {
	start := time.Now()
	l, err := c.api.Lock(ctx, id)
	if err != nil {
		return err
	}
	return c.apply(l, c.bridgeTime(start))
}

// callback is the registration tedee2mqtt wants on the bridge.
func (c *Driver) callback() tedeeapi.Callback {
	cb := tedeeapi.Callback{URL: strings.TrimRight(c.opts.PublicURL, "/") + "/webhook/" + c.opts.Bridge,
		Method: c.opts.CallbackMethod, Headers: []map[string]string{}}
	if c.opts.Secret != "" {
		cb.Headers = append(cb.Headers, map[string]string{"Authorization": "Bearer " + c.opts.Secret})
	}
	return cb
}

// EnsureCallback makes sure exactly one registration with our URL exists and is as configured.
// Only our own registrations are ever changed, one by one: never PUT /callback, which would
// replace every integration's.
func (c *Driver) EnsureCallback(ctx context.Context) error {
	want := c.callback()
	cbs, err := c.api.Callbacks(ctx)
	if err != nil {
		return fmt.Errorf("list callbacks: %w", err)
	}
	var ours []tedeeapi.Callback
	for _, cb := range cbs {
		if cb.URL == want.URL {
			ours = append(ours, cb)
		}
	}
	if len(ours) == 0 {
		id, err := c.api.AddCallback(ctx, want)
		if err != nil {
			return fmt.Errorf("add callback: %w", err)
		}
		c.log.Info("registered webhook on the bridge", zap.String("url", want.URL),
			zap.String("method", want.Method), zap.Int64("callback_id", id))
		return nil
	}
	if !sameCallback(ours[0], want) {
		want.ID = ours[0].ID
		if err := c.api.UpdateCallback(ctx, want); err != nil {
			return fmt.Errorf("update callback: %w", err)
		}
		c.log.Info("updated webhook registration", zap.String("url", want.URL), zap.Int64("callback_id", want.ID))
	}
	for _, dup := range ours[1:] {
		if err := c.api.DeleteCallback(ctx, dup.ID); err != nil {
			return fmt.Errorf("delete duplicate callback: %w", err)
		}
		c.log.Info("removed duplicate webhook registration", zap.Int64("callback_id", dup.ID))
	}
	return nil
}

func sameCallback(a, b tedeeapi.Callback) bool {
	method := a.Method
	if method == "" {
		method = "POST" // what firmware that predates methods does
	}
	if method != b.Method || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if len(a.Headers[i]) != len(b.Headers[i]) {
			return false
		}
		for k, v := range a.Headers[i] {
			if b.Headers[i][k] != v {
				return false
			}
		}
	}
	return true
}
