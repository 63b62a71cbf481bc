package controller

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

type published struct {
	mu   sync.Mutex
	msgs []state.Message
}

func (p *published) Restate(msgs ...state.Message) { p.Publish(msgs...) }

func (p *published) Publish(msgs ...state.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
}

func (p *published) topics() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for _, m := range p.msgs {
		out[m.Topic] = string(m.Payload)
	}
	return out
}

func setup(t *testing.T, opts Options) (*Driver, *fakebridge.Bridge, *published) {
	t.Helper()
	fb := fakebridge.New(fakebridge.Options{Token: "tok", Name: "B", Serial: "10000001-000001", TimeScale: 0.01,
		Locks: []fakebridge.Lock{
			{ID: 1, Type: 2, Serial: "L-1", State: 6, Battery: 50, Connected: true},
			{ID: 2, Type: 4, Serial: "L-2", State: 2, Battery: 60, Connected: true},
		}})
	srv := httptest.NewServer(fb)
	t.Cleanup(func() { srv.Close(); fb.Close() })
	api := tedeeapi.New(tedeeapi.Options{BaseURL: srv.URL, Token: "tok", MinInterval: 5 * time.Millisecond}, zap.NewNop())
	pub := &published{}
	opts.Bridge = "home"
	store := state.New("tedee", &homeassistant.Options{Prefix: "homeassistant", Base: "tedee"})
	return New(opts, api, keeper.New(store, pub, keeper.Options{}), zap.NewNop()), fb, pub
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCallbackSelfHealing: the periodic check re-adds a registration the bridge lost, repairs one
// changed behind our back, removes duplicates of ours, and leaves other integrations' alone.
func TestCallbackSelfHealing(t *testing.T) {
	c, fb, _ := setup(t, Options{PublicURL: "http://127.0.0.1:8080/", CallbackMethod: "GET", Secret: "s",
		CallbackCheckInterval: 50 * time.Millisecond})
	foreign := fb.AddCallback(tedeeapi.Callback{URL: "http://127.0.0.1:8123/api/webhook/x", Method: "POST"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)

	ours := func() []tedeeapi.Callback {
		var out []tedeeapi.Callback
		for _, cb := range fb.Callbacks() {
			if cb.URL == "http://127.0.0.1:8080/webhook/home" {
				out = append(out, cb)
			}
		}
		return out
	}
	eventually(t, "registered", func() bool { return len(ours()) == 1 })
	if cb := ours()[0]; cb.Method != "GET" || cb.Headers[0]["Authorization"] != "Bearer s" {
		t.Errorf("registered %+v", cb)
	}
	fb.DropCallbacks()
	eventually(t, "re-added after the bridge lost it", func() bool { return len(ours()) == 1 })

	fb.AddCallback(tedeeapi.Callback{URL: "http://127.0.0.1:8080/webhook/home", Method: "POST"}) // a duplicate
	eventually(t, "duplicate removed", func() bool { return len(ours()) == 1 })

	fb.AddCallback(tedeeapi.Callback{URL: "http://127.0.0.1:8123/api/webhook/x", Method: "POST"})
	time.Sleep(200 * time.Millisecond)
	var foreignCount int
	for _, cb := range fb.Callbacks() {
		if strings.Contains(cb.URL, ":8123/") {
			foreignCount++
		}
	}
	if foreignCount != 1 || fb.ReplaceAllCalls() != 0 {
		t.Errorf("foreign callbacks: %d (want the re-added one only, id %d gone with the reset), PUT /callback: %d",
			foreignCount, foreign, fb.ReplaceAllCalls())
	}
}

// TestEverySyncVerifiesTheCallback: with the periodic check far away, a registration the bridge
// lost comes back with the next sync.
func TestEverySyncVerifiesTheCallback(t *testing.T) {
	c, fb, _ := setup(t, Options{PublicURL: "http://127.0.0.1:8080", PollInterval: 100 * time.Millisecond,
		CallbackCheckInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	registered := func() bool { return len(fb.Callbacks()) == 1 }
	eventually(t, "registered", registered)
	fb.DropCallbacks()
	eventually(t, "re-added by a sync", registered)
}

// TestLockRemovedAfterTwoSyncs: a lock the bridge stops listing is removed, but only when two
// syncs in a row miss it.
func TestLockRemovedAfterTwoSyncs(t *testing.T) {
	c, _, pub := setup(t, Options{})
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if pub.topics()["tedee/L-2/state"] != "unlocked" {
		t.Fatalf("sync did not publish L-2: %v", pub.topics())
	}
	// A lock known through this bridge (as a webhook would make it) that the bridge does not list,
	// like one unpaired in the app.
	err := c.core.Snapshot("home", state.LockSnapshot{ID: 9, Serial: "GONE-1", DeviceType: 2}, time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, removed := pub.topics()["homeassistant/lock/tedee_GONE-1_lock/config"]; !removed {
		t.Fatal("config of GONE-1 was never published")
	}
	if pub.topics()["homeassistant/lock/tedee_GONE-1_lock/config"] == "" {
		t.Fatal("removed after a single sync")
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := pub.topics()
	if got["homeassistant/lock/tedee_GONE-1_lock/config"] != "" || got["tedee/GONE-1/json"] != "" {
		t.Errorf("GONE-1 not removed after two syncs")
	}
	if c.Owns("GONE-1") || !c.Owns("L-1") {
		t.Errorf("ownership wrong after removal")
	}
}

// TestHealth: what the operator API and the status page show of a bridge follows its syncs and
// callback checks, and says why when they fail.
func TestHealth(t *testing.T) {
	c, _, _ := setup(t, Options{PublicURL: "http://127.0.0.1:8080"})
	h := c.Health()
	if h.API || h.LastSync != nil || h.Callback != "unchecked" || h.ClockSkewMs != nil {
		t.Fatalf("before anything: %+v", h)
	}
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.NewTimer(time.Hour)
	defer t0.Stop()
	c.ensureCallbackLogged(ctx, t0)
	h = c.Health()
	if !h.API || h.LastSync == nil || h.Callback != "registered" || h.ClockSkewMs == nil || h.LastError != "" {
		t.Fatalf("after a sync and a callback check: %+v", h)
	}
	if abs := *h.ClockSkewMs; abs > 5000 || abs < -5000 {
		t.Errorf("clock skew %d ms against a fake on our clock", abs)
	}

	bad, _, _ := setup(t, Options{})
	bad.api = tedeeapi.New(tedeeapi.Options{BaseURL: "http://127.0.0.1:1", Token: "tok", Attempts: 1}, zap.NewNop())
	if err := bad.Sync(ctx); err == nil {
		t.Fatal("a sync against nothing succeeded")
	}
	if h := bad.Health(); h.API || h.LastError == "" || h.Callback != "not_configured" {
		t.Errorf("after a failed sync: %+v", h)
	}
}
