package fakecloud

// Lock operations: POST /my/lock/{id}/operation/{lock|unlock|pull} is accepted (202) at once with
// an operationId; GET /my/device/operation/{operationId} is PENDING for OperationTime, then
// COMPLETED with the result. The lock checks the precondition when the command reaches it (at
// the POST): if it holds, the lock starts moving at once and has arrived when the operation
// completes, and it logs the activity entry with the key owner's name; if not, nothing moves.
//
// Results (Tedee documents only 0 = success and >0 = error; the codes are the fake's):
//   - ResultOK: done, or the documented quirk "on an uncalibrated lock or pull spring the
//     endpoints return successful response but nothing will happen": a lock in state 0
//     (uncalibrated), or a pull when the pull spring is disabled, completes with 0 and no move.
//   - ResultInvalidState: the precondition failed: lock only from unlocked or semi-locked,
//     unlock from locked or semi-locked (mode 2, force, from any state), pull only from
//     unlocked; and nothing from calibrating (1) or updating (18), which no mode overrides.
//   - ResultUnreachable: the lock is disconnected, unpaired, or its bridge is offline. The real
//     behaviour is not documented; the fake accepts the operation (202) and completes it with
//     this result after OperationTime, having moved nothing.

import (
	"net/http"
	"strconv"
	"time"
)

// Device operation types (the operation's "type").
const (
	opLock   = 0
	opUnlock = 1
	opPull   = 2
)

// Operation results of the fake (see the file comment).
const (
	ResultOK           = 0
	ResultInvalidState = 1
	ResultUnreachable  = 2
)

// Unlock modes.
const (
	modeNormal       = 0
	modeForce        = 2
	modeWithoutPull  = 3
	modeUnlockOrPull = 4
)

// Activity codes the fake's operations log.
const (
	codeLockedRemote       = 32
	codeUnlockedRemote     = 33
	codePulledRemote       = 51
	codePulledAutoByRemote = 55
	codeForceUnlocked      = 67
)

// maxOperations bounds the operations kept readable (how long Tedee keeps them: unknown).
const maxOperations = 1000

type operation struct {
	id       string
	deviceID int64
	typ      int
	doneAt   time.Time
	result   int
}

// operate returns the handler of one operation type.
func (c *Cloud) operate(typ int) func(call) response {
	return func(a call) response {
		e := c.lockByID(a.pathID())
		if e == nil {
			return notFound()
		}
		mode := modeNormal
		if typ == opUnlock {
			m, err := a.q.number("mode", modeNormal, modeNormal, modeUnlockOrPull)
			if err != nil || m == 1 {
				return fail(http.StatusBadRequest, "The value %q is not valid for mode (0, 2, 3 or 4)", a.q.get("mode"))
			}
			mode = m
		}
		lastChanged := utc(e.changedAt, layoutZ) // the last change before this operation
		steps, result := c.plan(e, typ, mode, a.now)
		if steps != nil {
			e.moves = steps
			for _, s := range steps {
				c.scheduleLocked(s.at)
			}
			c.advanceLocked(a.now) // the first step is now
		}
		id := max(a.now.UnixMilli(), c.lastOp+1) // epoch ms, unique
		c.lastOp = id
		op := &operation{id: strconv.FormatInt(id, 10), deviceID: e.ID, typ: typ, doneAt: a.now.Add(c.opts.OperationTime), result: result}
		c.ops[op.id] = op
		c.opOrder = append(c.opOrder, op.id)
		if len(c.opOrder) > maxOperations {
			delete(c.ops, c.opOrder[0])
			c.opOrder = c.opOrder[1:]
		}
		return ok(http.StatusAccepted, map[string]string{"operationId": op.id, "lastStateChangedDate": lastChanged})
	}
}

// plan checks the precondition on lock e and returns the steps of the movement, or nil and the
// result when nothing moves.
func (c *Cloud) plan(e *lockEntry, typ, mode int, t0 time.Time) ([]move, int) {
	at := func(fraction float64) time.Time {
		return t0.Add(time.Duration(float64(c.opts.OperationTime) * fraction))
	}
	if !c.reachable(e) {
		return nil, ResultUnreachable
	}
	switch e.State {
	case 0:
		return nil, ResultOK // uncalibrated: "successful response but nothing will happen"
	case 1, 18:
		return nil, ResultInvalidState // calibrating, updating
	}
	s := e.Settings
	pull := func(code int) ([]move, int) {
		if !s.PullSpring {
			return nil, ResultOK // an uncalibrated (disabled) pull spring: nothing happens either
		}
		return []move{{t0, 8, 0}, {at(0.5), 7, code}, {at(1), 2, 0}}, ResultOK
	}
	lockedOrSemi := e.State == 6 || e.State == 3
	switch {
	case typ == opLock && (e.State == 2 || e.State == 3):
		return []move{{t0, 5, 0}, {at(1), 6, codeLockedRemote}}, ResultOK
	case typ == opUnlock && mode == modeForce:
		return []move{{t0, 4, 0}, {at(1), 2, codeForceUnlocked}}, ResultOK
	case typ == opUnlock && lockedOrSemi && mode != modeWithoutPull && s.AutoPull && s.PullSpring:
		// Unlocking with auto-pull retracts the bolt, then pulls the latch: two entries.
		return []move{{t0, 4, 0}, {at(0.25), 2, codeUnlockedRemote}, {at(0.5), 8, 0},
			{at(0.75), 7, codePulledAutoByRemote}, {at(1), 2, 0}}, ResultOK
	case typ == opUnlock && lockedOrSemi:
		return []move{{t0, 4, 0}, {at(1), 2, codeUnlockedRemote}}, ResultOK
	case typ == opUnlock && mode == modeUnlockOrPull && e.State == 2:
		return pull(codePulledRemote)
	case typ == opPull && e.State == 2:
		return pull(codePulledRemote)
	}
	return nil, ResultInvalidState
}

type operationJSON struct {
	DeviceID    int64  `json:"deviceId"`
	OperationID string `json:"operationId"`
	Result      *int   `json:"result"` // null while PENDING
	Status      string `json:"status"`
	Type        int    `json:"type"`
}

// getOperation is GET /my/device/operation/{operationId}.
func (c *Cloud) getOperation(a call) response {
	op := c.ops[a.args[0]]
	if op == nil {
		return fail(http.StatusNotFound, "Operation not found")
	}
	out := operationJSON{DeviceID: op.deviceID, OperationID: op.id, Status: "PENDING", Type: op.typ}
	if !a.now.Before(op.doneAt) {
		out.Status, out.Result = "COMPLETED", new(op.result)
	}
	return ok(http.StatusOK, out)
}
