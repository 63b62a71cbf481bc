package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// DefaultQueueTimeout is how long a command may wait to start (commands.queue_timeout).
const DefaultQueueTimeout = 5 * time.Second

// Limits on what a client may send; results echo the transaction, and any MQTT client can write.
const (
	maxCommandBytes   = 1024
	maxTransactionLen = 64
)

// Result is the payload of <base>/<serial>/set/result. Empty fields are left out, except ok.
type Result struct {
	Command     string `json:"command,omitempty"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	Transaction string `json:"transaction,omitempty"`
	Via         string `json:"via,omitempty"`   // "bridge" when the bridge was asked
	State       string `json:"state,omitempty"` // the lock's state as read back since the command was sent
}

// Router receives the messages of <base>/+/set and runs each command on the controller of the
// bridge that reports the lock. Per lock one command runs and one waits, in the order received:
// a door needs no deeper queue, and a deeper one would only run commands long after they were
// sent. More are refused busy; a waiting command that cannot start within the queue timeout is
// refused, never executed late.
type Router struct {
	ctx         context.Context // the service's lifetime: commands stop when it ends
	base        string
	controllers []*Driver
	cloud       Executor // nil without cloud.api_key
	publish     func(...state.Message)
	observe     func(command string, ok bool) // may be nil
	log         *zap.Logger

	policy Policy
	codes  *codeGuard // nil without a code

	mu           sync.Mutex
	queueTimeout time.Duration
	queues       map[string]*lockQueue // serial → its commands; removed when empty
}

// lockQueue holds one lock's admitted commands: they run one at a time, in the order they
// were received.
type lockQueue struct {
	running bool          // a command runs (Router.mu)
	waiting chan struct{} // closed to hand the waiting command its turn; nil if none (Router.mu)
}

// NewRouter returns a router for the given controllers. observe, when not nil, is told every
// command's outcome (for metrics).
func NewRouter(ctx context.Context, base string, controllers []*Driver, publish func(...state.Message),
	observe func(command string, ok bool), log *zap.Logger) *Router {
	return &Router{ctx: ctx, base: base, controllers: controllers, publish: publish, observe: observe, log: log,
		queueTimeout: DefaultQueueTimeout, queues: map[string]*lockQueue{}}
}

// SetPolicy sets what the locks accept; call it before the first command.
func (r *Router) SetPolicy(p Policy) {
	r.policy = p
	if p.Code != "" {
		r.codes = newCodeGuard(p.Code)
	}
}

// SetQueueTimeout sets how long a command may wait to be sent to the bridge
// (commands.queue_timeout); zero or less keeps the default.
func (r *Router) SetQueueTimeout(d time.Duration) {
	if d <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queueTimeout = d
}

// Filter is the topic filter to subscribe the router to.
func (r *Router) Filter() string { return r.base + "/+/set" }

// request is a parsed command.
type request struct {
	Command     string
	Transaction string
	Code        string // never logged nor echoed
	// signedIn marks a command from the status page, whose user signed in with http.ui_password:
	// the code Home Assistant asks for is not asked again.
	signedIn bool
}

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
	req, perr := parseCommand(payload)
	log := r.log.With(zap.String("serial", serial), zap.String("command", truncate(req.Command)),
		zap.String("transaction", req.Transaction))
	// Whether retained or not, the message must not stay on the broker: one published retained
	// reaches a subscribed client with the flag cleared (MQTT 3.1.1 clears it on live delivery),
	// so it looks live here, runs, and would otherwise be replayed at the next (re)connection.
	r.publish(state.Message{Topic: topic, Retain: true})
	if retained {
		// Seen at (re)connection: a replay, possibly of something old. A lock must never move
		// because of it.
		log.Warn("ignored retained command; publish commands without the retain flag")
		r.answer(serial, Result{Command: truncate(req.Command), Transaction: req.Transaction,
			Error: "retained command ignored: a lock never moves on a message the broker replays; publish commands without the retain flag"})
		return
	}
	if perr != nil {
		log.Info("refused command", zap.Error(perr))
		r.answer(serial, Result{Command: truncate(req.Command), Transaction: req.Transaction, Error: perr.Error()})
		return
	}
	r.dispatch(serial, req, log, nil)
}

// awaitTurn waits until the running command hands over the lock. It returns "" once this command
// holds the turn, else why it gave up (having left the queue, so nothing is held).
func (r *Router) awaitTurn(serial string, q *lockQueue, turn chan struct{}, startBy time.Time, queueTimeout time.Duration) string {
	expiry := time.NewTimer(time.Until(startBy))
	defer expiry.Stop()
	var refusal string
	select {
	case <-turn:
		return ""
	case <-expiry.C:
		refusal = fmt.Sprintf("expired: not started within %s (commands.queue_timeout) because the previous command for this lock was still running; it was not executed: send it again if it is still wanted", queueTimeout)
	case <-r.ctx.Done():
		refusal = "not executed: tedee2mqtt is shutting down; send it again once it is back"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if q.waiting == turn {
		q.waiting = nil
		return refusal
	}
	// Handed the turn at that very moment: it is ours to run (Execute still refuses to send
	// past startBy) and to release.
	return ""
}

// release ends the running command: the waiting one, if any, gets the turn; otherwise the lock
// is forgotten until its next command.
func (r *Router) release(serial string, q *lockQueue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q.waiting != nil {
		close(q.waiting)
		q.waiting = nil
		return
	}
	q.running = false
	if r.queues[serial] == q {
		delete(r.queues, serial)
	}
}

// parseCommand reads a plain command word or a JSON object {"command":…,"transaction":…}. It
// returns what it could read even with an error, so the answer can echo it.
func parseCommand(payload []byte) (request, error) {
	if len(payload) > maxCommandBytes {
		return request{}, fmt.Errorf("command too long (%d bytes, at most %d): send lock, unlock, open or pull, or {\"command\":\"unlock\",\"transaction\":\"t1\"}",
			len(payload), maxCommandBytes)
	}
	text := strings.TrimSpace(string(payload))
	if !strings.HasPrefix(text, "{") {
		return request{Command: strings.ToLower(text)}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &fields); err != nil {
		return request{}, fmt.Errorf("not a valid JSON command (%v): send {\"command\":\"unlock\",\"transaction\":\"t1\"} or a plain word", err)
	}
	var req request
	var tx string
	if raw, ok := fields["transaction"]; ok {
		if json.Unmarshal(raw, &tx) != nil {
			return req, fmt.Errorf("\"transaction\" must be a string of at most %d printable characters", maxTransactionLen)
		}
		if tx != "" && !validTransaction(tx) {
			return req, fmt.Errorf("\"transaction\" must be at most %d printable characters", maxTransactionLen)
		}
		req.Transaction = tx
	}
	var cmd string
	if raw, ok := fields["command"]; !ok || json.Unmarshal(raw, &cmd) != nil {
		return req, fmt.Errorf("JSON command without a \"command\" string: send {\"command\":\"unlock\",\"transaction\":\"t1\"}")
	}
	req.Command = strings.ToLower(strings.TrimSpace(cmd))
	if raw, ok := fields["code"]; ok {
		if json.Unmarshal(raw, &req.Code) != nil || len(req.Code) > maxTransactionLen {
			return req, fmt.Errorf("\"code\" must be a string")
		}
	}
	return req, nil
}

func validTransaction(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxTransactionLen {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (r *Router) answer(serial string, res Result) {
	payload, _ := json.Marshal(res)
	r.publish(state.Message{Topic: r.base + "/" + serial + "/set/result", Payload: payload})
	if r.observe != nil {
		command := res.Command
		switch command {
		case CommandLock, CommandUnlock, CommandOpen, CommandPull, CommandForceUnlock:
		default:
			command = "unknown" // a metrics label must not take any text a client sends
		}
		r.observe(command, res.OK)
	}
}

// truncate keeps an unknown command's echo short: it comes from any MQTT client.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
