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

// ErrUnknownLock means the bridge did not list the lock in its last sync.
var ErrUnknownLock = errors.New("lock not reported by this bridge")

// Execute runs a command and returns once the lock reports the result, or with a clear error.
// Commands for one lock run one after the other.
//
//   - lock: locks; answers at once if already locked.
//   - unlock: unlocks without pulling the spring (mode 3), whatever the auto-pull setting.
//   - pull: pulls the spring of an unlocked lock.
//   - open: from unlocked, pulls; from locked or semi-locked, unlocks and then pulls once the lock
//     reports unlocked: the one-step unlatch.
func (c *Controller) Execute(ctx context.Context, serial, command string) error {
	id, ok := c.lockID(serial)
	if !ok {
		return ErrUnknownLock
	}
	c.mu.Lock()
	m, ok := c.running[serial]
	if !ok {
		m = &sync.Mutex{}
		c.running[serial] = m
	}
	c.mu.Unlock()
	m.Lock()
	defer m.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.opts.CommandTimeout)
	defer cancel()
	current, _ := c.core.LockState(serial)
	switch command {
	case CommandLock:
		if current == "locked" {
			return nil
		}
		if err := c.api.LockLock(ctx, id); err != nil {
			return err
		}
		return c.waitFor(ctx, serial, id, "locked")
	case CommandUnlock:
		if current == "unlocked" {
			return nil
		}
		return c.unlock(ctx, serial, id)
	case CommandPull:
		return c.pull(ctx, serial, id)
	case CommandOpen:
		switch current {
		case "unlocked":
		case "locked", "semi_locked":
			if err := c.unlock(ctx, serial, id); err != nil {
				return err
			}
		default:
			return fmt.Errorf("cannot open from state %q", current)
		}
		return c.pull(ctx, serial, id)
	}
	return fmt.Errorf("unknown command %q (want lock, unlock, open or pull)", command)
}

func (c *Controller) unlock(ctx context.Context, serial string, id int64) error {
	if err := c.api.Unlock(ctx, id, tedeeapi.UnlockWithoutPull); err != nil {
		return err
	}
	return c.waitFor(ctx, serial, id, "unlocked")
}

// pullConfirmWindow is how long a pull waits to see the lock pulling.
const pullConfirmWindow = 5 * time.Second

// pull pulls the spring. The bridge answers 204 once the spring is moving; pulling and pulled are
// short states that reads once a second can miss when no webhook reports them, so if none is
// seen within pullConfirmWindow the bridge's answer is the confirmation.
func (c *Controller) pull(ctx context.Context, serial string, id int64) error {
	if err := c.api.Pull(ctx, id); err != nil {
		return err
	}
	// The spring returns by itself after its duration; read the lock then, so that its state does
	// not stay "pulled" until the next poll when no webhook reports the return.
	c.mu.Lock()
	d := c.pulls[serial]
	c.mu.Unlock()
	time.AfterFunc(d+2*time.Second, func() { c.Refresh(serial) })
	wctx, cancel := context.WithTimeout(ctx, pullConfirmWindow)
	defer cancel()
	if err := c.waitFor(wctx, serial, id, "pulling", "pulled", "unpulling"); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// waitFor waits until the lock reports one of the states, from webhooks (checked often) or from
// reading the lock (as often as the API allows), which also publishes the states in between.
func (c *Controller) waitFor(ctx context.Context, serial string, id int64, states ...string) error {
	want := map[string]bool{}
	for _, s := range states {
		want[s] = true
	}
	check := time.NewTicker(50 * time.Millisecond)
	defer check.Stop()
	nextRead := time.Now().Add(time.Second)
	for {
		current, _ := c.core.LockState(serial)
		if want[current] {
			return nil
		}
		if time.Now().After(nextRead) {
			if err := c.readLock(ctx, id); err != nil && ctx.Err() == nil {
				c.log.Debug("read lock while waiting", zap.Error(err))
			}
			nextRead = time.Now().Add(time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s waiting for the lock to report %s (last state: %s)",
				c.opts.CommandTimeout, strings.Join(states, " or "), orUnknown(current))
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
