package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
)

// TestSubmit: a command submitted directly (the status page) shares the MQTT commands' queue:
// behind a running and a waiting command it is refused busy and never executed; alone it runs,
// and its result is both returned and published on the result topic.
func TestSubmit(t *testing.T) {
	c, fb, pub := setup(t, Options{})
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	fb.InjectFault(1, fakebridge.FaultSlow, 1, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRouter(ctx, "tedee", []*Driver{c}, pub.Publish, nil, zap.NewNop())

	r.Handle("tedee/L-1/set", []byte("unlock"), false) // runs (slowly)
	r.Handle("tedee/L-1/set", []byte("lock"), false)   // waits
	res, err := r.Submit(ctx, "L-1", "open")
	if err != nil || res.OK || !strings.HasPrefix(res.Error, "busy:") || res.Command != "open" {
		t.Fatalf("Submit behind two commands = %+v, %v; want refused busy", res, err)
	}
	eventually(t, "the MQTT commands answered", func() bool { return len(pub.results("L-1")) == 3 })

	res, err = r.Submit(ctx, "L-1", "unlock")
	if err != nil || !res.OK || res.State != "unlocked" || res.Via != "bridge" {
		t.Fatalf("Submit(unlock) = %+v, %v; want ok, unlocked", res, err)
	}
	if got := pub.results("L-1"); len(got) != 4 || got[3] != res {
		t.Errorf("published results %+v; the last should be %+v", got, res)
	}
	for _, ex := range fb.Executions() {
		if ex.Op == "open" {
			t.Errorf("the busy open was executed: %+v", fb.Executions())
		}
	}

	if _, err := r.Submit(ctx, "../x", "lock"); !errors.Is(err, ErrInvalidSerial) {
		t.Errorf("Submit with a bad serial: %v; want ErrInvalidSerial", err)
	}
	if res, err := r.Submit(ctx, "L-1", "dance"); err != nil || res.OK || !strings.Contains(res.Error, "unknown command") {
		t.Errorf("Submit(dance) = %+v, %v; want unknown command", res, err)
	}
}
