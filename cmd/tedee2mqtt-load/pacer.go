package main

import (
	"context"
	"time"
)

// clock is the time source of the pacer, so that tests can drive it without sleeping.
type clock interface {
	Now() time.Time
	// Sleep returns after d, or earlier with ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pacer spaces sends at a fixed rate on an absolute schedule: send i is due at start + i/rate,
// however late the previous ones were. A slow send does not push every later one back (the
// schedule does not drift), and a late sender catches up without waiting; how late it fell behind
// is recorded. A rate of 0 or less means flat out: nothing ever waits.
type pacer struct {
	clk   clock
	start time.Time
	rate  float64
	// maxLag is the worst lateness seen: how long after its due time a send was released.
	maxLag time.Duration
}

func newPacer(clk clock, rate float64) *pacer {
	return &pacer{clk: clk, start: clk.Now(), rate: rate}
}

// due returns when send i is due.
func (p *pacer) due(i int) time.Time {
	return p.start.Add(time.Duration(float64(i) * float64(time.Second) / p.rate))
}

// wait blocks until send i is due (or ctx is done).
func (p *pacer) wait(ctx context.Context, i int) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	due := p.due(i)
	now := p.clk.Now()
	if d := due.Sub(now); d > 0 {
		if err := p.clk.Sleep(ctx, d); err != nil {
			return err
		}
		now = p.clk.Now()
	}
	if lag := now.Sub(due); lag > p.maxLag {
		p.maxLag = lag
	}
	return ctx.Err()
}
