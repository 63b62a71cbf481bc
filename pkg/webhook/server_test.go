package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// recorder is a fake EventHandler that records what it is given.
type recorder struct {
	mu     sync.Mutex
	events []string // "bridge event serial"
	// What HandleEvent answers: outcome (Applied when empty) and err.
	outcome state.Outcome
	err     error
}

func (r *recorder) HandleEvent(_ context.Context, bridge string, ev tedee.Event) (state.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, bridge+" "+ev.Name+" "+ev.Serial)
	if r.err != nil {
		return "", r.err
	}
	return cmp.Or(r.outcome, state.Applied), nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func start(t *testing.T, opts Options, h EventHandler) string {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 65536
	}
	srv, err := New(opts, h, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + srv.Addr().String()
}

type response struct {
	status int
	body   string
}

func do(t *testing.T, method, url, body string, header ...string) response {
	t.Helper()
	status, b := httpcheck.Do(t, method, url, body, header...)
	return response{status, b}
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tedee", "testdata", "bridge", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\n")
}

func TestDeliveryFormats(t *testing.T) {
	rec := &recorder{}
	base := start(t, Options{Bridges: []string{"home", "office"}}, rec)
	if r := do(t, "POST", base+"/webhook/home", fixture(t, "lock-status-changed.json")); r.status != 204 {
		t.Errorf("POST: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", base+"/webhook/office"+fixture(t, "lock-status-changed.get"), ""); r.status != 204 {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", base+"/webhook/home"+fixture(t, "device-battery-level-changed.noparams"), ""); r.status != 204 {
		t.Errorf("GET+NO_PARAMS: %d %s", r.status, r.body)
	}
	want := []string{"home lock-status-changed 19420103-000006", "office lock-status-changed 19420103-000006",
		"home device-battery-level-changed 19420103-000006"}
	if got := rec.got(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestDefaultBridgeWithoutConfig(t *testing.T) {
	rec := &recorder{}
	base := start(t, Options{}, rec)
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/webhook", fixture(t, "device-connection-changed.json")},
		{"GET", "/webhook" + fixture(t, "device-connection-changed.get"), ""},
		{"GET", "/webhook" + fixture(t, "device-connection-changed.noparams"), ""},
		{"POST", "/webhook/default", fixture(t, "device-connection-changed.json")},
		{"POST", "/webhook/", fixture(t, "device-connection-changed.json")},
		{"POST", "/webhook/default/", fixture(t, "device-connection-changed.json")},
	} {
		if r := do(t, req.method, base+req.path, req.body); r.status != 204 {
			t.Errorf("%s %s: %d %s", req.method, req.path, r.status, r.body)
		}
	}
	for _, e := range rec.got() {
		if !strings.HasPrefix(e, DefaultBridge+" ") {
			t.Errorf("event %q not attributed to bridge %q", e, DefaultBridge)
		}
	}
	if n := len(rec.got()); n != 6 {
		t.Errorf("%d events, want 6", n)
	}
}

func TestRejections(t *testing.T) {
	rec := &recorder{}
	base := start(t, Options{Bridges: []string{"home"}, MaxBodyBytes: 1024}, rec)
	lock := fixture(t, "lock-status-changed.json")
	inject := func(serial string) string {
		return strings.Replace(lock, "19420103-000006", serial, 1)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		errContains              string
	}{
		{"malformed JSON", "POST", "/webhook/home", `{"event":`, 400, "body is not a JSON object"},
		{"unknown bridge", "POST", "/webhook/garage", lock, 404, `unknown bridge "garage"`},
		{"slash serial", "POST", "/webhook/home", inject(`a/b`), 400, "serialNumber"},
		{"hash serial", "POST", "/webhook/home", inject(`#`), 400, "serialNumber"},
		{"plus serial", "POST", "/webhook/home", inject(`+`), 400, "serialNumber"},
		{"empty serial", "POST", "/webhook/home", inject(``), 400, "serialNumber"},
		{"long serial", "POST", "/webhook/home", inject(strings.Repeat("x", 65)), 400, "serialNumber"},
		{"GET slash serial", "GET", "/webhook/home?event=lock-status-changed&timestamp=2023-07-25T14:41:48.825Z&serialNumber=a%2Fb&state=6", "", 400, "serialNumber"},
		{"path hash serial", "GET", "/webhook/home/event=lock-status-changed/timestamp=2023-07-25T14:41:48.825Z/serialNumber=%23/state=6", "", 400, "serialNumber"},
		{"too large", "POST", "/webhook/home", lock + strings.Repeat(" ", 2000), 413, "body larger than 1024 bytes"},
		{"POST with path", "POST", "/webhook/home/event=x", lock, 404, "POST webhooks go to"},
		{"other route", "GET", "/nothing", "", 404, "not found"},
		{"wrong method", "PUT", "/webhook/home", lock, 405, "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, base+tt.path, tt.body)
			var body struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", r.body, err)
			}
			if r.status != tt.status || !strings.Contains(body.Error, tt.errContains) {
				t.Errorf("got %d %q, want %d containing %q", r.status, body.Error, tt.status, tt.errContains)
			}
		})
	}
	if got := rec.got(); len(got) != 0 {
		t.Errorf("rejected requests reached the handler: %q", got)
	}
}

func TestSecret(t *testing.T) {
	rec := &recorder{}
	base := start(t, Options{Bridges: []string{"home"}, Secret: "s3cret-token"}, rec)
	body := fixture(t, "lock-status-changed.json")
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret-token"},
		{"Authorization", "Bearer s3cret-token-longer"}, {"Authorization", "Basic s3cret-token"}} {
		if r := do(t, "POST", base+"/webhook/home", body, h...); r.status != 401 || !strings.Contains(r.body, "bearer token") {
			t.Errorf("header %q: %d %s, want 401", h, r.status, r.body)
		}
	}
	// Unknown bridges answer 401 too: without the secret nothing is revealed.
	if r := do(t, "POST", base+"/webhook/garage", body); r.status != 401 {
		t.Errorf("unknown bridge without secret: %d, want 401", r.status)
	}
	if len(rec.got()) != 0 {
		t.Fatalf("unauthorized requests reached the handler: %q", rec.got())
	}
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} { // the scheme is case-insensitive
		if r := do(t, "POST", base+"/webhook/home", body, "Authorization", scheme+" s3cret-token"); r.status != 204 {
			t.Errorf("right secret with scheme %q: %d %s", scheme, r.status, r.body)
		}
	}
}

func TestHandlerOutcomes(t *testing.T) {
	for _, tt := range []struct {
		outcome state.Outcome
		err     error
		status  int
	}{
		{state.Applied, nil, 204}, {state.Stale, nil, 204}, {state.UnknownEvent, nil, 204},
		{"", state.ErrTooManyLocks, 503}, {"", fmt.Errorf("boom"), 500},
	} {
		base := start(t, Options{}, &recorder{outcome: tt.outcome, err: tt.err})
		if r := do(t, "POST", base+"/webhook", fixture(t, "lock-status-changed.json")); r.status != tt.status {
			t.Errorf("handler %q %v: status %d, want %d", tt.outcome, tt.err, r.status, tt.status)
		}
	}
}

func TestHealth(t *testing.T) {
	var ready bool
	var mu sync.Mutex
	base := start(t, Options{Ready: func() bool { mu.Lock(); defer mu.Unlock(); return ready }}, &recorder{})
	if r := do(t, "GET", base+"/healthz", ""); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	if r := do(t, "GET", base+"/readyz", ""); r.status != 503 {
		t.Errorf("readyz while not ready: %d", r.status)
	}
	mu.Lock()
	ready = true
	mu.Unlock()
	if r := do(t, "GET", base+"/readyz", ""); r.status != 200 {
		t.Errorf("readyz while ready: %d", r.status)
	}
}

// TestRunStopsPromptly: cancelling the context stops Run with no error.
func TestRunStopsPromptly(t *testing.T) {
	srv, err := New(Options{Listen: "127.0.0.1:0", MaxBodyBytes: 1024}, &recorder{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
