package tedee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// maxFields bounds the fields of one event. Documented events have at most eight; the margin
	// leaves room for fields future firmware adds, while a request with thousands of parameters is
	// refused before anything is allocated for them.
	maxFields = 64
	// maxNameBytes bounds the event name, which is logged.
	maxNameBytes = 64
)

// integerPattern matches the decimal integers a GET delivery carries as text, so that they become
// numbers like in the JSON delivery.
var integerPattern = regexp.MustCompile(`^-?[0-9]{1,18}$`)

// DecodeJSON decodes the body of a POST callback.
//
// The body is decoded in one pass, data and all, with numbers kept as json.Number (exact integers,
// equal to the GET formats' values); decoding the envelope first and data again from its raw bytes
// was twice the work on the hot path.
func DecodeJSON(body []byte) (Event, error) {
	top, name, err := decodeEnvelope(body)
	if err != nil {
		return Event{}, err
	}
	timestamp, err := topString(top, "timestamp")
	if err != nil {
		return Event{}, err
	}
	// A bridge's event may have no data at all (backend-connection-changed needs none).
	data, err := dataField(top, false)
	if err != nil {
		return Event{}, err
	}
	return build(name, timestamp, data)
}

// decodeEnvelope decodes a whole webhook body and reads its event name, the first thing bridge
// and cloud bodies alike are checked for.
func decodeEnvelope(body []byte) (top map[string]any, name string, err error) {
	if top, err = decodeObject(body); err != nil {
		return nil, "", err
	}
	if name, err = topString(top, "event"); err != nil {
		return nil, "", err
	}
	return top, name, nil
}

// decodeObject decodes a whole webhook body, which must be one JSON object and nothing else but
// trailing whitespace and NULs: bridge firmware before 2.2.18086 appended a NUL byte to the body.
func decodeObject(body []byte) (map[string]any, error) {
	body = bytes.TrimRight(body, "\x00\t\r\n ")
	var top map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil || top == nil || dec.InputOffset() != int64(len(body)) {
		return nil, fmt.Errorf("body is not a JSON object")
	}
	return top, nil
}

// dataField returns the body's "data" object, bounded to maxFields. When it is not required, an
// absent or null "data" is no fields at all.
func dataField(top map[string]any, required bool) (map[string]any, error) {
	raw, ok := top["data"]
	if !ok && required {
		return nil, fmt.Errorf("data: missing")
	}
	if raw == nil && !required {
		return nil, nil
	}
	data, isObject := raw.(map[string]any)
	if !isObject {
		return nil, fmt.Errorf("data: must be a JSON object")
	}
	if len(data) > maxFields {
		return nil, fmt.Errorf("data: too many fields (%d, at most %d)", len(data), maxFields)
	}
	return data, nil
}

// topString returns a string field of the body; null counts as "", which the caller reports as
// missing where it matters.
func topString(top map[string]any, key string) (string, error) {
	v, ok := top[key]
	if !ok {
		return "", fmt.Errorf("%s: missing", key)
	}
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: must be a string", key)
	}
	return s, nil
}

// DecodeQuery decodes a GET callback's raw query string (without the leading "?").
func DecodeQuery(rawQuery string) (Event, error) {
	if n := strings.Count(rawQuery, "&") + 1; n > maxFields+2 {
		return Event{}, fmt.Errorf("too many parameters (%d, at most %d)", n, maxFields+2)
	}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Event{}, fmt.Errorf("query string: %w", err)
	}
	pairs := make(map[string]string, len(values))
	for key, vs := range values {
		if len(vs) > 1 {
			return Event{}, fmt.Errorf("%s: given %d times", key, len(vs))
		}
		pairs[key] = vs[0]
	}
	return fromPairs(pairs)
}

// DecodePath decodes a GET+NO_PARAMS callback: the escaped path that follows the callback URL, made
// of "/key=value" segments.
func DecodePath(escapedPath string) (Event, error) {
	segments := strings.Split(escapedPath, "/")
	if len(segments) > maxFields+3 { // +3: event, timestamp, and the empty segment before the first "/"
		return Event{}, fmt.Errorf("too many path segments (%d, at most %d)", len(segments)-1, maxFields+2)
	}
	pairs := make(map[string]string, len(segments))
	for _, seg := range segments {
		if seg == "" {
			continue // leading or trailing "/", or "//": not a pair and carries nothing
		}
		unescaped, err := url.PathUnescape(seg)
		if err != nil {
			return Event{}, fmt.Errorf("path segment %s: %w", quote(seg), err)
		}
		key, value, ok := strings.Cut(unescaped, "=")
		if !ok || key == "" {
			return Event{}, fmt.Errorf("path segment %s: must be key=value", quote(unescaped))
		}
		if _, dup := pairs[key]; dup {
			return Event{}, fmt.Errorf("%s: given more than once", key)
		}
		pairs[key] = value
	}
	return fromPairs(pairs)
}

// fromPairs builds an event from the flat key=value form both GET deliveries use: "event" and
// "timestamp" first, then the data fields flattened beside them.
func fromPairs(pairs map[string]string) (Event, error) {
	name, ok := pairs["event"]
	if !ok {
		return Event{}, fmt.Errorf("event: missing")
	}
	timestamp, ok := pairs["timestamp"]
	if !ok {
		return Event{}, fmt.Errorf("timestamp: missing")
	}
	delete(pairs, "event")
	delete(pairs, "timestamp")
	data := make(map[string]any, len(pairs))
	for key, value := range pairs {
		// serialNumber is text even when it happens to be all digits.
		if key != "serialNumber" && integerPattern.MatchString(value) {
			data[key] = json.Number(value)
		} else {
			data[key] = value
		}
	}
	return build(name, timestamp, data)
}

// build checks the fields of a known event and fills the typed ones. An unknown event is returned
// with only its name, time and data: its fields mean nothing to us, so nothing is checked.
func build(name, timestamp string, data map[string]any) (Event, error) {
	if name == "" {
		return Event{}, fmt.Errorf("event: missing")
	}
	if len(name) > maxNameBytes {
		return Event{}, fmt.Errorf("event: longer than %d bytes", maxNameBytes)
	}
	ts, err := ParseTime(timestamp)
	if err != nil {
		return Event{}, fmt.Errorf("timestamp: %w", err)
	}
	if data == nil {
		data = map[string]any{}
	}
	ev := Event{Name: name, Timestamp: ts, Data: data}
	if !ev.Known() {
		return ev, nil
	}
	if err := fields(data).fill(&ev, bridgeDialect); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// dialect is how the bridge's and the cloud's data for the same known event differ; everything
// else about the typed fields is read alike, by fill.
type dialect struct {
	// bySerial: the bridge names the device by serial as well as by id. The cloud knows only the
	// id, so the id is required (and positive) instead.
	bySerial bool
	// jammed: only the bridge sends the jammed flag (the cloud sends no intermediate states
	// either), so a cloud event's Jammed stays unset whatever its data says.
	jammed bool
}

var (
	bridgeDialect = dialect{bySerial: true, jammed: true}
	cloudDialect  = dialect{}
)

// fill checks the data of a known event and fills ev's typed fields from it. backend-connection-
// changed is about the bridge itself, so it names no device.
func (f fields) fill(ev *Event, d dialect) error {
	var err error
	if ev.Name != EventBackendConnectionChanged {
		if d.bySerial {
			if ev.Serial, err = f.serial(); err != nil {
				return err
			}
			if ev.DeviceID, _, err = f.integer("deviceId"); err != nil {
				return err
			}
		} else {
			if ev.DeviceID, err = required(f, "deviceId", f.integer); err != nil {
				return err
			}
			if ev.DeviceID <= 0 {
				return fmt.Errorf("deviceId: must be positive (got %s)", strconv.FormatInt(ev.DeviceID, 10))
			}
		}
		t, _, err := f.integer("deviceType")
		if err != nil {
			return err
		}
		ev.DeviceType = int(t)
	}
	switch ev.Name {
	case EventLockStatusChanged:
		state, err := required(f, "state", f.integer)
		if err != nil {
			return err
		}
		s := LockState(state)
		ev.State = &s
		if d.jammed {
			if ev.Jammed, err = f.optionalBool("jammed"); err != nil {
				return err
			}
		}
		// doorState is missing on firmware from before 2025-03: absent means "not reported".
		if door, ok, err := f.integer("doorState"); err != nil {
			return err
		} else if ok {
			dd := DoorState(door)
			ev.DoorState = &dd
		}
	case EventBatteryLevelChanged:
		level, err := required(f, "batteryLevel", f.integer)
		if err != nil {
			return err
		}
		l := int(level)
		ev.Battery = &l
	case EventDeviceConnectionChanged, EventBackendConnectionChanged:
		connected, err := required(f, "isConnected", f.boolean)
		if err != nil {
			return err
		}
		ev.Connected = &connected
	}
	return nil
}

// fields reads typed values from decoded data, naming the field in every error.
type fields map[string]any

func (f fields) serial() (string, error) {
	v, ok := f["serialNumber"]
	if !ok {
		return "", fmt.Errorf("serialNumber: missing")
	}
	s, isString := v.(string)
	if !isString {
		return "", fmt.Errorf("serialNumber: must be a string")
	}
	if !ValidSerial(s) {
		return "", fmt.Errorf("serialNumber: must be 1-64 characters of A-Z a-z 0-9 _ - (got %s)", quote(s))
	}
	return s, nil
}

// integer returns the field as an integer that fits in 32 bits (every Tedee number does), and
// whether it was present at all.
func (f fields) integer(key string) (int64, bool, error) {
	v, ok := f[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	var text string
	switch v := v.(type) {
	case json.Number:
		text = string(v)
	case string:
		text = v
	default:
		return 0, false, fmt.Errorf("%s: must be an integer", key)
	}
	n, err := strconv.ParseInt(text, 10, 32)
	if err != nil {
		return 0, false, fmt.Errorf("%s: must be an integer (got %s)", key, quote(text))
	}
	return n, true, nil
}

// boolean accepts the bridge's 0/1 integers and the cloud's JSON booleans.
func (f fields) boolean(key string) (bool, bool, error) {
	v, ok := f[key]
	if !ok || v == nil {
		return false, false, nil
	}
	switch v := v.(type) {
	case bool:
		return v, true, nil
	case json.Number, string:
		switch fmt.Sprint(v) {
		case "1", "true":
			return true, true, nil
		case "0", "false":
			return false, true, nil
		}
	}
	return false, false, fmt.Errorf("%s: must be 0 or 1", key)
}

func (f fields) optionalBool(key string) (*bool, error) {
	b, ok, err := f.boolean(key)
	if err != nil || !ok {
		return nil, err
	}
	return &b, nil
}

// required wraps an optional getter so that absence is an error.
func required[T any](f fields, key string, get func(string) (T, bool, error)) (T, error) {
	v, ok, err := get(key)
	if err != nil {
		return v, err
	}
	if !ok {
		return v, fmt.Errorf("%s: missing", key)
	}
	return v, nil
}

// ParseTime parses a Tedee timestamp. Bridges send RFC 3339 with milliseconds and "Z"; the cloud's
// bell-button-pressed eventTime has seven fractional digits and no zone at all, which is read as
// UTC like every other Tedee time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("must be an RFC 3339 date-time (got %s)", quote(s))
}

// quote quotes untrusted text for an error message, cut short so that an error never echoes a
// whole hostile request.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
