package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Response is the payload of <base>/bridge/response/<op>.
type Response struct {
	Status      string `json:"status"` // ok or error
	Data        any    `json:"data,omitempty"`
	Error       string `json:"error,omitempty"`
	Transaction string `json:"transaction,omitempty"`
}

// ops are the requests answered; each gets the request's JSON and returns the response's data.
var ops = map[string]func(o *Operator, ctx context.Context, req request) (any, error){
	"sync":            (*Operator).sync,
	"health_check":    (*Operator).healthCheck,
	"callback/repair": (*Operator).repairCallback,
	"device/remove":   (*Operator).removeDevice,
}

// request is an operator request's JSON.
type request struct {
	Transaction string `json:"transaction"`
	Bridge      string `json:"bridge"` // sync, callback/repair: one bridge; empty: all
	Serial      string `json:"serial"` // device/remove
}

// requestTimeout bounds a request: a sync of a bridge that does not answer gives up in time.
const requestTimeout = time.Minute

// Filters are the topic filters to subscribe Handle to.
func (o *Operator) Filters() []string {
	return []string{o.opts.Base + "/bridge/request/#", o.opts.Base + "/+/get"}
}

// Handle takes a message on one of Filters. It returns at once; a request runs in the background
// and is answered on its response topic.
func (o *Operator) Handle(topic string, payload []byte, retained bool) {
	if op, ok := strings.CutPrefix(topic, o.opts.Base+"/bridge/request/"); ok {
		o.handleRequest(topic, op, payload, retained)
		return
	}
	serial, ok := strings.CutPrefix(topic, o.opts.Base+"/")
	serial, ok2 := strings.CutSuffix(serial, "/get")
	if ok && ok2 && tedee.ValidSerial(serial) {
		o.handleGet(topic, serial, retained)
	}
}

// handleGet reads one lock again through the bridge that reports it.
func (o *Operator) handleGet(topic, serial string, retained bool) {
	if retained {
		o.opts.Publish(state.Message{Topic: topic, Retain: true}) // a replayed get would read again at every connection
		return
	}
	for _, b := range o.opts.Bridges {
		if b.Owns(serial) {
			b.Refresh(serial)
			return
		}
	}
	o.log.Info("get for a lock no configured bridge reports; nothing to read", zap.String("serial", serial))
}

func (o *Operator) handleRequest(topic, op string, payload []byte, retained bool) {
	if len(payload) == 0 {
		return // a cleared retained request, possibly our own clearing
	}
	respond := func(res Response) {
		data, _ := json.Marshal(res)
		o.opts.Publish(state.Message{Topic: o.opts.Base + "/bridge/response/" + safeOp(op), Payload: data})
	}
	var req request
	if err := json.Unmarshal(payload, &req); err != nil {
		o.opts.Publish(state.Message{Topic: topic, Retain: true})
		respond(Response{Status: "error", Error: fmt.Sprintf("the request is not a JSON object: %v; send e.g. {\"transaction\":\"t1\"}", err)})
		return
	}
	req.Transaction = transaction(req.Transaction)
	// Whatever arrives is cleared from the broker, so that it can never replay: a retained
	// request published while we are subscribed arrives without the retain flag (MQTT 3.1.1).
	o.opts.Publish(state.Message{Topic: topic, Retain: true})
	if retained {
		respond(Response{Status: "error", Transaction: req.Transaction,
			Error: "retained request ignored: publish requests without the retain flag, so that they never replay"})
		return
	}
	run, ok := ops[op]
	if !ok {
		respond(Response{Status: "error", Transaction: req.Transaction,
			Error: fmt.Sprintf("unknown request %q; the requests are sync, health_check, callback/repair and device/remove", safeOp(op))})
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(o.ctx, requestTimeout)
		defer cancel()
		data, err := run(o, ctx, req)
		if err != nil {
			o.log.Info("operator request failed", zap.String("op", op), zap.Error(err))
			respond(Response{Status: "error", Data: data, Error: err.Error(), Transaction: req.Transaction})
			return
		}
		respond(Response{Status: "ok", Data: data, Transaction: req.Transaction})
	}()
}

// bridges returns the named bridge's controller, or all of them for "".
func (o *Operator) bridges(name string) ([]Bridge, error) {
	if len(o.opts.Bridges) == 0 {
		return nil, errors.New("no Bridge API configured (set bridges[].host and token)")
	}
	if name == "" {
		return o.opts.Bridges, nil
	}
	for _, b := range o.opts.Bridges {
		if b.Bridge() == name {
			return []Bridge{b}, nil
		}
	}
	return nil, fmt.Errorf("no bridge named %q with the Bridge API configured", truncate(name))
}

// each runs f on the requested bridges and reports, per bridge, "ok" or the error.
func (o *Operator) each(ctx context.Context, name string, f func(Bridge) error) (any, error) {
	targets, err := o.bridges(name)
	if err != nil {
		return nil, err
	}
	results := map[string]string{}
	var failed []string
	for _, b := range targets {
		if err := f(b); err != nil {
			results[b.Bridge()] = err.Error()
			failed = append(failed, b.Bridge())
			continue
		}
		results[b.Bridge()] = "ok"
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("failed for %s", strings.Join(failed, ", "))
	}
	return results, nil
}

func (o *Operator) sync(ctx context.Context, req request) (any, error) {
	return o.each(ctx, req.Bridge, func(b Bridge) error { return b.Sync(ctx) })
}

func (o *Operator) repairCallback(ctx context.Context, req request) (any, error) {
	return o.each(ctx, req.Bridge, func(b Bridge) error { return b.EnsureCallback(ctx) })
}

// healthCheck reports the broker and every bridge; healthy when all are.
func (o *Operator) healthCheck(context.Context, request) (any, error) {
	info := o.info()
	healthy := info.Broker
	for _, h := range info.Bridges {
		healthy = healthy && h.API && h.Callback != "failed"
	}
	return map[string]any{"healthy": healthy, "broker_connected": info.Broker, "bridges": info.Bridges}, nil
}

func (o *Operator) removeDevice(_ context.Context, req request) (any, error) {
	if !tedee.ValidSerial(req.Serial) {
		return nil, errors.New(`name the lock: {"serial":"<serial>"}`)
	}
	known := false
	for _, l := range o.opts.Owner.Locks() {
		known = known || l.Serial == req.Serial
	}
	if !known {
		return nil, fmt.Errorf("no lock %s is known", req.Serial)
	}
	o.opts.Owner.Remove(req.Serial)
	return map[string]string{"serial": req.Serial}, nil
}

// transaction keeps a client's transaction id short and printable: it is echoed.
func transaction(t string) string {
	t = truncate(t)
	for _, r := range t {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return t
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// safeOp is an op as it may appear in a response topic: a client names it, so only the known
// words and simple segments pass; anything else is answered on .../response/invalid.
func safeOp(op string) string {
	if _, ok := ops[op]; ok {
		return op
	}
	if len(op) <= 32 && tedee.ValidSerial(strings.ReplaceAll(op, "/", "_")) {
		return op
	}
	return "invalid"
}
