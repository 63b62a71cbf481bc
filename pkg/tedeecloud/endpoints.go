package tedeecloud

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// maxActivityElements is Tedee's page size limit (and default) for /my/deviceactivity.
const maxActivityElements = 200

// Devices returns the account's bridges, locks (with settings, firmware and accessories) and
// keypads: GET /my/device/details?IncludeAccessories=true.
func (c *Client) Devices(ctx context.Context) (Devices, error) {
	var w struct {
		Bridges []Bridge `json:"bridges"`
		Locks   []Lock   `json:"locks"`
		Keypads []Keypad `json:"keypads"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/device/details",
		query: url.Values{"IncludeAccessories": {"true"}}}, &w)
	if err != nil {
		return Devices{}, err
	}
	return Devices(w), nil
}

// Lock returns one lock: GET /my/lock/{id}?IncludeAccessories=true. Tedee limits the lock list
// (GET /my/lock) to 10 requests per 10 minutes with a personal key; this single-lock read is
// what a settings write needs for its revision.
func (c *Client) Lock(ctx context.Context, id int64) (Lock, error) {
	var l Lock
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/lock/" + formatID(id),
		query: url.Values{"IncludeAccessories": {"true"}}}, &l)
	return l, err
}

// SyncLocks returns the state of the given locks, or of all of them when no id is given:
// GET /my/lock/sync[?id=1&id=2]. Tedee asks for at most one sync every 20 seconds.
func (c *Client) SyncLocks(ctx context.Context, ids ...int64) ([]LockSync, error) {
	var q url.Values
	for _, id := range ids {
		if q == nil {
			q = url.Values{}
		}
		q.Add("id", formatID(id))
	}
	var out []LockSync
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/lock/sync", query: q}, &out)
	return out, err
}

// SyncLock returns one lock's state: GET /my/lock/{id}/sync.
func (c *Client) SyncLock(ctx context.Context, id int64) (LockSync, error) {
	var out LockSync
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/lock/" + formatID(id) + "/sync"}, &out)
	return out, err
}

// Activity returns a device's newest activity entries, newest first:
// GET /my/deviceactivity?deviceId=&elements=. elements outside 1…200 asks for 200, Tedee's
// maximum. Entries reach the cloud some seconds after the event, and late ones arrive with
// their original date: de-duplicate by ID.
func (c *Client) Activity(ctx context.Context, deviceID int64, elements int) ([]Activity, error) {
	if elements <= 0 || elements > maxActivityElements {
		elements = maxActivityElements
	}
	q := url.Values{"deviceId": {formatID(deviceID)}, "elements": {strconv.Itoa(elements)}}
	var out []Activity
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/deviceactivity", query: q}, &out)
	return out, err
}

// DoorSensors returns the account's door sensors: GET /my/doorsensor (one page: Tedee's default
// page size is 2147483647).
func (c *Client) DoorSensors(ctx context.Context) ([]DoorSensor, error) {
	var w struct {
		DoorSensors []DoorSensor `json:"doorSensors"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/doorsensor"}, &w)
	return w.DoorSensors, err
}

// Operate asks Tedee to lock, unlock or pull a lock: POST /my/lock/{id}/operation/{op}, with
// ?mode= for unlock only. Tedee answers 202: accepted, not done; poll Operation with the
// returned id. It is sent at most once, whatever happens. An error wrapping ErrAnswerLost (a
// timeout, a broken connection, an unreadable answer), and a 5xx, do not say the lock did not
// move: read its state rather than sending again. Interactive unless the context says otherwise.
func (c *Client) Operate(ctx context.Context, id int64, op Operation, mode UnlockMode) (Started, error) {
	var q url.Values
	switch op {
	case OpLock, OpPull:
	case OpUnlock:
		switch mode {
		case UnlockNormal, UnlockForce, UnlockWithoutPull, UnlockOrPull:
		default:
			return Started{}, fmt.Errorf("tedee cloud: unlock mode %d is not one of 0, 2, 3, 4", mode)
		}
		q = url.Values{"mode": {strconv.Itoa(int(mode))}}
	default:
		return Started{}, fmt.Errorf("tedee cloud: unknown lock operation %q (want lock, unlock or pull)", string(op))
	}
	r := request{method: http.MethodPost, path: "/my/lock/" + formatID(id) + "/operation/" + string(op), query: q, def: Interactive}
	var s Started
	if err := c.do(ctx, r, &s); err != nil {
		return Started{}, err
	}
	if s.OperationID == "" {
		// Accepted, maybe: the lock may move, but there is nothing to follow it by.
		return s, fmt.Errorf("tedee cloud POST %s: accepted without an operation id: read the lock's state to see whether it moved", r.path)
	}
	return s, nil
}

// Operation returns the status of an operation: GET /my/device/operation/{id}.
func (c *Client) Operation(ctx context.Context, operationID string) (OperationStatus, error) {
	if operationID == "" {
		return OperationStatus{}, fmt.Errorf("tedee cloud: no operation id")
	}
	var s OperationStatus
	err := c.do(ctx, request{method: http.MethodGet, path: "/my/device/operation/" + url.PathEscape(operationID)}, &s)
	return s, err
}

// UpdateSettings changes a lock's settings: PATCH /my/lock {id, revision, deviceSettings}, with
// only the fields set in s. revision is the lock's Revision as last read; a stale one is
// refused with ErrConflict (re-read the lock, then try again). Interactive unless the context
// says otherwise.
func (c *Client) UpdateSettings(ctx context.Context, id, revision int64, s DeviceSettings) (Updated, error) {
	body := struct {
		ID             int64          `json:"id"`
		Revision       int64          `json:"revision"`
		DeviceSettings DeviceSettings `json:"deviceSettings"`
	}{id, revision, s}
	var u Updated
	err := c.do(ctx, request{method: http.MethodPatch, path: "/my/lock", body: body, def: Interactive}, &u)
	return u, err
}
