package fakecloud

// Tedee's rate limits: 700 requests (Options.RequestsPerHour) per account in one-hour windows,
// blocked "until the beginning of the next 1-hour window" with 429 and Retry-After; and, for a
// personal key, 10 requests of GET /my/lock per 10 minutes.
//
// The alignment of the hour window is not documented; the fake aligns it to the top of the UTC
// hour. Every request made with the account's key counts, whatever its answer (also 4xx and
// 429s), as the account's traffic is what Tedee meters; a request without the right key cannot
// be attributed to the account and does not count. The GET /my/lock window slides, and only
// the list requests it served count in it.

import (
	"math"
	"time"
)

const (
	lockListLimit  = 10
	lockListWindow = 10 * time.Minute
)

type limits struct {
	window   time.Time   // start of the current hour window
	count    int         // requests in it
	lockList []time.Time // GET /my/lock served in the last lockListWindow
}

// countHour counts a request in the hour window of now and returns how long until the next
// window if the account is over its limit, else 0.
func (l *limits) countHour(now time.Time, perHour int) time.Duration {
	start := now.UTC().Truncate(time.Hour)
	if start.After(l.window) {
		l.window, l.count = start, 0
	}
	l.count++
	if l.count > perHour {
		return l.window.Add(time.Hour).Sub(now)
	}
	return 0
}

// takeLockList admits a GET /my/lock at now, or returns how long until one would be admitted.
func (l *limits) takeLockList(now time.Time) time.Duration {
	keep := l.lockList[:0]
	for _, t := range l.lockList {
		if now.Sub(t) < lockListWindow {
			keep = append(keep, t)
		}
	}
	l.lockList = keep
	if len(l.lockList) >= lockListLimit {
		return l.lockList[0].Add(lockListWindow).Sub(now)
	}
	l.lockList = append(l.lockList, now)
	return 0
}

// retryAfter is the Retry-After value for a wait: whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
