package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// ErrInvalidSerial is Submit's answer to something that cannot be a lock's serial.
var ErrInvalidSerial = errors.New("not a lock serial")

// Submit runs a command for the lock as if it had arrived on <base>/<serial>/set (the status
// page's buttons): the same per-lock queue, expiry and busy rules, the same result, also
// published on <base>/<serial>/set/result so that MQTT clients see what was done. It waits for
// the result; when ctx ends first, the command still runs (or is refused) as it would for MQTT,
// and Submit answers with ctx's error.
func (r *Router) Submit(ctx context.Context, serial, command string) (Result, error) {
	if !tedee.ValidSerial(serial) {
		return Result{}, fmt.Errorf("%w: %q", ErrInvalidSerial, truncate(serial))
	}
	done := make(chan Result, 1) // buffered: the command's goroutine never waits for us
	log := r.log.With(zap.String("serial", serial), zap.String("command", truncate(command)),
		zap.String("source", "status_page"))
	r.dispatch(serial, request{Command: command, signedIn: true}, log, func(res Result) { done <- res })
	select {
	case res := <-done:
		return res, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("wait for the result of %s: %w", truncate(command), ctx.Err())
	}
}

// dispatch runs a parsed command on the controller of the bridge that reports the lock, through
// the lock's queue, and answers on <base>/<serial>/set/result; done, when not nil, is also given
// the result. It returns at once.
func (r *Router) dispatch(serial string, req request, log *zap.Logger, done func(Result)) {
	reply := func(res Result) {
		r.answer(serial, res)
		if done != nil {
			done(res)
		}
	}
	switch req.Command {
	case CommandLock, CommandUnlock, CommandOpen, CommandPull, CommandForceUnlock:
	default:
		reply(Result{Command: truncate(req.Command), Transaction: req.Transaction,
			Error: fmt.Sprintf("unknown command %q: send lock, unlock, open or pull", truncate(req.Command))})
		return
	}
	if !r.policy.Allows(serial, req.Command) {
		log.Info("refused command: not allowed for this lock")
		reply(Result{Command: req.Command, Transaction: req.Transaction,
			Error: fmt.Sprintf("not allowed: locks.%s.commands does not list %s", serial, req.Command)})
		return
	}
	if r.codes != nil && !req.signedIn && r.policy.needsCode(req.Command) {
		if refusal := r.codes.check(serial, req.Code, time.Now()); refusal != "" {
			log.Warn("refused command: code", zap.String("reason", refusal))
			reply(Result{Command: req.Command, Transaction: req.Transaction, Error: refusal})
			return
		}
	}
	ctrl, via := r.executor(serial)
	if ctrl == nil {
		msg := "no Bridge API configured: set bridges[].host and token (or cloud.api_key) to send commands"
		if len(r.controllers) > 0 || r.cloud != nil {
			msg = "lock not reported by any configured bridge nor the Tedee Cloud account: check the serial, and that the lock is paired with a bridge tedee2mqtt uses"
		}
		reply(Result{Command: req.Command, Transaction: req.Transaction, Error: msg})
		return
	}

	received := time.Now()
	r.mu.Lock()
	startBy := received.Add(r.queueTimeout)
	queueTimeout := r.queueTimeout
	q, ok := r.queues[serial]
	if !ok {
		q = &lockQueue{}
		r.queues[serial] = q
	}
	var turn chan struct{} // nil: this command runs at once
	switch {
	case !q.running:
		q.running = true
	case q.waiting == nil:
		turn = make(chan struct{})
		q.waiting = turn
	default:
		r.mu.Unlock()
		log.Info("refused command: lock busy")
		reply(Result{Command: req.Command, Transaction: req.Transaction,
			Error: "busy: a command for this lock is running and another is waiting; this one was not executed: send it again once they are answered"})
		return
	}
	r.mu.Unlock()

	go func() {
		if turn != nil {
			if refusal := r.awaitTurn(serial, q, turn, startBy, queueTimeout); refusal != "" {
				log.Info("refused command while waiting for the lock's previous command", zap.String("reason", refusal))
				reply(Result{Command: req.Command, Transaction: req.Transaction, Error: refusal})
				return
			}
		}
		defer r.release(serial, q)
		log.Info("executing command", zap.String("via", via))
		st, err := ctrl.Execute(r.ctx, serial, req.Command, startBy)
		res := Result{Command: req.Command, Transaction: req.Transaction, OK: err == nil, Via: via, State: st}
		switch {
		case errors.Is(err, ErrExpired):
			res.Via = "" // never sent
			res.Error = fmt.Sprintf("expired: not started within %s (commands.queue_timeout) because the bridge was busy with other requests; it was not executed: send it again if it is still wanted", queueTimeout)
		case errors.Is(err, ErrBusy):
			res.Via = ""
			res.Error = "busy: another command for this lock is running; this one was not executed: send it again once it is answered"
		case err != nil:
			res.Error = err.Error()
		}
		if err != nil {
			log.Warn("command failed", zap.String("state", st), zap.Error(err))
		} else {
			log.Info("command done", zap.String("state", st))
		}
		reply(res)
	}()
}

// Executor runs commands for the locks it owns: a bridge's Driver, or the Tedee Cloud account.
type Executor interface {
	Owns(serial string) bool
	Execute(ctx context.Context, serial, command string, startBy time.Time) (string, error)
}

// SetCloud sets the Tedee Cloud account that runs commands for a lock whose Bridge API is absent
// or unreachable; call it before the first command.
func (r *Router) SetCloud(e Executor) { r.cloud = e }

// executor chooses who runs a lock's command: the bridge whose API lists the lock while that API
// answers; else the Tedee Cloud when the account has the lock. A bridge that cannot be reached is
// known from its last sync, before anything is sent: a command is never sent twice, once to each.
func (r *Router) executor(serial string) (Executor, string) {
	var ctrl *Driver
	for _, c := range r.controllers {
		if c.Owns(serial) {
			ctrl = c
		}
	}
	cloud := r.cloud != nil && r.cloud.Owns(serial)
	switch {
	case ctrl != nil && (ctrl.Health().API || !cloud):
		return ctrl, "bridge"
	case cloud:
		return r.cloud, "cloud"
	}
	return nil, ""
}
