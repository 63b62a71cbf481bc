package tedeeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// BridgeDetails is GET /bridge. A pointer is nil when the bridge did not send the field: nothing
// is invented for it.
type BridgeDetails struct {
	Name         string `json:"name"`
	CurrentTime  string `json:"currentTime"`
	SerialNumber string `json:"serialNumber"`
	SSID         string `json:"ssid"`
	IsConnected  *Flag  `json:"isConnected,omitempty"`
	Version      string `json:"version"`
	WifiVersion  string `json:"wifiVersion"`
}

// LockDetails is one element of GET /lock. Every field is optional in the spec; a pointer is nil
// when the bridge did not send it (a lock without batteryLevel has no known battery, not 0 %).
type LockDetails struct {
	ID             int64          `json:"id"`
	Name           string         `json:"name"`
	Type           int            `json:"type"`
	SerialNumber   string         `json:"serialNumber"`
	IsConnected    *Flag          `json:"isConnected,omitempty"`
	RSSI           *int           `json:"rssi,omitempty"`
	DeviceRevision int            `json:"deviceRevision"`
	Version        string         `json:"version"`
	State          *int           `json:"state,omitempty"`
	Jammed         *Flag          `json:"jammed,omitempty"`
	DoorState      *int           `json:"doorState,omitempty"` // absent before 2025 firmware
	BatteryLevel   *int           `json:"batteryLevel,omitempty"`
	IsCharging     *Flag          `json:"isCharging,omitempty"`
	DeviceSettings DeviceSettings `json:"deviceSettings"`
}

// DeviceSettings is the lock's settings block. Every field is optional (the spec marks none
// required): nil is what the bridge did not report.
type DeviceSettings struct {
	AutoLockEnabled         *Flag `json:"autoLockEnabled,omitempty"`
	AutoLockDelay           *int  `json:"autoLockDelay,omitempty"`
	AutoLockImplicitEnabled *Flag `json:"autoLockImplicitEnabled,omitempty"`
	AutoLockImplicitDelay   *int  `json:"autoLockImplicitDelay,omitempty"`
	PullSpringEnabled       *Flag `json:"pullSpringEnabled,omitempty"`
	PullSpringDuration      *int  `json:"pullSpringDuration,omitempty"`
	AutoPullSpringEnabled   *Flag `json:"autoPullSpringEnabled,omitempty"`
	PostponedLockEnabled    *Flag `json:"postponedLockEnabled,omitempty"`
	PostponedLockDelay      *int  `json:"postponedLockDelay,omitempty"`
	ButtonLockEnabled       *Flag `json:"buttonLockEnabled,omitempty"`
	ButtonUnlockEnabled     *Flag `json:"buttonUnlockEnabled,omitempty"`
}

// Flag is a yes/no field. The local API documents 0/1; other Tedee clients accept JSON booleans
// too, and so does this one, so that one firmware's spelling does not fail a whole answer. It is
// written as 0/1, as the bridge writes it.
type Flag bool

// UnmarshalJSON accepts 0, 1, true and false.
func (f *Flag) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "0", "false":
		*f = false
	case "1", "true":
		*f = true
	default:
		return fmt.Errorf("flag %s: want 0, 1, true or false", truncated(data))
	}
	return nil
}

// MarshalJSON writes 0 or 1.
func (f Flag) MarshalJSON() ([]byte, error) {
	if f {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

// Bool returns the flag's value, or nil for a flag not sent.
func (f *Flag) Bool() *bool {
	if f == nil {
		return nil
	}
	b := bool(*f)
	return &b
}

// NewFlag returns a flag set to v, for building answers (the fake bridge).
func NewFlag(v bool) *Flag {
	f := Flag(v)
	return &f
}

func truncated(data []byte) string {
	if len(data) > 32 {
		return string(data[:32]) + "…"
	}
	return string(data)
}

// LockError is one element of GET /lock that could not be read; the others still are.
type LockError struct {
	Index int
	Err   error
}

func (e LockError) Error() string { return fmt.Sprintf("GET /lock element %d: %v", e.Index, e.Err) }

func (e LockError) Unwrap() error { return e.Err }

// Callback is a webhook registration. Headers is a list of single-key objects, name → value.
type Callback struct {
	ID      int64               `json:"id,omitempty"`
	URL     string              `json:"url"`
	Method  string              `json:"method"`
	Headers []map[string]string `json:"headers"`
}

// Bridge returns the bridge's details.
func (c *Client) Bridge(ctx context.Context) (BridgeDetails, error) {
	var b BridgeDetails
	err := c.call(ctx, retryAll, http.MethodGet, "/bridge", "GET /bridge", nil, nil, &b)
	return b, err
}

// Locks returns every lock paired with the bridge. Each element is read on its own: one the
// client cannot read is returned in bad and the others still are, so one odd lock never stops a
// bridge's sync.
func (c *Client) Locks(ctx context.Context) (locks []LockDetails, bad []LockError, err error) {
	var raw []json.RawMessage
	if err := c.call(ctx, retryAll, http.MethodGet, "/lock", "GET /lock", nil, nil, &raw); err != nil {
		return nil, nil, err
	}
	for i, element := range raw {
		var l LockDetails
		if err := json.Unmarshal(element, &l); err != nil {
			bad = append(bad, LockError{Index: i, Err: err})
			continue
		}
		locks = append(locks, l)
	}
	return locks, bad, nil
}

// Lock returns one lock.
func (c *Client) Lock(ctx context.Context, id int64) (LockDetails, error) {
	var l LockDetails
	err := c.call(ctx, retryAll, http.MethodGet, "/lock/"+strconv.FormatInt(id, 10), "GET /lock/{id}", nil, nil, &l)
	return l, err
}

// LockLock starts locking. The bridge answers when the movement has started; the result arrives
// as state changes. Like Unlock and Pull, it is sent again only when it certainly did not reach
// the bridge (no connection, or 409 Busy); an answer lost after sending is [ErrAnswerLost].
func (c *Client) LockLock(ctx context.Context, id int64) error {
	return c.call(ctx, retryUnsent, http.MethodPost, "/lock/"+strconv.FormatInt(id, 10)+"/lock", "POST /lock/{id}/lock", nil, nil, nil)
}

// Unlock starts unlocking in the given mode. The spec puts mode in a header, Home Assistant's
// client (and the cloud API) in the query string; both are sent with the same value so that either
// reading of the firmware gets it.
func (c *Client) Unlock(ctx context.Context, id int64, mode int) error {
	m := strconv.Itoa(mode)
	return c.call(ctx, retryUnsent, http.MethodPost, "/lock/"+strconv.FormatInt(id, 10)+"/unlock?mode="+m, "POST /lock/{id}/unlock",
		http.Header{"mode": {m}}, nil, nil)
}

// Pull starts pulling the spring (the lock must be unlocked).
func (c *Client) Pull(ctx context.Context, id int64) error {
	return c.call(ctx, retryUnsent, http.MethodPost, "/lock/"+strconv.FormatInt(id, 10)+"/pull", "POST /lock/{id}/pull", nil, nil, nil)
}

// Callbacks lists the webhook registrations, ours and other integrations'.
func (c *Client) Callbacks(ctx context.Context) ([]Callback, error) {
	var cbs []Callback
	err := c.call(ctx, retryAll, http.MethodGet, "/callback", "GET /callback", nil, nil, &cbs)
	return cbs, err
}

// AddCallback registers one webhook and returns its id, or 0 when the firmware (before
// 2.2.18086) answers without one. It never uses PUT /callback, which would replace every
// registration, other integrations' included.
func (c *Client) AddCallback(ctx context.Context, cb Callback) (int64, error) {
	cb.ID = 0
	if cb.Headers == nil {
		cb.Headers = []map[string]string{}
	}
	var out struct {
		ID int64 `json:"id"`
	}
	if err := c.call(ctx, retryAll, http.MethodPost, "/callback", "POST /callback", nil, cb, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

// UpdateCallback replaces one registration (ours).
func (c *Client) UpdateCallback(ctx context.Context, cb Callback) error {
	if cb.ID == 0 {
		return fmt.Errorf("update callback: no id")
	}
	id := cb.ID
	cb.ID = 0
	if cb.Headers == nil {
		cb.Headers = []map[string]string{}
	}
	return c.call(ctx, retryAll, http.MethodPut, "/callback/"+strconv.FormatInt(id, 10), "PUT /callback/{id}", nil, cb, nil)
}

// DeleteCallback removes one registration (ours).
func (c *Client) DeleteCallback(ctx context.Context, id int64) error {
	return c.call(ctx, retryAll, http.MethodDelete, "/callback/"+strconv.FormatInt(id, 10), "DELETE /callback/{id}", nil, nil, nil)
}
