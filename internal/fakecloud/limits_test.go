package fakecloud

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestHourWindow(t *testing.T) {
	// The clock is in India (+05:30), so a window aligned to the local hour would be wrong by
	// half an hour: 10:59:00 UTC is 16:29:00 there.
	ist := time.FixedZone("IST", 5*3600+1800)
	clk := newClock(time.Date(2026, 3, 10, 10, 59, 0, 0, time.UTC).In(ist))
	s := newServer(t, Options{Now: clk.Now, RequestsPerHour: 3})
	for i := range 3 {
		s.get("/my/device").wantStatus(t, http.StatusOK)
		if i == 0 {
			// A request without the key cannot be the account's and does not count.
			s.do(http.MethodGet, "/api/v37/my/device", nil, "PersonalKey wrong").wantStatus(t, http.StatusUnauthorized)
		}
	}
	a := s.get("/my/device").wantStatus(t, http.StatusTooManyRequests)
	if got := a.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q, want 60 (seconds to 11:00 UTC)", got)
	}
	clk.Advance(59*time.Second + 500*time.Millisecond)
	a = s.get("/my/lock/sync").wantStatus(t, http.StatusTooManyRequests) // every endpoint counts
	if got := a.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q half a second before the window, want 1 (rounded up)", got)
	}
	clk.Advance(500 * time.Millisecond) // 11:00:00 UTC
	for range 3 {
		s.get("/my/device").wantStatus(t, http.StatusOK)
	}
	a = s.get("/my/device").wantStatus(t, http.StatusTooManyRequests)
	if got := a.header.Get("Retry-After"); got != "3600" {
		t.Errorf("Retry-After %q at the start of a spent window, want 3600", got)
	}
}

func TestHourWindowDefault(t *testing.T) {
	clk := newClock(start0()) // 09:30
	s := newServer(t, Options{Now: clk.Now})
	for i := range 700 {
		if a := s.get("/my/device"); a.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, a.status)
		}
	}
	a := s.get("/my/device").wantStatus(t, http.StatusTooManyRequests)
	if got := a.header.Get("Retry-After"); got != "1800" {
		t.Errorf("Retry-After %q, want 1800", got)
	}
}

func TestLockListLimit(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	for i := range 10 {
		s.get("/my/lock").wantStatus(t, http.StatusOK)
		if i == 0 {
			clk.Advance(2 * time.Minute) // the first one is the oldest in the window
		}
	}
	a := s.get("/my/lock").wantStatus(t, http.StatusTooManyRequests)
	if got := a.header.Get("Retry-After"); got != strconv.Itoa(8*60) {
		t.Errorf("Retry-After %q, want 480 (until the first leaves the 10-minute window)", got)
	}
	// Only the list is limited, not one lock, nor the same path with another method.
	s.get("/my/lock/1").wantStatus(t, http.StatusOK)
	s.get("/my/lock/sync").wantStatus(t, http.StatusOK)
	s.patch(`{"id":1,"revision":1,"name":"Hall"}`).wantStatus(t, http.StatusOK)
	// Case-insensitive paths are the same endpoint.
	s.do(http.MethodGet, "/api/v37/MY/LOCK", nil, "PersonalKey "+testKey).wantStatus(t, http.StatusTooManyRequests)
	clk.Advance(8 * time.Minute)
	s.get("/my/lock").wantStatus(t, http.StatusOK)
	s.get("/my/lock").wantStatus(t, http.StatusTooManyRequests) // the other nine are still in it
}

func TestSetLimited(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now})
	s.cloud.SetLimited(start0().Add(90 * time.Second))
	a := s.get("/my/device").wantStatus(t, http.StatusTooManyRequests)
	if got := a.header.Get("Retry-After"); got != "90" {
		t.Errorf("Retry-After %q, want 90", got)
	}
	s.do(http.MethodGet, "/api/v37/my/device", nil, "").wantStatus(t, http.StatusTooManyRequests)
	clk.Advance(90 * time.Second)
	s.get("/my/device").wantStatus(t, http.StatusOK)
}

func TestRetryAfterRounding(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {time.Hour, 3600}} {
		if got := retryAfter(tc.d); got != tc.want {
			t.Errorf("retryAfter(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
