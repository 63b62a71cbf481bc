package tedeecloud_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

var (
	bg          = context.Background()
	interactive = tedeecloud.WithPriority(context.Background(), tedeecloud.Interactive)
)

// TestBudget: with 20 an hour, 5 are kept for Interactive work; nothing refused is sent, and the
// window slides.
func TestBudget(t *testing.T) {
	srv := newServer(t, answer(200, okEmpty))
	clk := newClock()
	c := newClient(t, srv.URL, 20, clk.Now)

	for i := range 15 {
		if _, err := c.SyncLocks(bg); err != nil {
			t.Fatalf("background request %d: %v", i+1, err)
		}
		clk.Add(time.Minute)
	}
	// 15 sent at 12:00 … 12:14; the clock reads 12:15.
	if _, err := c.SyncLocks(bg); !errors.Is(err, tedeecloud.ErrBudget) {
		t.Fatalf("16th background request: err = %v, want ErrBudget", err)
	}
	// Reads are Interactive when marked so.
	if _, err := c.SyncLocks(interactive); err != nil {
		t.Fatalf("interactive read within the reserve: %v", err)
	}
	for i := range 4 {
		if _, err := c.SyncLocks(interactive, int64(i)); err != nil {
			t.Fatalf("interactive request %d within the reserve: %v", i+2, err)
		}
	}
	if _, err := c.SyncLocks(interactive, 1); !errors.Is(err, tedeecloud.ErrBudget) {
		t.Fatalf("21st request: err = %v, want ErrBudget even for interactive work", err)
	}
	if n := srv.count(); n != 20 {
		t.Errorf("server saw %d requests, want 20", n)
	}
	st := c.Stats()
	if st.Sent != 20 || st.Skipped != 2 || st.UsedLastHour != 20 || st.RateLimited != 0 || !st.BlockedUntil.IsZero() {
		t.Errorf("Stats() = %+v, want 20 sent, 2 skipped, 20 in the hour", st)
	}

	// At 13:00:00 the first request (12:00) is an hour old and leaves the window: one slot,
	// and the window now holds 19, so background work is still refused.
	clk.Add(45 * time.Minute)
	if st := c.Stats(); st.UsedLastHour != 19 {
		t.Errorf("an hour after the first request: UsedLastHour = %d, want 19", st.UsedLastHour)
	}
	if _, err := c.SyncLocks(bg); !errors.Is(err, tedeecloud.ErrBudget) {
		t.Errorf("background request with 19 in the window: err = %v, want ErrBudget", err)
	}
	// At 13:05 the window holds 12:06 … 12:14 and the reserve's 12:15 ones: 9 + 5 = 14.
	clk.Add(5 * time.Minute)
	if _, err := c.SyncLocks(bg); err != nil {
		t.Errorf("background request with 14 in the window: %v", err)
	}
	if _, err := c.SyncLocks(bg); !errors.Is(err, tedeecloud.ErrBudget) {
		t.Errorf("background request with 15 in the window: err = %v, want ErrBudget", err)
	}
	if st := c.Stats(); st.Sent != 21 || st.Skipped != 4 || st.UsedLastHour != 15 {
		t.Errorf("Stats() = %+v, want 21 sent, 4 skipped, 15 in the hour", st)
	}
	clk.Add(2 * time.Hour)
	if st := c.Stats(); st.UsedLastHour != 0 {
		t.Errorf("two hours later: UsedLastHour = %d, want 0", st.UsedLastHour)
	}
}

// TestDefaultPriorities: commands and settings writes may use the reserve without being marked;
// a write explicitly marked Background may not.
func TestDefaultPriorities(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			file(t, "operation-started.json", http.StatusAccepted)(w, r)
		case http.MethodPatch:
			file(t, "lock-update-response.json", http.StatusOK)(w, r)
		default:
			answer(200, okEmpty)(w, r)
		}
	})
	clk := newClock()
	c := newClient(t, srv.URL, 10, clk.Now) // reserve 5
	for range 5 {
		if _, err := c.SyncLocks(bg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Activity(bg, 1, 1); !errors.Is(err, tedeecloud.ErrBudget) {
		t.Errorf("Activity past the background share: err = %v, want ErrBudget", err)
	}
	if _, err := c.Operate(bg, 1, tedeecloud.OpLock, 0); err != nil {
		t.Errorf("Operate within the reserve: %v", err)
	}
	if _, err := c.UpdateSettings(bg, 1, 1, tedeecloud.DeviceSettings{AutoLockEnabled: ptr(true)}); err != nil {
		t.Errorf("UpdateSettings within the reserve: %v", err)
	}
	marked := tedeecloud.WithPriority(bg, tedeecloud.Background)
	if _, err := c.Operate(marked, 1, tedeecloud.OpLock, 0); !errors.Is(err, tedeecloud.ErrBudget) {
		t.Errorf("Operate marked Background: err = %v, want ErrBudget", err)
	}
}

// TestBudgetParallel: many callers at once never get more through than the budget allows (run
// with -race).
func TestBudgetParallel(t *testing.T) {
	srv := newServer(t, answer(200, okEmpty))
	clk := newClock()
	c := newClient(t, srv.URL, 100, clk.Now) // 90 background, 10 reserved
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, skipped int
	for i := range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := bg
			if i%3 == 0 {
				ctx = interactive
			}
			_, err := c.SyncLocks(ctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tedeecloud.ErrBudget):
				skipped++
			default:
				t.Errorf("unexpected error: %v", err)
			}
			_ = c.Stats()
		}()
	}
	wg.Wait()
	st := c.Stats()
	if ok+skipped != 150 || int64(ok) != st.Sent || int64(skipped) != st.Skipped || srv.count() != ok {
		t.Errorf("%d ok, %d skipped, server saw %d, Stats() = %+v", ok, skipped, srv.count(), st)
	}
	// Background requests stop at 90 in the window; interactive ones at 100. However the calls
	// interleave, at least 90 and at most 100 are sent.
	if ok < 90 || ok > 100 {
		t.Errorf("%d requests sent, want 90 to 100", ok)
	}
}

func TestDefaultBudget(t *testing.T) {
	srv := newServer(t, answer(200, okEmpty))
	c := newClient(t, srv.URL, 0, newClock().Now) // 600, 60 reserved
	for i := range 541 {
		if _, err := c.SyncLocks(bg); err != nil {
			if i != 540 || !errors.Is(err, tedeecloud.ErrBudget) {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
	}
	if st := c.Stats(); st.Sent != 540 || st.Skipped != 1 || st.Budget != 600 || st.Reserve != 60 {
		t.Errorf("Stats() = %+v, want 540 sent and the 541st skipped, of a budget of 600 with 60 reserved", st)
	}
}

func TestContextCanceled(t *testing.T) {
	srv := newServer(t, answer(200, okEmpty))
	c := newClient(t, srv.URL, 10, nil)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := c.SyncLocks(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if st := c.Stats(); srv.count() != 0 || st.Sent != 0 || st.UsedLastHour != 0 {
		t.Errorf("a canceled call was sent or counted: server saw %d, Stats() = %+v", srv.count(), st)
	}

	// Canceled while waiting for the answer: the call returns at once.
	release := make(chan struct{})
	slow := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel = context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(t, slow.URL, 10, nil).SyncLocks(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v, want context.DeadlineExceeded promptly", err, time.Since(start))
	}
}
