package controller

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
)

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    request
		wantErr string
	}{
		{" Unlock\n", request{Command: "unlock"}, ""},
		{`{"command":"OPEN","transaction":"t1"}`, request{Command: "open", Transaction: "t1"}, ""},
		{`{"command":"lock","code":"1234"}`, request{Command: "lock", Code: "1234"}, ""},
		{`{"command":"lock","transaction":""}`, request{Command: "lock"}, ""},
		{`{"command":"lock"`, request{}, "not a valid JSON command"},
		{`{"transaction":"t2"}`, request{Transaction: "t2"}, `without a "command"`},
		{`{"command":1}`, request{}, `without a "command"`},
		{`{"command":"lock","transaction":7}`, request{}, `"transaction" must be a string`},
		{`{"command":"lock","transaction":"a\u0007b"}`, request{}, "printable"},
		{`{"command":"lock","transaction":"` + strings.Repeat("x", 65) + `"}`, request{}, "at most 64"},
		{strings.Repeat("x", 2000), request{}, "too long"},
	} {
		got, err := parseCommand([]byte(tt.in))
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("parseCommand(%.40q) = %+v, %v; want %+v, error containing %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// results returns the results published for a lock, in order.
func (p *published) results(serial string) []Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Result
	for _, m := range p.msgs {
		if m.Topic == "tedee/"+serial+"/set/result" {
			var r Result
			_ = json.Unmarshal(m.Payload, &r)
			out = append(out, r)
		}
	}
	return out
}

// TestRouterQueue: per lock one command runs and one waits; more are refused busy at once, and
// the waiting one is refused expired when it cannot start in time. Neither is ever executed, and
// every message on the set topic is cleared from the broker.
func TestRouterQueue(t *testing.T) {
	c, fb, pub := setup(t, Options{})
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	fb.InjectFault(1, fakebridge.FaultSlow, 1, time.Second) // the first command holds lock L-1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRouter(ctx, "tedee", []*Driver{c}, pub.Publish, nil, zap.NewNop())
	r.SetQueueTimeout(300 * time.Millisecond)

	r.Handle("tedee/L-1/set", []byte("unlock"), false)
	for i := range 3 {
		r.Handle("tedee/L-1/set", []byte(`{"command":"lock","transaction":"t`+string(rune('1'+i))+`"}`), false)
	}
	// Busy is answered at once, from within Handle.
	if got := pub.results("L-1"); len(got) != 2 || !strings.HasPrefix(got[0].Error, "busy:") ||
		got[0].Transaction != "t2" || got[1].Transaction != "t3" || got[0].OK {
		t.Fatalf("right after four commands: %+v; want t2 and t3 refused busy", got)
	}
	eventually(t, "all answered", func() bool { return len(pub.results("L-1")) == 4 })
	got := pub.results("L-1")
	if got[2].Transaction != "t1" || !strings.HasPrefix(got[2].Error, "expired:") || got[2].Via != "" {
		t.Errorf("the waiting command: %+v; want t1 expired", got[2])
	}
	if got[3].Command != "unlock" || !got[3].OK || got[3].State != "unlocked" || got[3].Via != "bridge" {
		t.Errorf("the running command: %+v; want unlock ok, state unlocked", got[3])
	}
	if ex := fb.Executions(); len(ex) != 1 || ex[0].Op != "unlock" {
		t.Errorf("executions %+v; want the unlock only", ex)
	}
	cleared := 0
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for _, m := range pub.msgs {
		if m.Topic == "tedee/L-1/set" && m.Retain && len(m.Payload) == 0 {
			cleared++
		}
	}
	if cleared != 4 {
		t.Errorf("set topic cleared %d times, want once per command (4)", cleared)
	}
}
