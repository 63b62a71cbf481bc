// Package tedee knows the Tedee Bridge webhook wire formats and enums. It turns the three delivery
// formats a bridge can be configured with (POST JSON, GET query string, GET+NO_PARAMS path
// segments) into one typed Event, and does no I/O.
package tedee

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bridge webhook event names, as sent in the "event" field.
const (
	EventBackendConnectionChanged = "backend-connection-changed"
	EventDeviceConnectionChanged  = "device-connection-changed"
	EventDeviceSettingsChanged    = "device-settings-changed"
	EventLockStatusChanged        = "lock-status-changed"
	EventBatteryLevelChanged      = "device-battery-level-changed"
	EventBatteryStartCharging     = "device-battery-start-charging"
	EventBatteryStopCharging      = "device-battery-stop-charging"
	EventBatteryFullyCharged      = "device-battery-fully-charged"
)

// knownEvents are the bridge events this package understands.
var knownEvents = map[string]bool{
	EventBackendConnectionChanged: true,
	EventDeviceConnectionChanged:  true,
	EventDeviceSettingsChanged:    true,
	EventLockStatusChanged:        true,
	EventBatteryLevelChanged:      true,
	EventBatteryStartCharging:     true,
	EventBatteryStopCharging:      true,
	EventBatteryFullyCharged:      true,
	// Only the cloud documents it, but it means the same whoever sends it.
	EventBellButtonPressed: true,
}

// serialPattern is what a serial must look like to become an MQTT topic segment: no "/", "+",
// "#", NUL or empty segment can ever come out of it.
var serialPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidSerial reports whether s may be used as a topic segment. "bridge" may not: its topics are
// the operator API's (<base>/bridge/info, …), and a webhook naming a lock so must not write there.
func ValidSerial(s string) bool { return s != "bridge" && serialPattern.MatchString(s) }

// LockState is the bridge's lock state enum.
type LockState int

// Word returns the state word published on the state topic (contract §5). Values the firmware may
// add later map to "unknown", never to something that looks safe.
func (s LockState) Word() string {
	switch s {
	case 0:
		return "uncalibrated"
	case 1:
		return "calibrating"
	case 2:
		return "unlocked"
	case 3:
		return "semi_locked"
	case 4:
		return "unlocking"
	case 5:
		return "locking"
	case 6:
		return "locked"
	case 7:
		return "pulled"
	case 8:
		return "pulling"
	case 18:
		return "updating"
	case 255:
		return "unpulling"
	default: // 9 and anything unknown
		return "unknown"
	}
}

// StateWords lists every word Word can return, in enum order.
var StateWords = []string{
	"uncalibrated", "calibrating", "unlocked", "semi_locked", "unlocking", "locking",
	"locked", "pulled", "pulling", "unknown", "updating", "unpulling",
}

// DoorState is the door sensor enum (bridge and cloud share it).
type DoorState int

// Word returns the door word, or "" for a value this package does not know: an unknown door value
// carries no information, so the caller keeps what it knew.
func (d DoorState) Word() string {
	switch d {
	case 0:
		return "not_paired"
	case 1:
		return "disconnected"
	case 2:
		return "open"
	case 3:
		return "closed"
	case 4:
		return "uncalibrated"
	default:
		return ""
	}
}

// DoorWords lists every word DoorState.Word can return.
var DoorWords = []string{"not_paired", "disconnected", "open", "closed", "uncalibrated"}

// Model names the device type as used in payloads: lock_pro, lock_go, or type_<n> for devices the
// bridge docs do not list (keypads, door sensors, … are paired to bridges too).
func Model(deviceType int) string {
	switch deviceType {
	case 2:
		return "lock_pro"
	case 4:
		return "lock_go"
	default:
		return "type_" + strconv.Itoa(deviceType)
	}
}

// DeviceType reverses Model; 0 for a word Model cannot return.
func DeviceType(model string) int {
	switch model {
	case "lock_pro":
		return 2
	case "lock_go":
		return 4
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(model, "type_")); err == nil && n > 0 && Model(n) == model {
		return n
	}
	return 0
}

// Event is one decoded webhook, identical whichever delivery format carried it. Pointer fields are
// nil when the event does not carry that fact.
type Event struct {
	Name       string
	Timestamp  time.Time
	Serial     string // empty for backend-connection-changed
	DeviceID   int64  // 0 when absent
	DeviceType int    // 0 when absent
	State      *LockState
	Jammed     *bool
	DoorState  *DoorState
	// Battery is the raw level: 0–100, or anything else (255 by the docs) for "not known".
	Battery   *int
	Connected *bool
	// Data holds every field of the event's data, including ones this package does not know
	// (real bridges send "source" and "user_id"), normalised so that all three formats give equal
	// maps: integers are json.Number, other values are kept as decoded.
	Data map[string]any
}

// Known reports whether the event is one of the documented Tedee events.
func (e Event) Known() bool { return knownEvents[e.Name] }

// BatteryKnown reports whether a raw battery level is a percentage (255 means "not known").
func BatteryKnown(level int) bool { return level >= 0 && level <= 100 }
