package fakecloud

// The activity log, GET /my/deviceactivity?deviceId=&elements=&lastElemDate=: newest first, at
// most 200 entries a page, the next page by passing the last entry's date as lastElemDate
// ("only items with a date older than the entered date", so entries sharing that millisecond
// are skipped, as the documentation implies). Dates are UTC without a zone, to the millisecond;
// the user's name is spelled "username" as in Tedee's example. An entry becomes visible
// Options.ActivityLag after it happened, and entries added late with an old date (a bridge
// that was offline) appear in their place in the past.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

const (
	maxActivity = 1000 // entries kept per lock; the oldest are dropped
	maxElements = 200
)

type activity struct {
	id       int64
	deviceID int64
	userID   int64 // 0: no user
	user     string
	code     int
	at       time.Time // UTC, to the millisecond
}

type activityJSON struct {
	ID       int64   `json:"id"`
	DeviceID int64   `json:"deviceId"`
	UserID   *int64  `json:"userId"`   // null when there is no user (a button, auto-lock)
	Username *string `json:"username"` // null likewise
	Event    int     `json:"event"`
	Source   int     `json:"source"` // 0 device (the example's value for remote operations too)
	Date     string  `json:"date"`
}

// AddActivity writes an entry in a lock's activity log, as the lock would (user "" for an event
// without one, such as a button press), and returns its id; 0 for an unknown serial. The entry
// is visible ActivityLag after at.
func (c *Cloud) AddActivity(serial string, code int, user string, at time.Time) int64 {
	c.mu.Lock()
	c.advanceLocked(c.opts.Now())
	var id int64
	if e := c.lockBySerial(serial); e != nil {
		id = c.logLocked(e, code, user, at)
	}
	c.mu.Unlock()
	c.notify()
	return id
}

// userID numbers the users by first appearance; the key's owner is 1.
func (c *Cloud) userID(name string) int64 {
	if name == "" {
		return 0
	}
	id, found := c.users[name]
	if !found {
		id = int64(len(c.users) + 1)
		c.users[name] = id
	}
	return id
}

// logLocked inserts an entry in date order (c.mu held).
func (c *Cloud) logLocked(e *lockEntry, code int, user string, at time.Time) int64 {
	entry := activity{id: c.nextAct, deviceID: e.ID, userID: c.userID(user), user: user, code: code,
		at: at.UTC().Truncate(time.Millisecond)}
	c.nextAct++
	i := len(e.activity)
	for i > 0 && e.activity[i-1].at.After(entry.at) {
		i--
	}
	e.activity = slices.Insert(e.activity, i, entry)
	if over := len(e.activity) - maxActivity; over > 0 {
		e.activity = slices.Delete(e.activity, 0, over)
	}
	return entry.id
}

// getActivity is GET /my/deviceactivity.
func (c *Cloud) getActivity(a call) response {
	raw := a.q.get("deviceId")
	if raw == "" {
		return fail(http.StatusBadRequest, "deviceId is required")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fail(http.StatusBadRequest, "The value %q is not valid for deviceId", raw)
	}
	elements, err := a.q.number("elements", maxElements, 1, maxElements)
	if err != nil {
		return badRequest(err)
	}
	var before time.Time
	if s := a.q.get("lastElemDate"); s != "" {
		if before, err = parseDate(s); err != nil {
			return badRequest(err)
		}
	}
	out := []activityJSON{}
	e := c.lockByID(id)
	if e == nil {
		if c.hasDevice(id) {
			return ok(http.StatusOK, out) // a bridge or accessory: the locks log their events
		}
		return notFound()
	}
	for i := len(e.activity) - 1; i >= 0 && len(out) < elements; i-- {
		en := e.activity[i]
		if en.at.Add(c.opts.ActivityLag).After(a.now) || (!before.IsZero() && !en.at.Before(before)) {
			continue
		}
		item := activityJSON{ID: en.id, DeviceID: en.deviceID, Event: en.code, Date: utc(en.at, layoutActivity)}
		if en.user != "" {
			item.UserID, item.Username = new(en.userID), new(en.user)
		}
		out = append(out, item)
	}
	return ok(http.StatusOK, out)
}

// hasDevice says whether id is a bridge or an accessory of the account.
func (c *Cloud) hasDevice(id int64) bool {
	if c.bridgeByID(id) != nil {
		return true
	}
	for _, e := range c.locks {
		if accessoryByID(e.Accessories, id) != nil {
			return true
		}
	}
	return false
}

// parseDate reads a date as clients send it: RFC 3339, or without a zone meaning UTC (any
// number of fractional digits).
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(layoutSeconds, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("the value %q is not a valid date for lastElemDate", s)
	}
	return t, nil
}
