// Package fakecloud is a fake Tedee Cloud API (api.tedee.com, version v37) for tests and the
// demo. It is written from Tedee's documentation, not from this project's client, so that the
// two are independent opinions of the same API: the personal-key authentication and scopes, the
// response envelope, the per-account hourly request limit and the GET /my/lock limit, the device
// list with settings, firmware and accessories, the activity log with its upload lag, settings
// written with revisions, and lock operations that are accepted at once, complete later and move
// the lock through its intermediate states.
//
// Time comes from Options.Now. With the real clock the fake moves its locks on timers; with a fake
// clock it moves them whenever it is next asked anything (a request or a method), so a test
// advances its clock and then looks.
package fakecloud

import (
	"sync"
	"time"
)

// Options configure the fake cloud.
type Options struct {
	// Key is the only accepted personal access key ("Authorization: PersonalKey <key>").
	Key string
	// Scopes the key was created with; nil means all. An endpoint that needs another scope
	// answers 403. Device.ReadWrite includes Device.Read.
	Scopes []string
	// User is the key owner's user name, written into the activity entries of operations.
	// Default "Owner".
	User string
	// RequestsPerHour is Tedee's per-account limit; 0 means 700.
	RequestsPerHour int
	// Now is the clock; nil means time.Now. Tests pass a fake clock to cross hour windows.
	Now func() time.Time
	// OperationTime is how long from an operation's POST until it is COMPLETED and the lock has
	// finished moving; 0 means 1 s. Settings written by PATCH reach the lock after as long.
	OperationTime time.Duration
	// ActivityLag is how long after it happened an activity entry becomes visible (the lock
	// uploads its log through the bridge, so the real cloud lags); 0 means at once.
	ActivityLag time.Duration
	// OnMove is called, without the fake's lock held, with the lock as it is after each state an
	// operation moved it into (locking, then locked; …). Calls are made one at a time, in order.
	OnMove func(Lock)
}

// Bridge is a Tedee Bridge on the account.
type Bridge struct {
	ID              int64 // 0: assigned by AddBridge
	Serial, Name    string
	Connected       bool // the bridge's link to the cloud
	Firmware        string
	UpdateAvailable bool
}

// Accessory is a keypad or door sensor paired with a lock.
type Accessory struct {
	ID           int64 // 0: assigned by AddLock
	Serial, Name string
	Type         int  // 3 keypad, 8 door sensor, 10 keypad PRO
	Battery      *int // nil: never reported
	// BatteryAt is when Battery was last reported; zero means when the lock was added (Update
	// sets it when it sees Battery change). The cloud hides a battery level older than 30 days.
	BatteryAt time.Time
	Firmware  string // "" means "1.0"
}

// Settings are a lock's device settings (the deviceSettings fields the contract uses).
type Settings struct {
	AutoLock           bool
	AutoLockDelay      int // seconds
	ButtonLock         bool
	ButtonUnlock       bool
	PullSpring         bool
	PullSpringDuration int // seconds
	AutoPull           bool
	PostponedLock      bool
	PostponedLockDelay int // seconds
}

// Lock is a lock on the account.
type Lock struct {
	ID           int64 // 0: assigned by AddLock
	Serial, Name string
	Type         int   // 2 Lock PRO, 4 Lock GO
	BridgeID     int64 // 0: not paired with a bridge
	// Connected is the lock's link to its bridge. The cloud reports a lock connected (and its
	// state) only while it is paired and its bridge is connected too.
	Connected bool
	State     int // 0 uncalibrated … 6 locked, 7 pulled, 8 pulling, 9 unknown, 18 updating
	DoorState int // 0 not paired, 1 disconnected, 2 opened, 3 closed, 4 uncalibrated
	Battery   int
	Charging  bool
	Jammed    bool // the last state change failed: stateChangeResult 1
	Firmware  string
	// UpdateAvailable is softwareVersions[type 0].updateAvailable.
	UpdateAvailable bool
	Settings        Settings
	// Revision is the configuration's revision (sent back in PATCH); 0 in AddLock means 1.
	Revision int64
	// DeviceRevision is the revision the lock has applied; TargetDeviceRevision the one being
	// sent to it. 0 in AddLock means Revision.
	DeviceRevision, TargetDeviceRevision int64
	Accessories                          []Accessory
}

// Request is one request the fake received.
type Request struct {
	Method, Path, Query string
	Status              int
	At                  time.Time
}

// maxRequests bounds the request log (a demo runs for days); the oldest are dropped.
const maxRequests = 100_000

// Cloud is the fake. Serve it with net/http (it is an http.Handler).
type Cloud struct {
	opts Options
	real bool // Options.Now was nil: moves run on timers

	mu       sync.Mutex
	bridges  []*Bridge
	locks    []*lockEntry
	nextID   int64
	users    map[string]int64 // user name → userId in activity entries
	nextAct  int64
	ops      map[string]*operation
	opOrder  []string
	lastOp   int64
	requests []Request
	limits   limits
	limited  time.Time
	timers   map[*time.Timer]struct{}
	closed   bool
	table    []route
	corr     uint64

	moved    []Lock // OnMove calls not yet made, in order
	notifier bool   // a goroutine is making the OnMove calls
}

// lockEntry is a lock with what the cloud keeps beside it.
type lockEntry struct {
	Lock
	created   time.Time
	changedAt time.Time // lastStateChangedDate
	applyAt   time.Time // when DeviceRevision reaches TargetDeviceRevision (if connected)
	moves     []move    // pending steps of an operation, in time order
	activity  []activity
}

// New returns a fake cloud without devices.
func New(opts Options) *Cloud {
	c := &Cloud{opts: opts, nextID: 1, users: map[string]int64{}, nextAct: 1, ops: map[string]*operation{},
		timers: map[*time.Timer]struct{}{}}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
		c.real = true
	}
	if c.opts.User == "" {
		c.opts.User = "Owner"
	}
	if c.opts.RequestsPerHour <= 0 {
		c.opts.RequestsPerHour = 700
	}
	if c.opts.OperationTime <= 0 {
		c.opts.OperationTime = time.Second
	}
	c.userID(c.opts.User) // the owner is user 1
	c.table = c.routes()
	return c
}

// Close stops the fake's timers; no OnMove call starts after it returns. The fake still answers
// requests (tests close their HTTP server first).
func (c *Cloud) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for t := range c.timers {
		t.Stop()
	}
	c.timers = map[*time.Timer]struct{}{}
	c.moved = nil
}

// takeID returns id, or a fresh one if id is 0, and keeps fresh ids above every id seen.
func (c *Cloud) takeID(id int64) int64 {
	if id == 0 {
		id = c.nextID
	}
	if id >= c.nextID {
		c.nextID = id + 1
	}
	return id
}

// AddBridge adds a bridge, or replaces the one with the same serial number.
func (c *Cloud) AddBridge(b Bridge) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.ID = c.takeID(b.ID)
	for i, old := range c.bridges {
		if old.Serial == b.Serial {
			c.bridges[i] = &b
			return
		}
	}
	c.bridges = append(c.bridges, &b)
}

// AddLock adds a lock with its accessories, or replaces the one with the same serial number
// (its activity log is kept).
func (c *Cloud) AddLock(l Lock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	l.ID = c.takeID(l.ID)
	if l.Revision == 0 {
		l.Revision = 1
	}
	if l.DeviceRevision == 0 {
		l.DeviceRevision = l.Revision
	}
	if l.TargetDeviceRevision < l.DeviceRevision {
		l.TargetDeviceRevision = l.DeviceRevision
	}
	l.Accessories = append([]Accessory(nil), l.Accessories...)
	for i := range l.Accessories {
		a := &l.Accessories[i]
		a.ID = c.takeID(a.ID)
		if a.BatteryAt.IsZero() {
			a.BatteryAt = now
		}
		if a.Battery != nil {
			a.Battery = new(*a.Battery)
		}
	}
	e := &lockEntry{Lock: l, created: now, changedAt: now, applyAt: now}
	for i, old := range c.locks {
		if old.Serial == l.Serial {
			e.activity = old.activity
			c.locks[i] = e
			return
		}
	}
	c.locks = append(c.locks, e)
}

// Lock returns a copy of the lock with that serial number (the zero Lock if there is none).
func (c *Cloud) Lock(serial string) Lock {
	c.mu.Lock()
	c.advanceLocked(c.opts.Now())
	e := c.lockBySerial(serial)
	var l Lock
	if e != nil {
		l = e.copyLock()
	}
	c.mu.Unlock()
	c.notify()
	return l
}

// copyLock returns the lock without sharing its accessories.
func (e *lockEntry) copyLock() Lock {
	l := e.Lock
	l.Accessories = append([]Accessory(nil), l.Accessories...)
	for i := range l.Accessories {
		if b := l.Accessories[i].Battery; b != nil {
			l.Accessories[i].Battery = new(*b)
		}
	}
	return l
}

// Update changes a lock as if it happened on the device or in the Tedee app (mirroring what a
// fake bridge did, a key turned, a setting changed in the app); nothing happens for an unknown
// serial. A changed state or door state sets lastStateChangedDate; a changed name or setting is
// a new configuration revision, applied on the device at once; a changed accessory battery is
// reported now.
func (c *Cloud) Update(serial string, change func(*Lock)) {
	c.mu.Lock()
	now := c.opts.Now()
	c.advanceLocked(now)
	if e := c.lockBySerial(serial); e != nil {
		before := e.copyLock()
		l := e.copyLock()
		change(&l)
		l.ID = before.ID // the id is the cloud's, not the device's
		if l.State != before.State || l.DoorState != before.DoorState {
			e.changedAt = now
		}
		if l.Revision == before.Revision && (l.Name != before.Name || l.Settings != before.Settings) {
			l.Revision++
		}
		if l.Settings != before.Settings && l.TargetDeviceRevision == before.TargetDeviceRevision {
			l.TargetDeviceRevision++
			l.DeviceRevision = l.TargetDeviceRevision
		}
		for i := range l.Accessories {
			a := &l.Accessories[i]
			a.ID = c.takeID(a.ID)
			old := accessoryByID(before.Accessories, a.ID)
			if old == nil || (!batteryEqual(old.Battery, a.Battery) && a.BatteryAt.Equal(old.BatteryAt)) || a.BatteryAt.IsZero() {
				a.BatteryAt = now
			}
		}
		e.Lock = l
	}
	c.mu.Unlock()
	c.notify()
}

func accessoryByID(as []Accessory, id int64) *Accessory {
	for i := range as {
		if as[i].ID == id {
			return &as[i]
		}
	}
	return nil
}

func batteryEqual(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// SetLimited makes the fake answer 429 to every request until then (fault injection: the
// account's limit spent by another integration, or Tedee throttling).
func (c *Cloud) SetLimited(until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limited = until
}

// Requests returns every request received, in order (at most the last 100,000).
func (c *Cloud) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

func (c *Cloud) lockBySerial(serial string) *lockEntry {
	for _, e := range c.locks {
		if e.Serial == serial {
			return e
		}
	}
	return nil
}

func (c *Cloud) lockByID(id int64) *lockEntry {
	for _, e := range c.locks {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func (c *Cloud) bridgeByID(id int64) *Bridge {
	for _, b := range c.bridges {
		if b.ID == id {
			return b
		}
	}
	return nil
}

// reachable says whether the cloud can reach the lock: paired, linked to its bridge, and the
// bridge connected to the cloud. Only then does it report a state or accept settings.
func (c *Cloud) reachable(e *lockEntry) bool {
	if e.BridgeID == 0 || !e.Connected {
		return false
	}
	b := c.bridgeByID(e.BridgeID)
	return b != nil && b.Connected
}
