package operator

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

type sent struct {
	mu   sync.Mutex
	msgs []state.Message
}

func (s *sent) publish(msgs ...state.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
}

func (s *sent) on(topic string) []state.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Message
	for _, m := range s.msgs {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

type noOwner struct{}

func (noOwner) Changed() <-chan struct{}    { return make(chan struct{}) }
func (noOwner) Catalog() uint64             { return 0 }
func (noOwner) Locks() []state.LockJSON     { return nil }
func (noOwner) Bridges() []state.BridgeJSON { return nil }
func (noOwner) Remove(string)               {}

// TestReplayedRequestRefused: a request the broker replays with the retain flag (at a
// (re)connection) is refused and cleared; it never runs.
func TestReplayedRequestRefused(t *testing.T) {
	out := &sent{}
	o := New(context.Background(), Options{Base: "tedee", Owner: noOwner{}, Publish: out.publish}, zap.NewNop())
	o.Handle("tedee/bridge/request/device/remove", []byte(`{"transaction":"t","serial":"L-1"}`), true)
	if c := out.on("tedee/bridge/request/device/remove"); len(c) != 1 || len(c[0].Payload) != 0 || !c[0].Retain {
		t.Errorf("not cleared: %v", c)
	}
	r := out.on("tedee/bridge/response/device/remove")
	if len(r) != 1 || !strings.Contains(string(r[0].Payload), "retained request ignored") || r[0].Retain {
		t.Fatalf("answer: %v", r)
	}
}

// TestResponseTopicIsBounded: a client names the op, and so the response topic: nothing but the
// known ops and simple words gets through.
func TestResponseTopicIsBounded(t *testing.T) {
	out := &sent{}
	o := New(context.Background(), Options{Base: "tedee", Owner: noOwner{}, Publish: out.publish}, zap.NewNop())
	o.Handle("tedee/bridge/request/"+strings.Repeat("x", 100), []byte(`{"transaction":"t"}`), false)
	o.Handle("tedee/bridge/request/a b", []byte(`{"transaction":"`+strings.Repeat("é", 100)+`"}`), false)
	if r := out.on("tedee/bridge/response/invalid"); len(r) != 2 {
		t.Fatalf("answers on response/invalid: %v (all: %v)", r, out.msgs)
	}
	var resp Response
	if err := json.Unmarshal(out.on("tedee/bridge/response/invalid")[1].Payload, &resp); err != nil || len(resp.Transaction) > 64 {
		t.Errorf("transaction not bounded: %q %v", resp.Transaction, err)
	}
}
