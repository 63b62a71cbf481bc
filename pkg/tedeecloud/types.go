package tedeecloud

import (
	"strings"
	"time"
)

// Every optional field is a pointer: nil means Tedee did not report it (a lock offline or not
// paired has no deviceState; accessory batteries vanish after 30 days without an update), which
// is not the same as false or 0. The JSON decoding (decode.go) follows Tedee's names and quirks.

// Operation is a lock operation, the last element of its path.
type Operation string

const (
	OpLock   Operation = "lock"
	OpUnlock Operation = "unlock"
	OpPull   Operation = "pull"
)

// UnlockMode is the unlock ?mode= (the enum has no 1). Only sent for OpUnlock.
type UnlockMode int

const (
	UnlockNormal      UnlockMode = 0 // no pull unless auto-pull is enabled
	UnlockForce       UnlockMode = 2 // for a lock in the Unknown state
	UnlockWithoutPull UnlockMode = 3 // never pulls, even with auto-pull
	UnlockOrPull      UnlockMode = 4 // unlocks a locked lock, pulls an unlocked one
)

// Device types (Accessory.DeviceType and the device list).
const (
	DeviceBridge     = 1
	DeviceLockPro    = 2
	DeviceKeypad     = 3
	DeviceLockGo     = 4
	DeviceDoorSensor = 8
	DeviceKeypadPro  = 10
)

// Devices is the account's device list (GET /my/device/details).
type Devices struct {
	Bridges []Bridge
	Locks   []Lock
	Keypads []Keypad
}

// Bridge is a Tedee Bridge as the cloud knows it. Its ID is a lock's ConnectedToID.
type Bridge struct {
	ID               int64
	Serial           string // serialNumber
	Name             string
	IsConnected      *bool // bridge ↔ cloud
	IsUpdating       *bool
	SoftwareVersions []SoftwareVersion
}

// Lock is the Lock model of /my/device/details and /my/lock/{id}. ID is the cloud device id,
// which can change: Serial is what stays.
type Lock struct {
	ID                   int64
	Serial               string // serialNumber
	Name                 string
	Type                 int    // 2 Lock PRO, 4 Lock GO
	ConnectedToID        *int64 // the bridge's ID; nil when not paired
	IsConnected          *bool  // lock ↔ bridge; nil when not paired
	Revision             int64  // send it back in UpdateSettings
	DeviceRevision       int64  // the settings revision on the lock
	TargetDeviceRevision int64  // the settings revision being sent to the lock
	DeviceState          *DeviceState
	DeviceSettings       *DeviceSettings
	SoftwareVersions     []SoftwareVersion
	Accessories          []Accessory
	AccessLevel          *int  // 0 Guest, 1 Admin, 2 Owner, 3 None
	RemoteAccessDisabled *bool // from accessDetails (null for owners): true forbids operations
}

// DeviceState is a lock's state (deviceState, called lockProperties before v1.34). It is nil
// when the lock is disconnected or not paired.
type DeviceState struct {
	State             *int // 0 Uncalibrated … 6 Locked, 7 Pulled, 9 Unknown, 18 Updating
	DoorState         *int // 0 NotPaired, 1 Disconnected, 2 Opened, 3 Closed, 4 Uncalibrated
	IsCharging        *bool
	BatteryLevel      *int
	StateChangeResult *int // 0 ok, >0 the last change failed
	LastStateChanged  *time.Time
}

// DeviceSettings are a lock's settings. Marshalled with omitempty, so that PATCH sends only what
// is set: "if a given parameter is not specified, its value will not change". Delays and
// durations are seconds. Setting PullSpringEnabled to false resets the pull-spring calibration.
type DeviceSettings struct {
	AutoLockEnabled       *bool `json:"autoLockEnabled,omitempty"`
	AutoLockDelay         *int  `json:"autoLockDelay,omitempty"`
	ButtonLockEnabled     *bool `json:"buttonLockEnabled,omitempty"`
	ButtonUnlockEnabled   *bool `json:"buttonUnlockEnabled,omitempty"`
	PullSpringEnabled     *bool `json:"pullSpringEnabled,omitempty"`
	PullSpringDuration    *int  `json:"pullSpringDuration,omitempty"`
	AutoPullSpringEnabled *bool `json:"autoPullSpringEnabled,omitempty"`
	PostponedLockEnabled  *bool `json:"postponedLockEnabled,omitempty"`
	PostponedLockDelay    *int  `json:"postponedLockDelay,omitempty"`
}

// SoftwareVersion is one entry of softwareVersions: type 0 is the device's firmware, 1 a bridge's
// Wi-Fi module.
type SoftwareVersion struct {
	SoftwareType    int    `json:"softwareType"`
	Version         string `json:"version"`
	UpdateAvailable bool   `json:"updateAvailable"`
}

// Firmware returns the device firmware (the softwareType 0 entry): its version and whether an
// update is available. ok is false when there is no such entry. Tedee gives no version number
// for the available update.
func Firmware(v []SoftwareVersion) (installed string, updateAvailable bool, ok bool) {
	for _, s := range v {
		if s.SoftwareType == 0 {
			return s.Version, s.UpdateAvailable, true
		}
	}
	return "", false, false
}

// Accessory is a device paired with a lock: DeviceKeypad, DeviceDoorSensor or DeviceKeypadPro.
type Accessory struct {
	ID         int64 `json:"id"`
	DeviceType int   `json:"deviceType"`
}

// Keypad is an entry of the device list's keypads. Its lock is usually found through the lock's
// Accessories; older models also name it in ConnectedToLockID.
type Keypad struct {
	ID                   int64
	Serial               string
	Name                 string
	ConnectedToLockID    *int64
	BatteryLevel         *int       // deviceState.batteryLevel; absent after 30 days without an update
	BatteryLevelModified *time.Time // batteryLevelModifiedDateTime (release note) or …ModifiedTime
}

// DoorSensor is an entry of GET /my/doorsensor.
type DoorSensor struct {
	ID                   int64
	Serial               string
	Name                 string
	ConnectedToLockID    *int64
	BatteryLevel         *int // absent after 30 days without an update
	BatteryLevelModified *time.Time
}

// LockSync is a lock's state from /my/lock/sync. A changed Revision means its settings changed.
type LockSync struct {
	ID          int64
	IsConnected *bool
	DeviceState *DeviceState // nil when the lock is disconnected
	Revision    int64
}

// Activity is one entry of a lock's activity log: who (UserID, UserName, when known) and how
// (Event, the activity code; Source 0 device, 1 mobile).
type Activity struct {
	ID       int64
	DeviceID int64
	UserID   *int64
	UserName string // "username" in Tedee's sample, "userName" in its data structure page
	Event    int
	Source   int
	Date     time.Time // UTC
}

// Started is the answer to an accepted operation (202: accepted, not done).
type Started struct {
	OperationID      string
	LastStateChanged *time.Time // the last state change before this operation
}

// OperationStatus is the state of an operation: poll until Completed, then read the lock.
type OperationStatus struct {
	DeviceID    int64
	OperationID string
	Status      string // PENDING or COMPLETED
	Result      *int   // 0 success, >0 an error (codes undocumented)
	Type        int    // 0 lock, 1 unlock, 2 pull
}

// Completed reports whether the operation has finished (successfully or not: see Succeeded).
func (s OperationStatus) Completed() bool { return strings.EqualFold(s.Status, "COMPLETED") }

// Succeeded reports whether the operation finished with result 0.
func (s OperationStatus) Succeeded() bool {
	return s.Completed() && s.Result != nil && *s.Result == 0
}

// Updated is the answer to UpdateSettings. The lock has applied the new settings when its
// DeviceRevision reaches TargetDeviceRevision.
type Updated struct {
	ID                   int64
	Revision             int64
	TargetDeviceRevision int64
}
