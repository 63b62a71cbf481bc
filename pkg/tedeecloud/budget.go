package tedeecloud

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Priority says whose work a request is. Work that operates a lock for a user must not be
// starved by background work.
type Priority int

const (
	// Background: the device list, activity, polling, settings reads. May use the budget minus
	// the reserve.
	Background Priority = iota
	// Interactive: commands and settings writes a user asked for. May use the whole budget.
	Interactive
)

func (p Priority) String() string {
	if p == Interactive {
		return "interactive"
	}
	return "background"
}

type priorityKey struct{}

// WithPriority marks the requests made under ctx. Without it, Operate and UpdateSettings are
// Interactive and every other call is Background; a command's follow-up reads (Operation,
// SyncLock) should be marked Interactive by the caller.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

func priorityOf(ctx context.Context, def Priority) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return def
}

// window is how far back the budget counts.
const window = time.Hour

// Retry-After bounds: Tedee blocks "until the beginning of the next 1-hour window", so a wait
// longer than an hour is nonsense, and a missing or unreadable one gets a minute.
const (
	defaultRetryAfter = time.Minute
	maxRetryAfter     = time.Hour
	minRetryAfter     = time.Second
)

// budget is the sliding-hour request count and Tedee's Retry-After block.
type budget struct {
	perHour int
	reserve int // kept free of Background requests

	mu           sync.Mutex
	sent         ring // send times of the requests in the window, oldest first
	blockedUntil time.Time
	nSent        int64
	nSkipped     int64
	nRateLimited int64
}

func newBudget(perHour int) *budget {
	return &budget{perHour: perHour, reserve: reserveFor(perHour), sent: ring{max: perHour}}
}

// reserveFor is the part of the budget that only Interactive requests may use: 10 % (rounded up),
// at least 5, but never more than half, so that a small budget still lets background work run.
func reserveFor(perHour int) int {
	r := (perHour + 9) / 10
	if r < 5 {
		r = 5
	}
	if r > perHour/2 {
		r = perHour / 2
	}
	return r
}

// admit decides whether a request may be sent now and, if so, counts it as sent: checking and
// counting under one lock is what keeps parallel callers within the budget.
func (b *budget) admit(now time.Time, p Priority) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.blockedUntil) {
		b.nRateLimited++
		return fmt.Errorf("%w: not sent; Tedee asked to wait until %s (%s more)", ErrRateLimited,
			b.blockedUntil.UTC().Format(time.RFC3339), b.blockedUntil.Sub(now).Round(time.Second))
	}
	b.sent.dropBefore(now.Add(-window))
	limit := b.perHour
	if p != Interactive {
		limit -= b.reserve
	}
	if used := b.sent.len(); used >= limit {
		b.nSkipped++
		if p == Interactive {
			return fmt.Errorf("%w: not sent; %d requests in the last hour, the whole budget of %d", ErrBudget, used, b.perHour)
		}
		return fmt.Errorf("%w: not sent; %d requests in the last hour, %d of the budget of %d are kept for commands", ErrBudget, used, b.reserve, b.perHour)
	}
	b.sent.push(now)
	b.nSent++
	return nil
}

// rateLimited records a 429: nothing is sent until now+wait.
func (b *budget) rateLimited(now time.Time, wait time.Duration) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nRateLimited++
	if until := now.Add(wait); until.After(b.blockedUntil) {
		b.blockedUntil = until
	}
	return b.blockedUntil
}

func (b *budget) stats(now time.Time) Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent.dropBefore(now.Add(-window))
	s := Stats{Sent: b.nSent, Skipped: b.nSkipped, RateLimited: b.nRateLimited, UsedLastHour: b.sent.len(),
		Budget: b.perHour, Reserve: b.reserve}
	if now.Before(b.blockedUntil) {
		s.BlockedUntil = b.blockedUntil
	}
	return s
}

// ring is a queue of send times that grows as needed up to max entries (the budget bounds how
// many can be in the window), so memory stays bounded by the budget, not by the traffic.
type ring struct {
	max   int
	times []time.Time
	head  int // index of the oldest
	n     int
}

func (r *ring) len() int { return r.n }

// push appends t; the caller has checked that fewer than max are held.
func (r *ring) push(t time.Time) {
	if r.n == len(r.times) {
		size := 2 * len(r.times)
		if size < 16 {
			size = 16
		}
		if size > r.max {
			size = r.max
		}
		grown := make([]time.Time, size)
		for i := 0; i < r.n; i++ {
			grown[i] = r.times[(r.head+i)%len(r.times)]
		}
		r.times, r.head = grown, 0
	}
	r.times[(r.head+r.n)%len(r.times)] = t
	r.n++
}

// dropBefore forgets the times at or before cutoff. Times are pushed in the order requests were
// admitted, so the oldest are at the head.
func (r *ring) dropBefore(cutoff time.Time) {
	for r.n > 0 && !r.times[r.head].After(cutoff) {
		r.times[r.head] = time.Time{}
		r.head = (r.head + 1) % len(r.times)
		r.n--
	}
}
