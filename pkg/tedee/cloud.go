package tedee

import (
	"fmt"
	"time"
)

// EventBellButtonPressed is sent by the Tedee Cloud when a keypad's bell button is pressed; it
// names the lock the keypad belongs to.
const EventBellButtonPressed = "bell-button-pressed"

// cloudEvents are the events the Tedee Cloud sends. All but the bell share names and meaning
// with bridge events.
var cloudEvents = map[string]bool{
	EventLockStatusChanged:       true,
	EventBatteryLevelChanged:     true,
	EventDeviceConnectionChanged: true,
	EventDeviceSettingsChanged:   true,
	EventBellButtonPressed:       true,
}

// CloudEvent is a decoded Tedee Cloud webhook. Its Event has no Serial (the cloud names devices
// by id only) and its Timestamp is the cloud's eventTime, when the change happened, which is what
// ordering needs; SentAt is the envelope's timestamp, when the webhook was sent.
type CloudEvent struct {
	Event
	SentAt time.Time
	// ID is the webhook's "id" (unique per webhook, for deduplication), when present.
	ID string
}

// KnownCloud reports whether the event is one the cloud documents. It has a name of its own so
// that it does not shadow Event.Known, which answers for bridge events: a CloudEvent has both.
func (e CloudEvent) KnownCloud() bool { return cloudEvents[e.Name] }

// DecodeCloud decodes a Tedee Cloud webhook body: {"event", "timestamp", "userIdentity",
// "data": {"deviceId", "eventTime", …}} and, since 2026, "id". The user identity is not kept: it
// identifies a person, and the cloud sends one webhook per user of a lock.
func DecodeCloud(body []byte) (CloudEvent, error) {
	top, name, err := decodeEnvelope(body)
	if err != nil {
		return CloudEvent{}, err
	}
	if name == "" || len(name) > maxNameBytes {
		return CloudEvent{}, fmt.Errorf("event: must be 1-%d bytes", maxNameBytes)
	}
	sent, err := topString(top, "timestamp")
	if err != nil {
		return CloudEvent{}, err
	}
	ce := CloudEvent{}
	if ce.SentAt, err = ParseTime(sent); err != nil {
		return CloudEvent{}, fmt.Errorf("timestamp: %w", err)
	}
	if v, ok := top["id"]; ok && v != nil {
		id, isString := v.(string)
		if !isString || len(id) > 128 {
			return CloudEvent{}, fmt.Errorf("id: must be a string of at most 128 bytes")
		}
		ce.ID = id
	}
	// Every cloud event carries its eventTime in data.
	data, err := dataField(top, true)
	if err != nil {
		return CloudEvent{}, err
	}
	ce.Name, ce.Data = name, data
	eventTime, ok := data["eventTime"].(string)
	if !ok {
		return CloudEvent{}, fmt.Errorf("eventTime: missing or not a string")
	}
	// bell-button-pressed's eventTime has no zone at all; ParseTime reads it as UTC.
	if ce.Timestamp, err = ParseTime(eventTime); err != nil {
		return CloudEvent{}, fmt.Errorf("eventTime: %w", err)
	}
	if !ce.KnownCloud() {
		return ce, nil
	}
	if err := fields(data).fill(&ce.Event, cloudDialect); err != nil {
		return CloudEvent{}, err
	}
	return ce, nil
}
