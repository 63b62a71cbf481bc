package fakebridge

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// told records what OnChange was told, as "op:state:door" ("-" for Update's empty op).
type told struct {
	mu  sync.Mutex
	got []string
}

func (t *told) add(c Change) {
	op := c.Op
	if op == "" {
		op = "-"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.got = append(t.got, fmt.Sprintf("%s:%d:%d", op, c.Lock.State, c.Lock.DoorState))
}

// waitFor waits until exactly want has been told, in that order.
func (t *told) waitFor(tb testing.TB, want ...string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		t.mu.Lock()
		got := slices.Clone(t.got)
		t.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) || len(got) > len(want) {
			tb.Fatalf("told %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (t *told) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.got = nil
}

func operate(tb testing.TB, url, path string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1.0/lock/"+path, strings.NewReader(""))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("api_token", "token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		tb.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// TestOnChangeTellsEachStepAndItsOperation: every status change is told once, in order, with the
// operation whose movement it is, and a refused operation or a change of something else (the
// battery) tells nothing.
func TestOnChangeTellsEachStepAndItsOperation(t *testing.T) {
	var rec told
	opts := DemoOptions("token", tedeeapi.ModePlain, 0.001)
	opts.OnChange = rec.add
	b := New(opts)
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer b.Close()

	operate(t, srv.URL, "1/unlock")
	rec.waitFor(t, "unlock:4:3", "unlock:2:3")
	rec.reset()
	operate(t, srv.URL, "1/pull")
	rec.waitFor(t, "pull:8:3", "pull:7:3", "pull:2:3")
	rec.reset()
	operate(t, srv.URL, "1/lock")
	rec.waitFor(t, "lock:5:3", "lock:6:3")
	rec.reset()

	b.Update(1, func(l *Lock) { l.Battery--; l.AutoPullSpring = true })
	b.Update(1, func(l *Lock) { l.DoorState = 2 })
	rec.waitFor(t, "-:6:2")
	rec.reset()
	operate(t, srv.URL, "1/unlock")
	rec.waitFor(t, "unlock:4:2", "unlock:2:2", "auto-pull:8:2", "auto-pull:7:2", "auto-pull:2:2")
	rec.reset()
	operate(t, srv.URL, "1/unlock?mode=4")
	rec.waitFor(t, "pull:8:2", "pull:7:2", "pull:2:2")
}

// TestOnChangeMayChangeTheBridge: OnChange can call Update (as a demo mirroring another fake
// does) without a deadlock; that change is told after the call that made it, and none is told
// after Close.
func TestOnChangeMayChangeTheBridge(t *testing.T) {
	var rec told
	var b *Bridge
	opts := DemoOptions("token", tedeeapi.ModePlain, 0.001)
	opts.OnChange = func(c Change) {
		rec.add(c)
		if c.Op == "" && c.Lock.ID == 1 && c.Lock.DoorState == 2 {
			b.Update(2, func(l *Lock) { l.State = 6 }) // the back door locks when the front opens
		}
	}
	b = New(opts)
	b.Update(1, func(l *Lock) { l.DoorState = 2 })
	rec.waitFor(t, "-:6:2", "-:6:0")
	rec.reset()

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { b.Update(2, func(l *Lock) { l.State = 2 + 4*(i%2) }) })
	}
	wg.Wait()
	b.Close()
	rec.mu.Lock()
	n := len(rec.got)
	rec.mu.Unlock()
	b.Update(2, func(l *Lock) { l.Battery--; l.State = 3 })
	time.Sleep(20 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != n {
		t.Errorf("told after Close: %q", rec.got[n:])
	}
	if n == 0 {
		t.Error("the concurrent updates told nothing")
	}
}
