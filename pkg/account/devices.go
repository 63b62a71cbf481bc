package account

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// readDevices reads the device list (and the door sensors, when a lock has one) and hands every
// lock to the owner. Cloud ids change when a lock is added to an account again: the map is
// rebuilt from each list, by serial.
func (a *Account) readDevices(ctx context.Context) error {
	list, err := a.api.Devices(ctx)
	if err != nil {
		a.recordDevices(err)
		a.log.Warn("could not read the Tedee Cloud's device list", zap.Error(err))
		return fmt.Errorf("read the device list: %w", err)
	}
	var sensors []tedeecloud.DoorSensor
	if hasAccessory(list.Locks, tedeecloud.DeviceDoorSensor) {
		if sensors, err = a.api.DoorSensors(ctx); err != nil {
			// The locks are still worth applying; their sensor batteries stay as they were.
			a.log.Warn("could not read the door sensors from the Tedee Cloud", zap.Error(err))
		}
	}
	sensorsRead := err == nil
	now := a.opts.Now()
	ids := make(map[string]int64, len(list.Locks))
	for _, l := range list.Locks {
		if tedee.ValidSerial(l.Serial) {
			ids[l.Serial] = l.ID
		}
	}
	// The map first: once a lock's settings are published, a write to them must find it.
	a.mu.Lock()
	a.ids = ids
	a.mu.Unlock()
	for _, l := range list.Locks {
		if !tedee.ValidSerial(l.Serial) {
			a.log.Warn("skipped a lock of the device list: its serial cannot be a topic segment", zap.Int64("device_id", l.ID))
			continue
		}
		if err := a.owner.CloudDevice(device(l, list.Keypads, sensors, sensorsRead), now); err != nil {
			a.log.Warn("could not apply a lock of the device list", zap.String("serial", l.Serial), zap.Error(err))
			continue
		}
		if l.DeviceState != nil && !a.owner.Bridged(l.Serial) {
			a.applyState(l.ID, l.Serial, l.IsConnected, l.DeviceState, now)
		}
	}
	a.mu.Lock()
	a.bridges = list.Bridges
	a.mu.Unlock()
	a.applyBridges(now)
	a.mu.Lock()
	for _, l := range list.Locks {
		a.revision[l.ID] = l.Revision
	}
	a.mu.Unlock()
	a.recordDevices(nil)
	a.log.Info("read the Tedee Cloud's device list", zap.Int("locks", len(ids)), zap.Int("bridges", len(list.Bridges)))
	return nil
}

func hasAccessory(locks []tedeecloud.Lock, deviceType int) bool {
	for _, l := range locks {
		for _, acc := range l.Accessories {
			if acc.DeviceType == deviceType {
				return true
			}
		}
	}
	return false
}

// device turns a lock of the device list into what the state keeps. sensorsRead says whether the
// door sensors were read (with the device list's keypads): if not, the accessories are left as
// they were rather than called unknown.
func device(l tedeecloud.Lock, keypads []tedeecloud.Keypad, sensors []tedeecloud.DoorSensor, sensorsRead bool) state.CloudDevice {
	d := state.CloudDevice{ID: l.ID, Serial: l.Serial, Name: l.Name, DeviceType: l.Type, Accessories: sensorsRead}
	if installed, available, ok := tedeecloud.Firmware(l.SoftwareVersions); ok {
		d.Update = &state.Update{Installed: installed, UpdateAvailable: available}
	}
	if s := l.DeviceSettings; s != nil {
		d.Settings = &state.Settings{AutoLock: s.AutoLockEnabled, AutoLockDelay: s.AutoLockDelay,
			ButtonLock: s.ButtonLockEnabled, ButtonUnlock: s.ButtonUnlockEnabled, PullSpring: s.PullSpringEnabled,
			PullSpringDuration: s.PullSpringDuration, AutoPull: s.AutoPullSpringEnabled,
			PostponedLock: s.PostponedLockEnabled, PostponedLockDelay: s.PostponedLockDelay}
	}
	for _, acc := range l.Accessories {
		switch acc.DeviceType {
		case tedeecloud.DeviceDoorSensor:
			d.DoorSensor = &state.Accessory{}
			for _, s := range sensors {
				if s.ID == acc.ID || (s.ConnectedToLockID != nil && *s.ConnectedToLockID == l.ID) {
					d.DoorSensor.Battery = s.BatteryLevel
				}
			}
		case tedeecloud.DeviceKeypad, tedeecloud.DeviceKeypadPro:
			d.Keypad = &state.Accessory{}
			for _, k := range keypads {
				if k.ID == acc.ID || (k.ConnectedToLockID != nil && *k.ConnectedToLockID == l.ID) {
					d.Keypad.Battery = k.BatteryLevel
				}
			}
		}
	}
	return d
}

// applyState hands the owner a lock's state as the cloud reports it, for a lock no bridge
// reports. Its time is the lock's last state change, so that it orders against cloud webhooks.
func (a *Account) applyState(id int64, serial string, connected *bool, ds *tedeecloud.DeviceState, now time.Time) {
	snap := state.LockSnapshot{ID: id, Serial: serial, Connected: connected}
	ts := now
	if ds != nil {
		if ds.State != nil {
			snap.State = new(tedee.LockState(*ds.State))
		}
		if ds.DoorState != nil {
			snap.DoorState = new(tedee.DoorState(*ds.DoorState))
		}
		snap.Battery, snap.Charging = ds.BatteryLevel, ds.IsCharging
		if ds.LastStateChanged != nil {
			ts = *ds.LastStateChanged
		}
	}
	if err := a.owner.CloudState(snap, ts, now); err != nil {
		a.log.Warn("could not apply a lock's state from the Tedee Cloud", zap.String("serial", serial), zap.Error(err))
	}
}

// pollState reads the state of the locks no bridge reports, in one request; a lock whose settings
// revision moved has its device list entry read again.
func (a *Account) pollState(ctx context.Context) {
	a.mu.Lock()
	var ids []int64
	serials := map[int64]string{}
	for serial, id := range a.ids {
		serials[id] = serial
	}
	a.mu.Unlock()
	for id, serial := range serials {
		if !a.owner.Bridged(serial) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return // every lock has a bridge: its webhooks and API say more, sooner
	}
	syncs, err := a.api.SyncLocks(ctx, ids...)
	if err != nil {
		a.log.Debug("could not read the locks' state from the Tedee Cloud", zap.Error(err))
		return
	}
	now := a.opts.Now()
	for _, s := range syncs {
		serial, ok := serials[s.ID]
		if !ok {
			continue
		}
		a.applyState(s.ID, serial, s.IsConnected, s.DeviceState, now)
		a.mu.Lock()
		moved := a.revision[s.ID] != 0 && s.Revision != a.revision[s.ID]
		a.mu.Unlock()
		if moved {
			a.RefreshDevices()
		}
	}
}

// applyBridges hands the owner the bridges' firmware from the last device list. It is applied
// again at every poll, without a request: a bridge's serial may be learned from its Bridge API only
// after the list was read, and the owner applies it only to a bridge it knows by serial.
func (a *Account) applyBridges(now time.Time) {
	a.mu.Lock()
	bridges := a.bridges
	a.mu.Unlock()
	for _, b := range bridges {
		if installed, available, ok := tedeecloud.Firmware(b.SoftwareVersions); ok {
			a.owner.CloudBridge(b.Serial, state.Update{Installed: installed, UpdateAvailable: available}, now)
		}
	}
}
