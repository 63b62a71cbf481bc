package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// This file holds what only the Tedee Cloud API reports about a lock (contract §8): its firmware
// update, its settings, its accessories' batteries, and who moved it (the activity log).

// CloudDevice is what the Cloud API's device list says about a lock beyond its state. Nil is what
// the cloud did not report: the fact stays as it was.
type CloudDevice struct {
	ID         int64
	Serial     string
	Name       string
	DeviceType int
	Update     *Update
	Settings   *Settings
	// Accessories says the device list's accessories were read: then a nil DoorSensor or Keypad
	// means none is paired; otherwise they stay as they were.
	Accessories bool
	DoorSensor  *Accessory
	Keypad      *Accessory
}

// Update is the payload of <base>/<serial>/update. Tedee reports whether an update is available
// but not which version it is: Latest stays null rather than invented.
type Update struct {
	Installed       string  `json:"installed"`
	Latest          *string `json:"latest"`
	UpdateAvailable bool    `json:"update_available"`
}

// Settings is the payload of <base>/<serial>/settings: the lock's settings as it reports them, a
// key absent when not reported. Delays and durations are in seconds.
type Settings struct {
	AutoLock           *bool `json:"auto_lock,omitempty"`
	AutoLockDelay      *int  `json:"auto_lock_delay,omitempty"`
	ButtonLock         *bool `json:"button_lock,omitempty"`
	ButtonUnlock       *bool `json:"button_unlock,omitempty"`
	PullSpring         *bool `json:"pull_spring,omitempty"`
	PullSpringDuration *int  `json:"pull_spring_duration,omitempty"`
	AutoPull           *bool `json:"auto_pull,omitempty"`
	PostponedLock      *bool `json:"postponed_lock,omitempty"`
	PostponedLockDelay *int  `json:"postponed_lock_delay,omitempty"`
}

// Keys returns the keys the settings report, in the payload's order.
func (s Settings) Keys() []string {
	var keys []string
	for _, f := range []struct {
		key string
		set bool
	}{{"auto_lock", s.AutoLock != nil}, {"auto_lock_delay", s.AutoLockDelay != nil},
		{"button_lock", s.ButtonLock != nil}, {"button_unlock", s.ButtonUnlock != nil},
		{"pull_spring", s.PullSpring != nil}, {"pull_spring_duration", s.PullSpringDuration != nil},
		{"auto_pull", s.AutoPull != nil}, {"postponed_lock", s.PostponedLock != nil},
		{"postponed_lock_delay", s.PostponedLockDelay != nil}} {
		if f.set {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// Accessory is a door sensor or keypad paired with a lock.
type Accessory struct {
	Battery *int // 0–100; nil: not known (Tedee drops levels older than 30 days)
}

// ActivityEntry is one entry of a lock's activity log, described (tedee.DescribeActivity).
type ActivityEntry struct {
	ID     int64
	Code   int
	Event  string
	Source string
	User   string // "" when Tedee does not say who
	Moves  bool   // it moved the bolt or latch: it says who last moved the lock
	At     time.Time
}

// ActivityJSON is the payload of <base>/<serial>/activity (not retained).
type ActivityJSON struct {
	Event  string  `json:"event"`
	Source string  `json:"source"`
	User   *string `json:"user"`
	At     string  `json:"at"`
	Code   int     `json:"code"`
}

// cloudFacts are a lock's facts from the Cloud API; nil until it reports the lock, so that the
// many locks of a bridge-only setup carry none of it.
type cloudFacts struct {
	update             *Update
	doorSensor, keypad *Accessory
	// Who last moved the lock, from the newest activity entry that did.
	lastUser, lastSource *string
	lastMoved            time.Time
	// seen holds the ids of the entries already handled, newest last, so that a later fetch
	// publishes only what is new; warm says this process has fetched the log before, so an entry
	// it has not seen is new whatever its date (late entries arrive with their original dates).
	seen []int64
	warm bool
}

// Fact names of the Cloud API's per-lock topics.
const (
	factLastUser          fact = "last_user"
	factLastSource        fact = "last_source"
	factUpdate            fact = "update"
	factSettings          fact = "settings"
	factDoorSensorBattery fact = "door_sensor_battery"
	factKeypadBattery     fact = "keypad_battery"
)

// maxSeenActivity bounds the ids remembered per lock: a fetch asks for far fewer entries.
const maxSeenActivity = 64

func (l *lock) cloudFacts() *cloudFacts {
	if l.cloud == nil {
		l.cloud = &cloudFacts{}
	}
	return l.cloud
}

// ApplyCloudDevice applies what the Cloud API's device list says about a lock. The list is the
// account's own, so its locks always get in, like those a Bridge API lists.
func (s *Store) ApplyCloudDevice(d CloudDevice, now time.Time) ([]Message, error) {
	if !tedee.ValidSerial(d.Serial) {
		return nil, fmt.Errorf("cloud device %d: serial %q cannot be a topic segment", d.ID, d.Serial)
	}
	l, created := s.listedLock(d.Serial)
	described := l.described()
	s.identify(l, d.ID)
	if d.DeviceType != 0 {
		l.deviceType = d.DeviceType
	}
	if name, ok := deviceName(d.Name); ok {
		l.name = name
	}
	c := l.cloudFacts()
	var changed facts
	if d.Update != nil {
		if fw, ok := firmware(d.Update.Installed); ok {
			u := Update{Installed: fw, UpdateAvailable: d.Update.UpdateAvailable}
			if c.update == nil || c.update.Installed != u.Installed || c.update.UpdateAvailable != u.UpdateAvailable {
				c.update = &u
				changed = append(changed, factUpdate)
			}
			if fw != l.firmware {
				l.firmware = fw
				changed = append(changed, factFirmware)
			}
		}
	}
	if d.Settings != nil {
		l.setSettings(&changed, *d.Settings)
	}
	if d.Accessories {
		setAccessory(&changed, factDoorSensorBattery, &c.doorSensor, d.DoorSensor)
		setAccessory(&changed, factKeypadBattery, &c.keypad, d.Keypad)
	}
	msgs := s.lockDiscovery(l, false)
	for _, f := range changed {
		msgs = append(msgs, s.factMessage(l, f))
	}
	if created || len(changed) > 0 {
		l.updatedAt = now
	}
	if described != l.described() {
		s.catalog++
	}
	if created || len(changed) > 0 || described != l.described() {
		msgs = append(msgs, s.lockJSON(l))
	}
	return msgs, nil
}

// setAccessory records an accessory's battery; one no longer paired is forgotten, and its topic
// cleared (cloudPayload).
func setAccessory(changed *facts, f fact, dst **Accessory, a *Accessory) {
	switch {
	case a == nil && *dst == nil:
	case a == nil || *dst == nil || !equalInt((*dst).Battery, a.Battery):
		*dst = copyOf(a)
		*changed = append(*changed, f)
	}
}

// ApplyActivity handles a fetch of a lock's activity log (entries in any order). It publishes each
// entry not handled before on the activity topic, oldest first, and takes who last moved the lock
// from the newest entry that moved it. On the first fetch of this process, entries no newer than
// what is already known (or than notBefore, when nothing is) are taken as seen, not published: a
// restart must not replay the log as if it had just happened.
func (s *Store) ApplyActivity(serial string, entries []ActivityEntry, notBefore, now time.Time) []Message {
	l, ok := s.locks[serial]
	if !ok {
		return nil
	}
	c := l.cloudFacts()
	slices.SortStableFunc(entries, func(a, b ActivityEntry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmpInt(a.ID, b.ID)
	})
	watermark := notBefore
	if !c.lastMoved.IsZero() {
		watermark = c.lastMoved
	}
	var msgs []Message
	var changed facts
	for _, e := range entries {
		at := clampFuture(e.At, now)
		if slices.Contains(c.seen, e.ID) {
			continue
		}
		c.seen = append(c.seen, e.ID)
		if len(c.seen) > maxSeenActivity {
			c.seen = slices.Delete(c.seen, 0, len(c.seen)-maxSeenActivity)
		}
		if !c.warm && !at.After(watermark) {
			continue
		}
		msgs = append(msgs, s.activityMessage(l, e, at))
		if e.Moves && !at.Before(c.lastMoved) {
			c.lastMoved = at
			user, source := "unknown", e.Source
			if e.User != "" {
				user = e.User
			}
			if source == "" {
				source = "unknown"
			}
			set(&changed, factLastUser, &c.lastUser, user)
			set(&changed, factLastSource, &c.lastSource, source)
		}
	}
	c.warm = true
	for _, f := range changed {
		msgs = append(msgs, s.factMessage(l, f))
	}
	if len(changed) > 0 {
		l.updatedAt = now
		msgs = append(msgs, s.lockJSON(l))
	}
	return msgs
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Store) activityMessage(l *lock, e ActivityEntry, at time.Time) Message {
	j := ActivityJSON{Event: e.Event, Source: e.Source, At: at.UTC().Format(timeLayout), Code: e.Code}
	if u, ok := deviceName(e.User); ok {
		j.User = &u
	}
	payload, _ := json.Marshal(j) // strings and numbers only
	return Message{Topic: s.topic(l.serial, "activity"), Payload: payload}
}

// accessories names the accessories paired with the lock, as far as the Cloud API said.
func (l *lock) accessories() []string {
	var out []string
	if c := l.cloud; c != nil {
		if c.doorSensor != nil {
			out = append(out, "door_sensor")
		}
		if c.keypad != nil {
			out = append(out, "keypad")
		}
	}
	return out
}

// cloudPayload returns the payload of one of the Cloud API's facts.
func (l *lock) cloudPayload(f fact) string {
	c := l.cloud
	battery := func(a *Accessory) string {
		if a == nil {
			return "" // no longer paired: the empty retained message clears the topic
		}
		if a.Battery == nil || *a.Battery < 0 || *a.Battery > 100 {
			return "unknown"
		}
		return strconv.Itoa(*a.Battery)
	}
	switch f {
	case factLastUser:
		return *c.lastUser
	case factLastSource:
		return *c.lastSource
	case factUpdate:
		return string(mustJSON(c.update))
	case factDoorSensorBattery:
		return battery(c.doorSensor)
	case factKeypadBattery:
		return battery(c.keypad)
	}
	return ""
}

// cloudKnown lists the Cloud API's facts that have a value, in a fixed order.
func (l *lock) cloudKnown() []fact {
	c := l.cloud
	if c == nil {
		return nil
	}
	var out []fact
	for _, f := range []struct {
		fact  fact
		known bool
	}{{factLastUser, c.lastUser != nil}, {factLastSource, c.lastSource != nil}, {factUpdate, c.update != nil},
		{factDoorSensorBattery, c.doorSensor != nil},
		{factKeypadBattery, c.keypad != nil}} {
		if f.known {
			out = append(out, f.fact)
		}
	}
	return out
}

// ApplyCloudState applies a lock's state as the Cloud API's sync reports it, with ts the time of
// its last state change. Only for a lock that no bridge of tedee2mqtt reports: the cloud learns
// of a change after the bridge, so its reading could roll back what a bridge's webhook just said.
// It returns nothing for any other lock.
func (s *Store) ApplyCloudState(snap LockSnapshot, ts, now time.Time) ([]Message, error) {
	l, ok := s.locks[snap.Serial]
	if !ok || l.bridge != "" {
		return nil, nil
	}
	return s.ApplySnapshot("", snap, ts, now)
}

// OnStateChange sets f to be told, during the call that changed it, that a lock's state word
// changed: the Cloud API's activity log then has an entry saying who moved it. A status event
// that repeats the state (a door opening, a redelivery) does not tell: with a door sensor that
// would be a read of the log, and its retries, every time someone walks through. f must not
// block or call the store.
func (s *Store) OnStateChange(f func(serial string)) { s.onState = f }

// notifyState tells OnStateChange's function when the lock's state word is no longer before.
func (s *Store) notifyState(l *lock, before string) {
	if s.onState != nil && l.state != nil && *l.state != before {
		s.onState(l.serial)
	}
}

// Bridged reports whether a bridge of tedee2mqtt reports the lock.
func (s *Store) Bridged(serial string) bool {
	l, ok := s.locks[serial]
	return ok && l.bridge != ""
}

// CanOpen reports whether the lock can open (pull the latch): its pull spring is enabled, or it
// has been seen pulling. Home Assistant is offered open on the same rule (lockDiscovery).
func (s *Store) CanOpen(serial string) bool {
	l, ok := s.locks[serial]
	return ok && l.pulls()
}

// setSettings stores the lock's settings as its bridge or the Cloud API reports them (both say
// what the lock has; the newer report wins) and records a change.
func (l *lock) setSettings(changed *facts, st Settings) {
	if l.settings == nil || string(mustJSON(l.settings)) != string(mustJSON(st)) {
		l.settings = &st
		*changed = append(*changed, factSettings)
	}
	if st.PullSpring != nil {
		l.pullSpring = copyOf(st.PullSpring)
	}
}
