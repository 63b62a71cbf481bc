package fakecloud

// The JSON the cloud answers, field by field as in Tedee's documented examples
// (testdata/*.json are those examples; the tests compare shapes with them).

import "time"

const (
	// userIdentity, timeZone and beacon are per-device values the service does not read; the
	// fake answers the documented example's.
	userIdentity = "bcc1fdc9-13ee-43b3-a13e-eaba8eaf7996"
	timeZone     = "Europe/Warsaw"
	beacon       = 10
	wifiVersion  = "2.0.0"
	// accessLevelOwner: a personal key acts as its user, the owner of the fake's devices.
	accessLevelOwner = 2
)

// Tedee writes dates three ways: with a Z (lastStateChangedDate), without a zone but in UTC
// (created, with up to 7 fractional digits; activity dates, with 3), and without fraction
// (batteryLevelModifiedTime).
const (
	layoutZ        = "2006-01-02T15:04:05.000Z"
	layoutCreated  = "2006-01-02T15:04:05.9999999"
	layoutActivity = "2006-01-02T15:04:05.000"
	layoutSeconds  = "2006-01-02T15:04:05"
)

func utc(t time.Time, layout string) string { return t.UTC().Format(layout) }

// bridgeCreated is when every fake bridge was added to the account (the example's date).
func bridgeCreated() time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }

type softwareVersionJSON struct {
	SoftwareType    int    `json:"softwareType"` // 0 device, 1 Wi-Fi
	Version         string `json:"version"`
	UpdateAvailable bool   `json:"updateAvailable"`
}

type deviceStateJSON struct {
	State                int    `json:"state"`
	DoorState            int    `json:"doorState"`
	IsCharging           bool   `json:"isCharging"`
	BatteryLevel         int    `json:"batteryLevel"`
	StateChangeResult    int    `json:"stateChangeResult"`
	LastStateChangedDate string `json:"lastStateChangedDate"`
}

type deviceSettingsJSON struct {
	AutoLockEnabled                bool `json:"autoLockEnabled"`
	AutoLockDelay                  int  `json:"autoLockDelay"`
	AutoLockImplicitEnabled        bool `json:"autoLockImplicitEnabled"`
	AutoLockImplicitDelay          int  `json:"autoLockImplicitDelay"`
	PullSpringEnabled              bool `json:"pullSpringEnabled"`
	PullSpringDuration             int  `json:"pullSpringDuration"`
	AutoPullSpringEnabled          bool `json:"autoPullSpringEnabled"`
	PostponedLockEnabled           bool `json:"postponedLockEnabled"`
	PostponedLockDelay             int  `json:"postponedLockDelay"`
	ButtonLockEnabled              bool `json:"buttonLockEnabled"`
	ButtonUnlockEnabled            bool `json:"buttonUnlockEnabled"`
	IsAsync                        bool `json:"isAsync"`
	OpenDoorAlertEnabled           bool `json:"openDoorAlertEnabled"`
	OpenDoorAlertThreshold         int  `json:"openDoorAlertThreshold"`
	AutoLockAfterDoorClosedEnabled bool `json:"autoLockAfterDoorClosedEnabled"`
	DoorStateEventLoggingEnabled   bool `json:"doorStateEventLoggingEnabled"`
}

type locationJSON struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type userSettingsJSON struct {
	AutoUnlockEnabled        bool         `json:"autoUnlockEnabled"`
	AutoUnlockConfirmEnabled bool         `json:"autoUnlockConfirmEnabled"`
	AutoUnlockRangeIn        int          `json:"autoUnlockRangeIn"`
	AutoUnlockRangeOut       int          `json:"autoUnlockRangeOut"`
	AutoUnlockTimeout        int          `json:"autoUnlockTimeout"`
	Location                 locationJSON `json:"location"`
}

type accessoryJSON struct {
	ID         int64 `json:"id"`
	DeviceType int   `json:"deviceType"`
}

// lockJSON is the Lock model of GET /my/lock, /my/lock/{id} and /my/device/details.
type lockJSON struct {
	Accessories          *[]accessoryJSON      `json:"accessories,omitempty"` // only with IncludeAccessories
	DeviceSettings       deviceSettingsJSON    `json:"deviceSettings"`
	UserSettings         *userSettingsJSON     `json:"userSettings,omitempty"` // only with IncludeUserSettings
	DeviceState          *deviceStateJSON      `json:"deviceState"`            // null when unreachable
	BeaconMajor          *int                  `json:"beaconMajor"`            // null when unpaired
	BeaconMinor          *int                  `json:"beaconMinor"`
	TimeZone             string                `json:"timeZone"`
	ID                   int64                 `json:"id"`
	ConnectedToID        *int64                `json:"connectedToId"` // null when unpaired
	SerialNumber         string                `json:"serialNumber"`
	Name                 string                `json:"name"`
	UserIdentity         string                `json:"userIdentity"`
	Type                 int                   `json:"type"`
	Created              string                `json:"created"`
	Revision             int64                 `json:"revision"`
	DeviceRevision       int64                 `json:"deviceRevision"`
	TargetDeviceRevision int64                 `json:"targetDeviceRevision"`
	IsConnected          *bool                 `json:"isConnected"` // null when unpaired
	AccessLevel          int                   `json:"accessLevel"`
	AccessDetails        *struct{}             `json:"accessDetails"` // null for an owner
	SoftwareVersions     []softwareVersionJSON `json:"softwareVersions"`
}

// syncJSON is one lock in GET /my/lock/sync and /my/lock/{id}/sync.
type syncJSON struct {
	ID          int64            `json:"id"`
	IsConnected *bool            `json:"isConnected"`
	DeviceState *deviceStateJSON `json:"deviceState"`
	Revision    int64            `json:"revision"`
}

type bridgeJSON struct {
	BeaconMajor          int                   `json:"beaconMajor"`
	BeaconMinor          int                   `json:"beaconMinor"`
	WasConfigured        bool                  `json:"wasConfigured"`
	IsUpdating           bool                  `json:"isUpdating"`
	TimeZone             string                `json:"timeZone"`
	ID                   int64                 `json:"id"`
	SerialNumber         string                `json:"serialNumber"`
	Name                 string                `json:"name"`
	UserIdentity         string                `json:"userIdentity"`
	Type                 int                   `json:"type"`
	Created              string                `json:"created"`
	Revision             int64                 `json:"revision"`
	DeviceRevision       int64                 `json:"deviceRevision"`
	TargetDeviceRevision int64                 `json:"targetDeviceRevision"`
	IsConnected          bool                  `json:"isConnected"`
	AccessLevel          int                   `json:"accessLevel"`
	AccessDetails        *struct{}             `json:"accessDetails"`
	SoftwareVersions     []softwareVersionJSON `json:"softwareVersions"`
}

// accessoryStateJSON holds an accessory's battery, both fields omitted when older than 30 days.
// The door sensor's date is batteryLevelModifiedTime (its documented example); the keypad's is
// batteryLevelModifiedDateTime (the release note of 2024-10-07; no example exists).
type accessoryStateJSON struct {
	BatteryLevel                 *int   `json:"batteryLevel,omitempty"`
	BatteryLevelModifiedTime     string `json:"batteryLevelModifiedTime,omitempty"`
	BatteryLevelModifiedDateTime string `json:"batteryLevelModifiedDateTime,omitempty"`
}

type favoriteJSON struct {
	Favorite bool `json:"favorite"`
}

// accessoryDeviceJSON is a door sensor (GET /my/doorsensor) or a keypad (GET /my/keypad,
// details.keypads; Swagger only, so its shape follows the door sensor's).
type accessoryDeviceJSON struct {
	UserSettings         *favoriteJSON         `json:"userSettings,omitempty"`
	ConnectedToLockID    int64                 `json:"connectedToLockId"`
	DeviceState          accessoryStateJSON    `json:"deviceState"`
	ID                   int64                 `json:"id"`
	OrganizationID       *int64                `json:"organizationId"` // null: a personal account
	SerialNumber         string                `json:"serialNumber"`
	Name                 string                `json:"name"`
	UserIdentity         string                `json:"userIdentity"`
	Type                 int                   `json:"type"`
	Created              string                `json:"created"`
	Revision             int64                 `json:"revision"`
	DeviceRevision       int64                 `json:"deviceRevision"`
	TargetDeviceRevision int64                 `json:"targetDeviceRevision"`
	TimeZone             string                `json:"timeZone"`
	IsConnected          *bool                 `json:"isConnected"` // "not used for door sensor": null
	AccessLevel          int                   `json:"accessLevel"`
	AccessDetails        *struct{}             `json:"accessDetails"`
	SoftwareVersions     []softwareVersionJSON `json:"softwareVersions"`
}

// deviceJSON is one device of GET /my/device (no documented example: the common device fields).
type deviceJSON struct {
	ID           int64  `json:"id"`
	SerialNumber string `json:"serialNumber"`
	Name         string `json:"name"`
	Type         int    `json:"type"`
	Created      string `json:"created"`
	Revision     int64  `json:"revision"`
	AccessLevel  int    `json:"accessLevel"`
}

// include says which optional parts a lock model carries.
type include struct{ accessories, userSettings bool }

func (c *Cloud) deviceState(e *lockEntry) *deviceStateJSON {
	if !c.reachable(e) {
		return nil
	}
	result := 0
	if e.Jammed {
		result = 1
	}
	return &deviceStateJSON{State: e.State, DoorState: e.DoorState, IsCharging: e.Charging, BatteryLevel: e.Battery,
		StateChangeResult: result, LastStateChangedDate: utc(e.changedAt, layoutZ)}
}

// isConnected is the lock's link as the cloud reports it: null when unpaired.
func (c *Cloud) isConnected(e *lockEntry) *bool {
	if e.BridgeID == 0 {
		return nil
	}
	return new(c.reachable(e))
}

func (c *Cloud) lockModel(e *lockEntry, inc include) lockJSON {
	s := e.Settings
	out := lockJSON{
		DeviceSettings: deviceSettingsJSON{AutoLockEnabled: s.AutoLock, AutoLockDelay: s.AutoLockDelay,
			AutoLockImplicitDelay: 10, PullSpringEnabled: s.PullSpring, PullSpringDuration: s.PullSpringDuration,
			AutoPullSpringEnabled: s.AutoPull, PostponedLockEnabled: s.PostponedLock, PostponedLockDelay: s.PostponedLockDelay,
			ButtonLockEnabled: s.ButtonLock, ButtonUnlockEnabled: s.ButtonUnlock, OpenDoorAlertThreshold: 300},
		DeviceState: c.deviceState(e), TimeZone: timeZone, ID: e.ID, SerialNumber: e.Serial, Name: e.Name,
		UserIdentity: userIdentity, Type: e.Type, Created: utc(e.created, layoutCreated), Revision: e.Revision,
		DeviceRevision: e.DeviceRevision, TargetDeviceRevision: e.TargetDeviceRevision, IsConnected: c.isConnected(e),
		AccessLevel:      accessLevelOwner,
		SoftwareVersions: []softwareVersionJSON{{SoftwareType: 0, Version: e.Firmware, UpdateAvailable: e.UpdateAvailable}},
	}
	if e.BridgeID != 0 {
		out.BeaconMajor, out.BeaconMinor, out.ConnectedToID = new(beacon), new(beacon), new(e.BridgeID)
	}
	if inc.accessories {
		list := make([]accessoryJSON, 0, len(e.Accessories))
		for _, a := range e.Accessories {
			list = append(list, accessoryJSON{ID: a.ID, DeviceType: a.Type})
		}
		out.Accessories = &list
	}
	if inc.userSettings {
		out.UserSettings = &userSettingsJSON{AutoUnlockRangeIn: 300, AutoUnlockRangeOut: 400, AutoUnlockTimeout: 20}
	}
	return out
}

func (c *Cloud) syncModel(e *lockEntry) syncJSON {
	return syncJSON{ID: e.ID, IsConnected: c.isConnected(e), DeviceState: c.deviceState(e), Revision: e.Revision}
}

func (c *Cloud) bridgeModel(b *Bridge) bridgeJSON {
	return bridgeJSON{BeaconMajor: beacon, BeaconMinor: beacon, WasConfigured: true, TimeZone: timeZone, ID: b.ID,
		SerialNumber: b.Serial, Name: b.Name, UserIdentity: userIdentity, Type: 1, Created: utc(bridgeCreated(), layoutCreated),
		Revision: 1, DeviceRevision: 1, TargetDeviceRevision: 1, IsConnected: b.Connected, AccessLevel: accessLevelOwner,
		SoftwareVersions: []softwareVersionJSON{{SoftwareType: 0, Version: b.Firmware, UpdateAvailable: b.UpdateAvailable},
			{SoftwareType: 1, Version: wifiVersion}}}
}

// batteryFreshFor is how long the cloud shows an accessory's battery level after it was reported.
const batteryFreshFor = 30 * 24 * time.Hour

func (c *Cloud) accessoryModel(e *lockEntry, a Accessory, now time.Time, userSettings bool) accessoryDeviceJSON {
	version := a.Firmware
	if version == "" {
		version = "1.0"
	}
	out := accessoryDeviceJSON{ConnectedToLockID: e.ID, ID: a.ID, SerialNumber: a.Serial, Name: a.Name,
		UserIdentity: userIdentity, Type: a.Type, Created: utc(e.created, layoutCreated), Revision: 1, DeviceRevision: 1,
		TargetDeviceRevision: 1, TimeZone: timeZone, AccessLevel: accessLevelOwner,
		SoftwareVersions: []softwareVersionJSON{{SoftwareType: 0, Version: version}}}
	if a.Battery != nil && now.Sub(a.BatteryAt) <= batteryFreshFor {
		out.DeviceState.BatteryLevel = new(*a.Battery)
		if a.Type == typeDoorSensor {
			out.DeviceState.BatteryLevelModifiedTime = utc(a.BatteryAt, layoutSeconds)
		} else {
			out.DeviceState.BatteryLevelModifiedDateTime = utc(a.BatteryAt, layoutSeconds)
		}
	}
	if userSettings {
		out.UserSettings = &favoriteJSON{}
	}
	return out
}

// Device types of accessories.
const (
	typeKeypad     = 3
	typeDoorSensor = 8
	typeKeypadPro  = 10
)
