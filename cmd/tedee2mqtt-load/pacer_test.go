package main

import (
	"context"
	"testing"
	"time"
)

// fakeClock moves only when told to: Sleep advances it by exactly the duration asked for.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestPacerKeepsAnAbsoluteSchedule(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	start := clk.now
	p := newPacer(clk, 300) // 3.333… ms apart: the schedule must not accumulate rounding
	for i := 0; i < 3000; i++ {
		if err := p.wait(context.Background(), i); err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Duration(float64(i) * float64(time.Second) / 300)); !clk.now.Equal(want) {
			t.Fatalf("send %d released at %v, want %v", i, clk.now.Sub(start), want.Sub(start))
		}
	}
	// 3000 sends at 300/s: the last is due 2999/300 s after the first, to the nanosecond.
	if got, want := clk.now.Sub(start), 9996666666*time.Nanosecond; got != want {
		t.Errorf("3000 sends at 300/s took %v, want %v", got, want)
	}
	if p.maxLag != 0 {
		t.Errorf("never late, yet maxLag = %v", p.maxLag)
	}
}

func TestPacerCatchesUpWithoutDrift(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	start := clk.now
	p := newPacer(clk, 100) // 10 ms apart
	for i := 0; i < 5; i++ {
		_ = p.wait(context.Background(), i)
	}
	// The sender stalls for a second (a slow request): the sends that fell due meanwhile go at
	// once, without sleeping, and the lateness is recorded.
	clk.now = clk.now.Add(time.Second)
	clk.sleeps = nil
	for i := 5; i < 100; i++ {
		_ = p.wait(context.Background(), i)
	}
	if len(clk.sleeps) != 0 {
		t.Errorf("late sends slept %v", clk.sleeps)
	}
	if want := start.Add(40*time.Millisecond + time.Second).Sub(start.Add(50 * time.Millisecond)); p.maxLag != want {
		t.Errorf("maxLag = %v, want %v (send 5 was due at 50ms and went at 1.04s)", p.maxLag, want)
	}
	// Back on schedule: send 200 is due at 2s, no later for the stall.
	clk.sleeps = nil
	_ = p.wait(context.Background(), 200)
	if got := clk.now.Sub(start); got != 2*time.Second {
		t.Errorf("send 200 released at %v, want 2s", got)
	}
}

func TestPacerFlatOutNeverWaits(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	p := newPacer(clk, 0)
	for i := 0; i < 1000; i++ {
		if err := p.wait(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if len(clk.sleeps) != 0 || p.maxLag != 0 {
		t.Errorf("flat out slept %d times, maxLag %v", len(clk.sleeps), p.maxLag)
	}
}

func TestPacerStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := newPacer(realClock{}, 0.001) // one send per 1000 s: send 1 would wait for ever
	start := time.Now()
	if err := p.wait(ctx, 1); err == nil {
		t.Error("wait returned nil with a cancelled context")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a cancelled wait took %v", d)
	}
}

// With the real clock the bounds are deliberately loose: it must neither run early (faster than
// the rate) nor hang, whatever the machine's load.
func TestPacerRealClockBounds(t *testing.T) {
	p := newPacer(realClock{}, 1000)
	start := time.Now()
	for i := 0; i < 50; i++ {
		if err := p.wait(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 49*time.Millisecond || d > 2*time.Second {
		t.Errorf("50 sends at 1000/s took %v, want 49ms-2s", d)
	}
}
