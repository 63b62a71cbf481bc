package tedeeapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// BridgeDetails is GET /bridge.
type BridgeDetails struct {
	Name         string `json:"name"`
	CurrentTime  string `json:"currentTime"`
	SerialNumber string `json:"serialNumber"`
	SSID         string `json:"ssid"`
	IsConnected  int    `json:"isConnected"`
	Version      string `json:"version"`
	WifiVersion  string `json:"wifiVersion"`
}

// LockDetails is one element of GET /lock. The local API uses 0/1 integers for flags; every field
// is optional in the spec.
type LockDetails struct {
	ID             int64          `json:"id"`
	Name           string         `json:"name"`
	Type           int            `json:"type"`
	SerialNumber   string         `json:"serialNumber"`
	IsConnected    int            `json:"isConnected"`
	RSSI           int            `json:"rssi"`
	DeviceRevision int            `json:"deviceRevision"`
	Version        string         `json:"version"`
	State          int            `json:"state"`
	Jammed         int            `json:"jammed"`
	DoorState      *int           `json:"doorState,omitempty"` // absent before 2025 firmware
	BatteryLevel   int            `json:"batteryLevel"`
	IsCharging     int            `json:"isCharging"`
	DeviceSettings DeviceSettings `json:"deviceSettings"`
}

// DeviceSettings is the lock's settings block.
type DeviceSettings struct {
	AutoLockEnabled         int `json:"autoLockEnabled"`
	AutoLockDelay           int `json:"autoLockDelay"`
	AutoLockImplicitEnabled int `json:"autoLockImplicitEnabled"`
	AutoLockImplicitDelay   int `json:"autoLockImplicitDelay"`
	PullSpringEnabled       int `json:"pullSpringEnabled"`
	PullSpringDuration      int `json:"pullSpringDuration"`
	AutoPullSpringEnabled   int `json:"autoPullSpringEnabled"`
	PostponedLockEnabled    int `json:"postponedLockEnabled"`
	PostponedLockDelay      int `json:"postponedLockDelay"`
	ButtonLockEnabled       int `json:"buttonLockEnabled"`
	ButtonUnlockEnabled     int `json:"buttonUnlockEnabled"`
}

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

// Locks returns every lock paired with the bridge.
func (c *Client) Locks(ctx context.Context) ([]LockDetails, error) {
	var locks []LockDetails
	err := c.call(ctx, retryAll, http.MethodGet, "/lock", "GET /lock", nil, nil, &locks)
	return locks, err
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
