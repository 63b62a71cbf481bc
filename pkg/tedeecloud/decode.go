package tedeecloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a Tedee Cloud time. Some carry a zone ("2021-04-26T06:02:04.197Z"), others none
// and up to seven fractional digits ("2022-03-23T15:35:26.0400127"); the docs say all are UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.9999999", s); err == nil {
		return t.UTC(), nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return time.Time{}, fmt.Errorf("not a Tedee time: %q", s)
}

// optTime is an optional time: null, missing or unreadable is unknown (nil) rather than a
// failure of the whole answer, since it only dates a value that is still good.
type optTime struct{ t *time.Time }

func (o *optTime) UnmarshalJSON(b []byte) error {
	var s *string
	if json.Unmarshal(b, &s) != nil || s == nil {
		return nil
	}
	if t, err := ParseTime(*s); err == nil {
		o.t = &t
	}
	return nil
}

// flexString is a string that Tedee might also send as a number (operationId is documented as
// a string holding epoch milliseconds).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number: %w", err)
	}
	*f = flexString(n.String())
	return nil
}

type wireState struct {
	State             *int    `json:"state"`
	DoorState         *int    `json:"doorState"`
	IsCharging        *bool   `json:"isCharging"`
	BatteryLevel      *int    `json:"batteryLevel"`
	StateChangeResult *int    `json:"stateChangeResult"`
	LastStateChanged  optTime `json:"lastStateChangedDate"`
}

// UnmarshalJSON reads Tedee's deviceState (or lockProperties) object.
func (s *DeviceState) UnmarshalJSON(b []byte) error {
	var w wireState
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = DeviceState{State: w.State, DoorState: w.DoorState, IsCharging: w.IsCharging,
		BatteryLevel: w.BatteryLevel, StateChangeResult: w.StateChangeResult, LastStateChanged: w.LastStateChanged.t}
	return nil
}

// stateOf prefers deviceState and falls back to lockProperties, its name before v1.34/v1.35.
func stateOf(deviceState, lockProperties *DeviceState) *DeviceState {
	if deviceState != nil {
		return deviceState
	}
	return lockProperties
}

// UnmarshalJSON reads a bridge of the device list.
func (br *Bridge) UnmarshalJSON(b []byte) error {
	var w struct {
		ID               int64             `json:"id"`
		Serial           string            `json:"serialNumber"`
		Name             string            `json:"name"`
		IsConnected      *bool             `json:"isConnected"`
		IsUpdating       *bool             `json:"isUpdating"`
		SoftwareVersions []SoftwareVersion `json:"softwareVersions"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*br = Bridge(w)
	return nil
}

// UnmarshalJSON reads Tedee's Lock model.
func (l *Lock) UnmarshalJSON(b []byte) error {
	var w struct {
		ID                   int64             `json:"id"`
		Serial               string            `json:"serialNumber"`
		Name                 string            `json:"name"`
		Type                 int               `json:"type"`
		ConnectedToID        *int64            `json:"connectedToId"`
		IsConnected          *bool             `json:"isConnected"`
		Revision             int64             `json:"revision"`
		DeviceRevision       int64             `json:"deviceRevision"`
		TargetDeviceRevision int64             `json:"targetDeviceRevision"`
		DeviceState          *DeviceState      `json:"deviceState"`
		LockProperties       *DeviceState      `json:"lockProperties"`
		DeviceSettings       *DeviceSettings   `json:"deviceSettings"`
		SoftwareVersions     []SoftwareVersion `json:"softwareVersions"`
		Accessories          []Accessory       `json:"accessories"`
		AccessLevel          *int              `json:"accessLevel"`
		AccessDetails        *struct {
			RemoteAccessDisabled *bool `json:"remoteAccessDisabled"`
		} `json:"accessDetails"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = Lock{ID: w.ID, Serial: w.Serial, Name: w.Name, Type: w.Type, ConnectedToID: w.ConnectedToID,
		IsConnected: w.IsConnected, Revision: w.Revision, DeviceRevision: w.DeviceRevision,
		TargetDeviceRevision: w.TargetDeviceRevision, DeviceState: stateOf(w.DeviceState, w.LockProperties),
		DeviceSettings: w.DeviceSettings, SoftwareVersions: w.SoftwareVersions, Accessories: w.Accessories,
		AccessLevel: w.AccessLevel}
	if w.AccessDetails != nil {
		l.RemoteAccessDisabled = w.AccessDetails.RemoteAccessDisabled
	}
	return nil
}

// accessoryState is the deviceState of a keypad or door sensor. The release note names the
// keypad's time batteryLevelModifiedDateTime, the door sensor's page batteryLevelModifiedTime:
// both are read, whichever is present.
type accessoryState struct {
	BatteryLevel     *int    `json:"batteryLevel"`
	ModifiedTime     optTime `json:"batteryLevelModifiedTime"`
	ModifiedDateTime optTime `json:"batteryLevelModifiedDateTime"`
}

func (a *accessoryState) modified() *time.Time {
	if a.ModifiedTime.t != nil {
		return a.ModifiedTime.t
	}
	return a.ModifiedDateTime.t
}

type wireAccessory struct {
	ID                int64           `json:"id"`
	Serial            string          `json:"serialNumber"`
	Name              string          `json:"name"`
	ConnectedToLockID *int64          `json:"connectedToLockId"`
	DeviceState       *accessoryState `json:"deviceState"`
}

// UnmarshalJSON reads a keypad of the device list.
func (k *Keypad) UnmarshalJSON(b []byte) error {
	var w wireAccessory
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*k = Keypad{ID: w.ID, Serial: w.Serial, Name: w.Name, ConnectedToLockID: w.ConnectedToLockID}
	if w.DeviceState != nil {
		k.BatteryLevel, k.BatteryLevelModified = w.DeviceState.BatteryLevel, w.DeviceState.modified()
	}
	return nil
}

// UnmarshalJSON reads Tedee's door sensor model.
func (d *DoorSensor) UnmarshalJSON(b []byte) error {
	var w wireAccessory
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = DoorSensor{ID: w.ID, Serial: w.Serial, Name: w.Name, ConnectedToLockID: w.ConnectedToLockID}
	if w.DeviceState != nil {
		d.BatteryLevel, d.BatteryLevelModified = w.DeviceState.BatteryLevel, w.DeviceState.modified()
	}
	return nil
}

// UnmarshalJSON reads one lock of /my/lock/sync.
func (s *LockSync) UnmarshalJSON(b []byte) error {
	var w struct {
		ID             int64        `json:"id"`
		IsConnected    *bool        `json:"isConnected"`
		DeviceState    *DeviceState `json:"deviceState"`
		LockProperties *DeviceState `json:"lockProperties"`
		Revision       int64        `json:"revision"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = LockSync{ID: w.ID, IsConnected: w.IsConnected, DeviceState: stateOf(w.DeviceState, w.LockProperties), Revision: w.Revision}
	return nil
}

// UnmarshalJSON reads an activity entry. Its date is required: an entry without a readable date
// cannot be ordered or de-duplicated against the others.
func (a *Activity) UnmarshalJSON(b []byte) error {
	var w struct {
		ID       int64  `json:"id"`
		DeviceID int64  `json:"deviceId"`
		UserID   *int64 `json:"userId"`
		// Both spellings, each matched exactly: the sample says username, the data structure
		// page userName.
		Username *string `json:"username"`
		UserName *string `json:"userName"`
		Event    int     `json:"event"`
		Source   int     `json:"source"`
		Date     string  `json:"date"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	date, err := ParseTime(w.Date)
	if err != nil {
		return fmt.Errorf("activity %d: date: %w", w.ID, err)
	}
	*a = Activity{ID: w.ID, DeviceID: w.DeviceID, UserID: w.UserID, Event: w.Event, Source: w.Source, Date: date}
	switch {
	case w.UserName != nil:
		a.UserName = *w.UserName
	case w.Username != nil:
		a.UserName = *w.Username
	}
	return nil
}

// UnmarshalJSON reads the answer to a lock operation.
func (s *Started) UnmarshalJSON(b []byte) error {
	var w struct {
		OperationID      flexString `json:"operationId"`
		LastStateChanged optTime    `json:"lastStateChangedDate"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Started{OperationID: string(w.OperationID), LastStateChanged: w.LastStateChanged.t}
	return nil
}

// UnmarshalJSON reads an operation's status.
func (s *OperationStatus) UnmarshalJSON(b []byte) error {
	var w struct {
		DeviceID    int64      `json:"deviceId"`
		OperationID flexString `json:"operationId"`
		Status      string     `json:"status"`
		Result      *int       `json:"result"`
		Type        int        `json:"type"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = OperationStatus{DeviceID: w.DeviceID, OperationID: string(w.OperationID),
		Status: strings.ToUpper(strings.TrimSpace(w.Status)), Result: w.Result, Type: w.Type}
	return nil
}

// UnmarshalJSON reads the answer to PATCH /my/lock.
func (u *Updated) UnmarshalJSON(b []byte) error {
	var w struct {
		ID                   int64 `json:"id"`
		Revision             int64 `json:"revision"`
		TargetDeviceRevision int64 `json:"targetDeviceRevision"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = Updated(w)
	return nil
}

// formatID writes a device id for a path.
func formatID(id int64) string { return strconv.FormatInt(id, 10) }
