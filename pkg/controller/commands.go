package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// maxCommandsInFlight bounds the commands being executed at once (each waits for its lock's
// confirmation); a flood of commands is answered with an error instead of piling up.
const maxCommandsInFlight = 32

// Result is the payload of <base>/<serial>/set/result.
type Result struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// Router receives the messages of <base>/+/set and runs each command on the controller of the
// bridge that reports the lock.
type Router struct {
	ctx         context.Context // the service's lifetime: commands stop when it ends
	base        string
	controllers []*Controller
	publish     func(...state.Message)
	observe     func(command string, ok bool) // may be nil
	log         *zap.Logger
	slots       chan struct{}
}

// NewRouter returns a router for the given controllers. observe, when not nil, is told every
// command's outcome (for metrics).
func NewRouter(ctx context.Context, base string, controllers []*Controller, publish func(...state.Message),
	observe func(command string, ok bool), log *zap.Logger) *Router {
	return &Router{ctx: ctx, base: base, controllers: controllers, publish: publish, observe: observe, log: log,
		slots: make(chan struct{}, maxCommandsInFlight)}
}

// Filter is the topic filter to subscribe the router to.
func (r *Router) Filter() string { return r.base + "/+/set" }

// Handle takes one message from the set topic. It returns at once; the command runs in the
// background and its result is published on <base>/<serial>/set/result.
func (r *Router) Handle(topic string, payload []byte, retained bool) {
	serial, ok := strings.CutPrefix(topic, r.base+"/")
	serial, ok2 := strings.CutSuffix(serial, "/set")
	if !ok || !ok2 || !tedee.ValidSerial(serial) {
		return // not a topic we publish results for
	}
	if len(payload) == 0 {
		return // a cleared retained command, possibly our own clearing
	}
	command := strings.ToLower(strings.TrimSpace(string(payload)))
	log := r.log.With(zap.String("serial", serial), zap.String("command", command))
	if retained {
		// A lock must never move because a broker replayed an old message. Clear it so it is not
		// replayed again.
		log.Warn("ignored retained command; publish commands without the retain flag")
		r.publish(state.Message{Topic: topic, Retain: true})
		r.answer(serial, command, fmt.Errorf("retained command ignored: a lock never moves on a replayed message"))
		return
	}
	switch command {
	case CommandLock, CommandUnlock, CommandOpen, CommandPull:
	default:
		r.answer(serial, truncate(command), fmt.Errorf("unknown command %q (want lock, unlock, open or pull)", truncate(command)))
		return
	}
	var ctrl *Controller
	for _, c := range r.controllers {
		if c.Owns(serial) {
			ctrl = c
		}
	}
	if ctrl == nil {
		msg := "no Bridge API configured (set bridges[].host and token) to send commands"
		if len(r.controllers) > 0 {
			msg = "lock not reported by any configured bridge"
		}
		r.answer(serial, command, fmt.Errorf("%s", msg))
		return
	}
	select {
	case r.slots <- struct{}{}:
	default:
		r.answer(serial, command, fmt.Errorf("too many commands in progress"))
		return
	}
	go func() {
		defer func() { <-r.slots }()
		log.Info("executing command")
		err := ctrl.Execute(r.ctx, serial, command)
		if err != nil {
			log.Warn("command failed", zap.Error(err))
		} else {
			log.Info("command done")
		}
		r.answer(serial, command, err)
	}()
}

func (r *Router) answer(serial, command string, err error) {
	res := Result{Command: command, OK: err == nil}
	if err != nil {
		res.Error = err.Error()
	}
	payload, _ := json.Marshal(res)
	r.publish(state.Message{Topic: r.base + "/" + serial + "/set/result", Payload: payload})
	if r.observe != nil {
		switch command {
		case CommandLock, CommandUnlock, CommandOpen, CommandPull:
		default:
			command = "unknown" // a metrics label must not take any text a client sends
		}
		r.observe(command, err == nil)
	}
}

// truncate keeps an unknown command's echo short: it comes from any MQTT client.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
