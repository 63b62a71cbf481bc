package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// Commands through the Cloud API, for a lock whose Bridge API is absent or unreachable. The same
// guarantees as through a bridge: the operation is sent once (a request whose answer is lost is
// never repeated), a command not sent by its start-by time is refused, and the result is what
// the lock reports afterwards, never the cache.

// operationPoll is how often an operation's status is read: Tedee says lock and unlock "usually
// take up to 3 seconds", and one client polls every second.
const operationPoll = time.Second

// syncReads bounds the reads of the lock after its operation completed, while it still moves.
const syncReads = 3

var pullStates = []string{"pulling", "pulled", "unpulling"}

// Execute runs a command through the Cloud API and returns the state the lock reports after it.
func (a *Account) Execute(ctx context.Context, serial, command string, startBy time.Time) (string, error) {
	id, ok := a.idOf(serial)
	if !ok {
		return "", controller.ErrUnknownLock
	}
	if !startBy.IsZero() && a.opts.Now().After(startBy) {
		return "", controller.ErrExpired
	}
	ctx, cancel := context.WithTimeout(tedeecloud.WithPriority(ctx, tedeecloud.Interactive), a.opts.CommandTimeout)
	defer cancel()
	x := cloudCommand{a: a, id: id, serial: serial}
	switch command {
	case controller.CommandLock:
		return x.operate(ctx, tedeecloud.OpLock, 0, "locked")
	case controller.CommandUnlock:
		return x.operate(ctx, tedeecloud.OpUnlock, tedeecloud.UnlockWithoutPull, "unlocked")
	case controller.CommandForceUnlock:
		return x.operate(ctx, tedeecloud.OpUnlock, tedeecloud.UnlockForce, "unlocked")
	case controller.CommandPull:
		return x.operate(ctx, tedeecloud.OpPull, 0, append(pullStates, "unlocked")...)
	case controller.CommandOpen:
		return x.open(ctx)
	}
	return "", fmt.Errorf("unknown command %q (want lock, unlock, open or pull)", command)
}

type cloudCommand struct {
	a      *Account
	id     int64
	serial string
}

// operate sends one operation, waits for Tedee to complete it, and reads the lock.
func (x cloudCommand) operate(ctx context.Context, op tedeecloud.Operation, mode tedeecloud.UnlockMode, want ...string) (string, error) {
	started, err := x.a.api.Operate(ctx, x.id, op, mode)
	switch {
	case errors.Is(err, tedeecloud.ErrBudget), errors.Is(err, tedeecloud.ErrRateLimited):
		return "", fmt.Errorf("not executed: %w; send it again later", err)
	case err != nil:
		return "", fmt.Errorf("the Tedee Cloud did not accept the %s operation (%w); it may or may not have reached the lock: check it before trying again", op, err)
	}
	status, err := x.await(ctx, started.OperationID)
	if err != nil {
		st, _ := x.read(context.WithoutCancel(ctx))
		return st, fmt.Errorf("%w; the lock now reports %s", err, orUnknown(st))
	}
	if !status.Succeeded() {
		st, _ := x.read(ctx)
		result := "no result"
		if status.Result != nil {
			result = fmt.Sprintf("result %d", *status.Result)
		}
		return st, fmt.Errorf("the Tedee Cloud reports the %s operation failed (%s); the lock reports %s: it may be disconnected, uncalibrated or in a state that does not allow it",
			op, result, orUnknown(st))
	}
	var st string
	for i := range syncReads {
		if st, err = x.read(ctx); err == nil && slices.Contains(want, st) {
			return st, nil
		}
		if i < syncReads-1 && !sleep(ctx, operationPoll) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("the Tedee Cloud completed the %s operation, but the lock could not be read back (%w): check it", op, err)
	}
	return st, fmt.Errorf("the Tedee Cloud completed the %s operation, but the lock reports %s, not %s: it may be blocked; check it before trying again",
		op, orUnknown(st), strings.Join(want, " or "))
}

// await polls an operation until Tedee completes it or the command's time is up.
func (x cloudCommand) await(ctx context.Context, operationID string) (tedeecloud.OperationStatus, error) {
	var lastErr error
	for {
		if !sleep(ctx, operationPoll) {
			if lastErr != nil {
				return tedeecloud.OperationStatus{}, fmt.Errorf("the operation's status could not be read (%w)", lastErr)
			}
			return tedeecloud.OperationStatus{}, fmt.Errorf("the Tedee Cloud did not complete the operation within %s (commands.timeout)", x.a.opts.CommandTimeout)
		}
		status, err := x.a.api.Operation(ctx, operationID)
		if err == nil && status.Completed() {
			return status, nil
		}
		if err != nil {
			lastErr = err
			if errors.Is(err, tedeecloud.ErrBudget) || errors.Is(err, tedeecloud.ErrRateLimited) {
				return status, fmt.Errorf("the operation was sent, but its status cannot be read: %w", err)
			}
		}
	}
}

// open unlatches the door from the state the lock is really in, read first.
func (x cloudCommand) open(ctx context.Context) (string, error) {
	st, err := x.read(ctx)
	if err != nil {
		return "", fmt.Errorf("read the lock before opening: %w", err)
	}
	switch st {
	case "unlocked":
	case "locked", "semi_locked":
		if st, err := x.operate(ctx, tedeecloud.OpUnlock, tedeecloud.UnlockWithoutPull, "unlocked"); err != nil {
			return st, err
		}
	default:
		return st, fmt.Errorf("cannot open while the lock reports %s: open works from locked, semi_locked or unlocked; try again once the lock has stopped moving", orUnknown(st))
	}
	st, err = x.operate(ctx, tedeecloud.OpPull, 0, append(pullStates, "unlocked")...)
	if err != nil {
		return st, fmt.Errorf("the lock is unlocked, but pulling the spring failed: %w", err)
	}
	return st, nil
}

// read reads the lock's state from the Tedee Cloud (sync), hands it to the owner (which keeps it
// only for a lock no bridge reports), and returns the state word the cloud reported.
func (x cloudCommand) read(ctx context.Context) (string, error) {
	s, err := x.a.api.SyncLock(ctx, x.id)
	if err != nil {
		return "", err
	}
	x.a.applyState(x.id, x.serial, s.IsConnected, s.DeviceState, x.a.opts.Now())
	if s.DeviceState == nil || s.DeviceState.State == nil {
		return "", nil // disconnected: the cloud does not know
	}
	return tedee.LockState(*s.DeviceState.State).Word(), nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
