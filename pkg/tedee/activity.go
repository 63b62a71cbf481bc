package tedee

// Activity says what one entry of a lock's activity log (Tedee Cloud API, GET /my/deviceactivity)
// means in the words of contract §8: the event, and how it was done.
type Activity struct {
	Event  string // locked, unlocked, pulled, …, or unknown
	Source string // app, button, auto, manual, pin, …, or "" when the entry names no way
	// Moves: the entry moved the bolt or latch, so it says who last moved the lock and how
	// (last_user, last_source). Only the lock, unlock, pull and partial-open codes do.
	Moves bool
}

// Sources, as published on <base>/<serial>/activity and last_source. "app" is Tedee's *Remote
// family, which it describes as "via mobile app"; which codes the Cloud API's own operations (or
// the web portal) produce is undocumented, and most likely the same family, so "app" means "app
// or cloud".
const (
	sourceApp         = "app"
	sourceButton      = "button"
	sourceAuto        = "auto"
	sourceManual      = "manual"
	sourceHomeKit     = "homekit"
	sourcePIN         = "pin"
	sourceKeypad      = "keypad"
	sourceFingerprint = "fingerprint"
	sourceMatter      = "matter"
	sourceAccessLink  = "access_link"
	sourceBridgeAPI   = "bridge_api"
	sourceDoorSensor  = "door_sensor"
	sourceBridge      = "bridge"
)

// activities is the one table from Tedee's activity event codes (the cloud's event-type enum) to
// contract words. Force unlocks (67, 68, 78, 93) are "unlocked": the source says how. A pull-spring
// code is "pulled", the same word as the lock state it leads to. 62 is a wrong PIN; 75 a right PIN
// used outside its permitted period, which is worth telling apart. 10000 and 10001 are a gate's,
// not a lock's, and are left out on purpose (DescribeActivity says so).
var activities = map[int]Activity{
	// The bolt: locked …
	32:  {"locked", sourceApp, true},
	34:  {"locked", sourceButton, true},
	56:  {"locked", sourceButton, true}, // PostponedLock: pressing and holding the button
	36:  {"locked", sourceAuto, true},
	38:  {"locked", sourceManual, true},
	59:  {"locked", sourceHomeKit, true},
	65:  {"locked", sourcePIN, true},    // by keypad, with a PIN
	66:  {"locked", sourceKeypad, true}, // by keypad, without a PIN
	90:  {"locked", sourceMatter, true},
	226: {"locked", sourceAccessLink, true},
	227: {"locked", sourceBridgeAPI, true}, // mis-documented as an unlock until 2025-07
	// … and unlocked, forced or not.
	33:  {"unlocked", sourceApp, true},
	35:  {"unlocked", sourceButton, true},
	37:  {"unlocked", sourceAuto, true}, // the phone's auto-unlock (geofence)
	39:  {"unlocked", sourceManual, true},
	57:  {"unlocked", sourceHomeKit, true},
	61:  {"unlocked", sourcePIN, true},
	77:  {"unlocked", sourceFingerprint, true},
	88:  {"unlocked", sourceMatter, true},
	228: {"unlocked", sourceAccessLink, true},
	229: {"unlocked", sourceBridgeAPI, true},
	67:  {"unlocked", sourceApp, true}, // LockForceUnlocked names no way; the app is where it is offered
	68:  {"unlocked", sourcePIN, true},
	78:  {"unlocked", sourceFingerprint, true},
	93:  {"unlocked", sourceMatter, true},
	// The latch: pulled by the pull spring …
	51:  {"pulled", sourceApp, true},
	55:  {"pulled", sourceApp, true}, // PulledAutoByRemote: "auto" as in unlock-or-pull, not the geofence
	52:  {"pulled", sourceAuto, true},
	87:  {"pulled", sourceAuto, true}, // by auto-unlock
	53:  {"pulled", sourceManual, true},
	60:  {"pulled", sourceHomeKit, true},
	63:  {"pulled", sourcePIN, true},
	76:  {"pulled", sourcePIN, true},
	80:  {"pulled", sourceFingerprint, true},
	81:  {"pulled", sourceFingerprint, true},
	91:  {"pulled", sourceMatter, true},
	92:  {"pulled", sourceMatter, true},
	230: {"pulled", sourceAccessLink, true},
	234: {"pulled", sourceAccessLink, true},
	231: {"pulled", sourceBridgeAPI, true},
	235: {"pulled", sourceBridgeAPI, true},
	// … or partly opened.
	54:  {"partially_opened", sourceApp, true},
	48:  {"partially_opened", sourceButton, true},
	49:  {"partially_opened", sourceAuto, true},
	47:  {"partially_opened", sourceManual, true},
	58:  {"partially_opened", sourceHomeKit, true},
	64:  {"partially_opened", sourcePIN, true},
	79:  {"partially_opened", sourceFingerprint, true},
	89:  {"partially_opened", sourceMatter, true},
	232: {"partially_opened", sourceAccessLink, true},
	233: {"partially_opened", sourceBridgeAPI, true},
	// Nothing moved.
	40:  {"jammed", "", false},
	62:  {"wrong_pin", sourcePIN, false},
	75:  {"unauthorized_pin", sourcePIN, false},
	83:  {"door_opened", sourceDoorSensor, false}, // logged only with doorStateEventLoggingEnabled
	84:  {"door_closed", sourceDoorSensor, false},
	85:  {"door_sensor_uncalibrated", sourceDoorSensor, false},
	86:  {"door_open_too_long", sourceDoorSensor, false},
	41:  {"power_off", "", false},
	42:  {"power_on", "", false},
	43:  {"calibrated", "", false},
	74:  {"uncalibrated", "", false},
	46:  {"charging_started", "", false},
	50:  {"charging_stopped", "", false},
	224: {"firmware_updated", sourceBridge, false},
	225: {"firmware_updated", sourceApp, false},
}

// Gate codes: GateUnlockedByRemote and GateUnlockedByAccessLink.
const (
	gateUnlockedByRemote     = 10000
	gateUnlockedByAccessLink = 10001
)

// ActivityEvents is every event word DescribeActivity can return, "unknown" included, in the order
// Home Assistant's Activity entity lists them (its event_types).
var ActivityEvents = []string{"locked", "unlocked", "pulled", "partially_opened", "jammed", "wrong_pin",
	"unauthorized_pin", "door_opened", "door_closed", "door_sensor_uncalibrated", "door_open_too_long",
	"power_off", "power_on", "calibrated", "uncalibrated", "charging_started", "charging_stopped",
	"firmware_updated", "unknown"}

// DescribeActivity returns what an activity event code means. A code Tedee does not document (44,
// 45, 69–73, 82, 94–223, or one added later) is "unknown" with no source and moves nothing: the
// caller keeps the code, so nothing is lost. ok is false only for a gate's codes, which are not a
// lock's and should be ignored.
func DescribeActivity(code int) (a Activity, ok bool) {
	if code == gateUnlockedByRemote || code == gateUnlockedByAccessLink {
		return Activity{}, false
	}
	if a, known := activities[code]; known {
		return a, true
	}
	return Activity{Event: "unknown"}, true
}
