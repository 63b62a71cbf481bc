package account

import (
	"time"
)

// Health is what the operator API shows of the Cloud API.
type Health struct {
	DevicesRead time.Time `json:"devices_read,omitzero"` // the last device list read
	Error       string    `json:"error,omitempty"`       // why the last read failed
	Locks       int       `json:"locks"`                 // in the device list
	Sent        int64     `json:"requests_sent"`
	Skipped     int64     `json:"requests_skipped"` // refused by cloud.requests_per_hour
	RateLimited int64     `json:"rate_limited"`     // 429s from Tedee, or refused while waiting one out
	LastHour    int       `json:"requests_last_hour"`
}

// Health returns the account's health.
func (a *Account) Health() Health {
	st := a.api.Stats()
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.health
	h.Locks = len(a.ids)
	h.Sent, h.Skipped, h.RateLimited, h.LastHour = st.Sent, st.Skipped, st.RateLimited, st.UsedLastHour
	return h
}

func (a *Account) recordDevices(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.health.Error = err.Error()
		return
	}
	a.health.Error, a.health.DevicesRead = "", a.opts.Now()
}
