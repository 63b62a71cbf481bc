package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// Commands accepted on <base>/<serial>/set (case-insensitive).
const (
	CommandLock   = "lock"
	CommandUnlock = "unlock"
	CommandOpen   = "open"
	CommandPull   = "pull"
)

var (
	// ErrUnknownLock means the bridge did not list the lock in its last sync.
	ErrUnknownLock = errors.New("lock not reported by this bridge")
	// ErrExpired means the command could not be sent to the bridge by its start-by time; it was
	// not executed.
	ErrExpired = errors.New("expired")
	// ErrBusy means another command for the lock is running; this one was not executed.
	ErrBusy = errors.New("busy")
)

// lostReadTimeout bounds reading the lock back after a lost answer when the command's own time is
// (almost) up: the user must still be told what the lock reports.
const lostReadTimeout = 10 * time.Second

// minReadTime is the least time left on a command for a read within it: one rate-limit interval
// and a round trip.
const minReadTime = 3 * time.Second

// Execute runs a command and returns the lock's state as read back once it reports the result,
// or a clear error (with the state the lock last reported since the request, when known).
//
// Every command goes to the bridge: the cached state is never trusted to answer, since a wrong
// cache would tell the user the door is locked while it is open. A lock operation is sent once:
// when its answer is lost, the lock is read back and reported as it is. The first request to the
// bridge must be sent by startBy (zero: no bound), else ErrExpired and nothing is executed.
//
//   - lock: locks.
//   - unlock: unlocks without pulling the spring (mode 3), whatever the auto-pull setting.
//   - pull: pulls the spring of an unlocked lock.
//   - open: reads the lock, then from unlocked pulls; from locked or semi-locked unlocks and then
//     pulls once the lock reports unlocked: the one-step unlatch.
func (c *Driver) Execute(ctx context.Context, serial, command string, startBy time.Time) (string, error) {
	id, ok := c.lockID(serial)
	if !ok {
		return "", ErrUnknownLock
	}
	switch command {
	case CommandLock, CommandUnlock, CommandOpen, CommandPull, CommandForceUnlock:
	default:
		return "", fmt.Errorf("unknown command %q (want lock, unlock, open or pull)", command)
	}
	c.mu.Lock()
	m, ok := c.running[serial]
	if !ok {
		m = &sync.Mutex{}
		c.running[serial] = m
	}
	c.mu.Unlock()
	// The router admits one command per lock at a time; a caller that bypasses it is refused
	// rather than queued, since a queued command could run late.
	if !m.TryLock() {
		return "", ErrBusy
	}
	defer m.Unlock()

	cmdCtx, cancel := context.WithTimeout(ctx, c.opts.CommandTimeout)
	defer cancel()
	x := &execution{c: c, parent: ctx, ctx: cmdCtx, serial: serial, id: id, startBy: startBy}
	switch command {
	case CommandLock:
		return x.move("locked", func(ctx context.Context) error { return c.api.LockLock(ctx, id) })
	case CommandUnlock:
		return x.move("unlocked", x.unlock)
	case CommandForceUnlock:
		return x.move("unlocked", func(ctx context.Context) error { return c.api.Unlock(ctx, id, tedeeapi.UnlockForce) })
	case CommandPull:
		return x.pull()
	default:
		return x.open()
	}
}

// execution is one command being executed.
type execution struct {
	c       *Driver
	parent  context.Context // the caller's: outlives the command, for reading back a lost answer
	ctx     context.Context // bounded by CommandTimeout
	serial  string
	id      int64
	startBy time.Time
	started bool
}

// request returns the context for the next request to the bridge: the first one must be sent by
// startBy, later ones belong to a command that has started.
func (x *execution) request() context.Context {
	if x.started || x.startBy.IsZero() {
		return x.ctx
	}
	x.started = true
	return tedeeapi.StartBy(x.ctx, x.startBy)
}

func (x *execution) unlock(ctx context.Context) error {
	return x.c.api.Unlock(ctx, x.id, tedeeapi.UnlockWithoutPull)
}

// move sends a lock operation and waits for the lock to report want.
func (x *execution) move(want string, op func(context.Context) error) (string, error) {
	err := op(x.request())
	switch {
	case err == nil:
		return x.settle(want)
	case errors.Is(err, tedeeapi.ErrNotStarted):
		return "", fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, tedeeapi.ErrAnswerLost):
		return x.afterLoss(err, want)
	case x.ctx.Err() != nil && x.parent.Err() == nil:
		// Out of time before any attempt could have run (every one was refused 409 or never
		// sent; a sent one would be ErrAnswerLost).
		return "", fmt.Errorf("not executed: the bridge did not take the command within %s (commands.timeout): %w; send it again", x.c.opts.CommandTimeout, err)
	case tedeeapi.IsStatus(err, 406):
		// The lock refuses an operation that would not move it (locking a locked lock) as it
		// refuses one it cannot do: read it to tell which.
		state, rerr := x.readBackLate()
		if rerr == nil && state == want {
			return state, nil
		}
		return state, err
	default:
		return "", err
	}
}

// settle waits for the lock to report want after the bridge accepted the operation. When it does
// not in time, the lock is read once more, so the answer says what it reports now (it may have
// got there between two reads, or its report be late).
func (x *execution) settle(want string) (string, error) {
	state, err := x.confirm(x.ctx, false, want)
	if err == nil || x.parent.Err() != nil {
		return state, err
	}
	now, rerr := x.readBackLate()
	if rerr != nil {
		return state, err
	}
	if now == want {
		return now, nil
	}
	return now, fmt.Errorf("the lock did not report %s within %s (commands.timeout); it now reports %s: it may be blocked or out of reach; check it before trying again",
		want, x.c.opts.CommandTimeout, orUnknown(now))
}

// pullConfirmWindow is how long a pull waits to see the lock pulling.
const pullConfirmWindow = 5 * time.Second

var pullStates = []string{"pulling", "pulled", "unpulling"}

// pull pulls the spring. The bridge answers 204 once the spring is moving; pulling and pulled are
// short states that reads once a second can miss when no webhook reports them, so if none is
// seen within pullConfirmWindow the bridge's answer is the confirmation.
func (x *execution) pull() (string, error) {
	err := x.c.api.Pull(x.request(), x.id)
	switch {
	case errors.Is(err, tedeeapi.ErrNotStarted):
		return "", fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, tedeeapi.ErrAnswerLost):
		return x.afterLoss(err, pullStates...)
	case err != nil:
		return "", err
	}
	// The spring returns by itself after its duration; read the lock then, so that its state does
	// not stay "pulled" until the next poll when no webhook reports the return.
	x.c.mu.Lock()
	d := x.c.pulls[x.serial]
	x.c.mu.Unlock()
	time.AfterFunc(d+2*time.Second, func() { x.c.Refresh(x.serial) })
	wctx, cancel := context.WithTimeout(x.ctx, pullConfirmWindow)
	defer cancel()
	state, err := x.confirm(wctx, false, pullStates...)
	if err != nil && x.ctx.Err() != nil {
		return state, err
	}
	return state, nil
}

// open unlatches the door from whatever state the lock is really in: it is read first, since
// the steps depend on it and the cache may be wrong.
func (x *execution) open() (string, error) {
	state, err := x.readBack(x.request())
	switch {
	case errors.Is(err, tedeeapi.ErrNotStarted):
		return "", fmt.Errorf("%w: %w", ErrExpired, err)
	case err != nil:
		return "", fmt.Errorf("read the lock before opening: %w", err)
	}
	switch state {
	case "unlocked":
	case "locked", "semi_locked":
		if state, err := x.move("unlocked", x.unlock); err != nil {
			return state, err
		}
	default:
		return state, fmt.Errorf("cannot open while the lock reports %s: open works from locked, semi_locked or unlocked; try again once the lock has stopped moving", orUnknown(state))
	}
	state, err = x.pull()
	if err != nil && state == "" {
		state, _ = x.c.core.LockState(x.serial)
	}
	if err != nil {
		return state, fmt.Errorf("the lock is unlocked, but pulling the spring failed: %w", err)
	}
	return state, nil
}

// readBack reads the lock from the bridge and returns the state then known (a webhook newer than
// the read wins, as it must).
func (x *execution) readBack(ctx context.Context) (string, error) {
	if err := x.c.readLock(ctx, x.id); err != nil {
		return "", fmt.Errorf("read the lock back: %w", err)
	}
	state, _ := x.c.core.LockState(x.serial)
	return state, nil
}

// readBackLate reads the lock back after a request that may have moved it: within the command's
// time if enough is left, else within lostReadTimeout of the caller's, since the user must be
// told what the lock reports even when the lost answer used up the command's time.
func (x *execution) readBackLate() (string, error) {
	ctx := x.ctx
	if dl, ok := ctx.Deadline(); ctx.Err() != nil || (ok && time.Until(dl) < minReadTime) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(x.parent, lostReadTimeout)
		defer cancel()
	}
	return x.readBack(ctx)
}

// afterLoss reports a lock operation whose answer was lost: the lock is read back and, while the
// command has time left, watched for the wanted state, since it may still be moving.
func (x *execution) afterLoss(lost error, want ...string) (string, error) {
	state, err := x.readBackLate()
	if err != nil {
		return "", fmt.Errorf("%w; and the lock could not be read back (%w): it may or may not have moved; check it before trying again", lost, err)
	}
	for _, w := range want {
		if state == w {
			return state, nil
		}
	}
	if x.ctx.Err() == nil {
		if s, err := x.confirm(x.ctx, true, want...); err == nil {
			return s, nil
		} else if s != "" {
			state = s
		}
	}
	return state, fmt.Errorf("%w; the lock now reports %s, not %s: the command may not have reached the lock, or it may still be moving; check it before trying again",
		lost, orUnknown(state), strings.Join(want, " or "))
}

// confirm waits until the lock reports one of the states, from webhooks (checked often) or from
// reading the lock (as often as the API allows), which also publishes the states in between.
// The state cached before the request proves nothing: only a report since then counts, that is
// a change of the cached state or a read of the lock (fresh says one already happened).
func (x *execution) confirm(ctx context.Context, fresh bool, states ...string) (string, error) {
	want := map[string]bool{}
	for _, s := range states {
		want[s] = true
	}
	before, _ := x.c.core.LockState(x.serial)
	check := time.NewTicker(50 * time.Millisecond)
	defer check.Stop()
	nextRead := time.Now().Add(time.Second)
	for {
		current, _ := x.c.core.LockState(x.serial)
		if current != before {
			fresh = true
		}
		if fresh && want[current] {
			return current, nil
		}
		if time.Now().After(nextRead) {
			if err := x.c.readLock(ctx, x.id); err == nil {
				fresh = true
			} else if ctx.Err() == nil {
				x.c.log.Debug("read lock while waiting", zap.String("serial", x.serial), zap.Error(err))
			}
			nextRead = time.Now().Add(time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			last := "nothing since the command was sent"
			if fresh {
				last = orUnknown(current)
			} else {
				current = ""
			}
			if x.parent.Err() != nil {
				return current, fmt.Errorf("the service stopped before the lock reported %s (it last reported %s)",
					strings.Join(states, " or "), last)
			}
			return current, fmt.Errorf("the lock did not report %s within %s (commands.timeout); it last reported %s: it may be blocked or out of reach; check it before trying again",
				strings.Join(states, " or "), x.c.opts.CommandTimeout, last)
		case <-check.C:
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
