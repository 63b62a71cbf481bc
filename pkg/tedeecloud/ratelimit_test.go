package tedeecloud_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// limited answers 429 with retryAfter (if not "") while limiting is set, else an empty success.
func limited(retryAfter string, limiting *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if limiting.Load() {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		answer(200, okEmpty)(w, r)
	}
}

func TestRetryAfter(t *testing.T) {
	clk := newClock()
	for _, tc := range []struct {
		name, header string
		wait         time.Duration
	}{
		{"seconds", "120", 120 * time.Second},
		{"HTTP date", clk.Now().Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"missing", "", time.Minute},
		{"garbage", "soon", time.Minute},
		{"negative", "-5", time.Minute},
		{"absurd", "99999999", time.Hour},
		{"date in the past", clk.Now().Add(-time.Hour).Format(http.TimeFormat), time.Minute},
		{"zero", "0", time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			var limiting atomic.Bool
			limiting.Store(true)
			srv := newServer(t, limited(tc.header, &limiting))
			c := newClient(t, srv.URL, 0, clk.Now)

			_, err := c.SyncLocks(bg)
			var apiErr *tedeecloud.APIError
			if !errors.Is(err, tedeecloud.ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.Status != 429 || apiErr.RetryAfter != tc.wait {
				t.Fatalf("err = %v (%+v), want a 429 APIError with RetryAfter %v", err, apiErr, tc.wait)
			}
			if !strings.Contains(err.Error(), "700 requests per hour") {
				t.Errorf("err = %q, want it to explain Tedee's limit", err)
			}
			limiting.Store(false)
			// Until the wait is over nothing is sent, whatever the priority.
			for _, ctx := range []context.Context{bg, interactive} {
				if _, err := c.SyncLocks(ctx); !errors.Is(err, tedeecloud.ErrRateLimited) || errors.As(err, &apiErr) {
					t.Errorf("during the wait: err = %v, want ErrRateLimited without an answer", err)
				}
			}
			clk.Add(tc.wait - time.Millisecond)
			if _, err := c.SyncLocks(interactive); !errors.Is(err, tedeecloud.ErrRateLimited) {
				t.Errorf("just before the end of the wait: err = %v, want ErrRateLimited", err)
			}
			st := c.Stats()
			if srv.count() != 1 || st.Sent != 1 || st.RateLimited != 4 || st.Skipped != 0 || !st.BlockedUntil.Equal(newClock().Now().Add(tc.wait)) {
				t.Errorf("server saw %d, Stats() = %+v, want 1 sent and 4 rate limited, blocked for %v", srv.count(), st, tc.wait)
			}
			clk.Add(time.Millisecond)
			if _, err := c.SyncLocks(bg); err != nil {
				t.Errorf("after the wait: %v", err)
			}
			if st := c.Stats(); !st.BlockedUntil.IsZero() || srv.count() != 2 {
				t.Errorf("after the wait: server saw %d, Stats() = %+v", srv.count(), st)
			}
		})
	}
}

// TestRateLimitedKeepsTheLongerWait: a shorter Retry-After in a later 429 (answering a request
// sent before the first 429 arrived) does not shorten the wait.
func TestRateLimitedKeepsTheLongerWait(t *testing.T) {
	clk := newClock()
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v37/my/lock/1/sync" { // in flight while the other is answered
			close(arrived)
			<-release
			w.Header().Set("Retry-After", "5")
		} else {
			w.Header().Set("Retry-After", "600")
		}
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c := newClient(t, srv.URL, 0, clk.Now)
	done := make(chan error)
	go func() {
		_, err := c.SyncLock(bg, 1)
		done <- err
	}()
	<-arrived
	if _, err := c.SyncLocks(bg); !errors.Is(err, tedeecloud.ErrRateLimited) {
		t.Fatalf("err = %v, want a 429", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, tedeecloud.ErrRateLimited) {
		t.Fatalf("err = %v, want a 429", err)
	}
	if until := c.Stats().BlockedUntil; !until.Equal(clk.Now().Add(600 * time.Second)) {
		t.Errorf("BlockedUntil = %v, want 600 s after %v", until, clk.Now())
	}
	if st := c.Stats(); st.RateLimited != 2 || st.Sent != 2 {
		t.Errorf("Stats() = %+v, want 2 sent, 2 rate limited", st)
	}
}
