package state

import (
	"fmt"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// LockSnapshot is a lock as the Bridge API reports it (GET /lock). Nil and empty are what the
// bridge did not report: the fact stays as it was, never invented.
type LockSnapshot struct {
	ID         int64
	Serial     string
	Name       string
	DeviceType int
	Firmware   string
	Connected  *bool
	State      *tedee.LockState
	Jammed     *bool
	DoorState  *tedee.DoorState // nil: firmware without door sensor support
	Battery    *int             // 0–100, or 255 for "not known"
	Charging   *bool
	PullSpring *bool     // pull spring enabled in the lock's settings
	Settings   *Settings // the lock's settings as the bridge reports them; nil: none reported
	RSSI       *int      // signal strength to the bridge, dBm
}

// ApplySnapshot applies a lock as polled from the Bridge API. ts is the bridge's time when the
// poll started: each kind of fact applies only if no newer event of that kind has been applied,
// so a poll never rolls back a webhook that arrived meanwhile. Only facts that changed are
// published, with the json snapshot and any discovery change; no event message, since nothing
// happened. The json is published too when only the times of the ordering rule moved, so that
// what a restart reads back orders the next events as this process would.
func (s *Store) ApplySnapshot(bridgeName string, snap LockSnapshot, ts, now time.Time) ([]Message, error) {
	if !tedee.ValidSerial(snap.Serial) {
		return nil, fmt.Errorf("lock %d: serial %q cannot be a topic segment", snap.ID, snap.Serial)
	}
	l, created := s.listedLock(snap.Serial)
	described := l.described()
	s.identify(l, snap.ID)
	if bridgeName != "" { // the Tedee Cloud's readings do not say which bridge the lock talks through
		l.bridge = bridgeName
	}
	if snap.DeviceType != 0 {
		l.deviceType = snap.DeviceType
	}

	if name, ok := deviceName(snap.Name); ok {
		l.name = name
	}
	if snap.PullSpring != nil {
		l.pullSpring = snap.PullSpring
	}
	ts = clampFuture(ts, now)
	if l.farAhead(ts) {
		// A reading is the bridge's present: times far ahead of it were stamped by a clock the
		// bridge no longer has.
		if bridgeName != "" {
			s.followClock(s.bridgeNamed(bridgeName), ts, now)
		}
		l.rewind(ts)
	}
	applied, seen, newest, before := l.applied, l.seen, l.newest, orEmpty(l.state)
	var changed facts
	if fw, ok := firmware(snap.Firmware); ok && fw != l.firmware {
		l.firmware = fw
		changed = append(changed, factFirmware)
	}
	if snap.Settings != nil {
		l.setSettings(&changed, *snap.Settings)
	}
	if snap.RSSI != nil && *snap.RSSI >= -150 && *snap.RSSI <= 0 { // dBm; anything else is not a reading
		set(&changed, factRSSI, &l.rssi, *snap.RSSI)
	}
	if (snap.State != nil || snap.Jammed != nil || snap.DoorState != nil) && l.accept(kindStatus, ts) {
		l.setStatus(&changed, snap.State, snap.Jammed, snap.DoorState)
	}
	if snap.Battery != nil && l.accept(kindBattery, ts) {
		l.setBattery(&changed, *snap.Battery)
	}
	if snap.Charging != nil && l.accept(kindCharging, ts) {
		set(&changed, factCharging, &l.charging, *snap.Charging)
	}
	if snap.Connected != nil && l.accept(kindConnection, ts) {
		set(&changed, factConnected, &l.connected, *snap.Connected)
	}
	if ts.After(l.newest) {
		l.newest = ts
	}
	var msgs []Message
	if bridgeName != "" {
		msgs = s.bridgeDiscovery(s.bridgeNamed(bridgeName), false)
	}
	msgs = append(msgs, s.lockDiscovery(l, false)...)
	s.notifyState(l, before)
	for _, f := range changed {
		msgs = append(msgs, s.factMessage(l, f))
	}
	if len(changed) > 0 || created {
		l.updatedAt = now
	}
	if described != l.described() {
		s.catalog++
	}
	if len(changed) > 0 || created || applied != l.applied || seen != l.seen || newest != l.newest || described != l.described() {
		msgs = append(msgs, s.lockJSON(l))
	}
	return msgs, nil
}

// description is what the json shows of a lock besides its facts and times.
type description struct {
	id                     int64
	deviceType             int
	bridge, firmware, name string
	doorSensor, keypad     bool
}

func (l *lock) described() description {
	d := description{id: l.id, deviceType: l.deviceType, bridge: l.bridge, firmware: l.firmware, name: l.name}
	if l.cloud != nil {
		d.doorSensor, d.keypad = l.cloud.doorSensor != nil, l.cloud.keypad != nil
	}
	return d
}
