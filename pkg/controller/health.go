package controller

import (
	"time"
)

// Health is what an operator asks of a bridge (contract §7: the operator API's bridge info and
// the status page): can the service reach its API, when did it last sync, is the webhook
// registered, how far is its clock from ours.
type Health struct {
	Bridge      string     `json:"bridge"`
	API         bool       `json:"api"`                  // the last sync reached the Bridge API
	LastSync    *time.Time `json:"last_sync"`            // the last successful sync; null before one
	LastError   string     `json:"last_error,omitempty"` // why the last sync or callback check failed
	Callback    string     `json:"callback"`             // registered, failed, unchecked, or not_configured
	ClockSkewMs *int64     `json:"clock_skew_ms"`        // the bridge's clock minus ours; null until known
	Firmware    string     `json:"firmware,omitempty"`
}

// health is what Health reports, kept up to date by the controller under its mutex.
type health struct {
	api       bool
	lastSync  time.Time
	lastError string
	callback  string
	skewKnown bool
	firmware  string
}

// Health returns the bridge's health now.
func (c *Driver) Health() Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := Health{Bridge: c.opts.Bridge, API: c.health.api, LastError: c.health.lastError, Callback: c.health.callback,
		Firmware: c.health.firmware}
	if h.Callback == "" {
		h.Callback = "unchecked"
		if c.opts.PublicURL == "" {
			h.Callback = "not_configured"
		}
	}
	if !c.health.lastSync.IsZero() {
		t := c.health.lastSync
		h.LastSync = &t
	}
	if c.health.skewKnown {
		h.ClockSkewMs = new(c.offset.Milliseconds())
	}
	return h
}

// recordSync notes a sync's outcome.
func (c *Driver) recordSync(at time.Time, firmware string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health.api = err == nil
	if err != nil {
		c.health.lastError = err.Error()
		return
	}
	c.health.lastSync, c.health.lastError = at, ""
	if firmware != "" {
		c.health.firmware = firmware
	}
}

// recordCallback notes a callback check's outcome.
func (c *Driver) recordCallback(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.health.callback, c.health.lastError = "failed", err.Error()
		return
	}
	c.health.callback = "registered"
}
