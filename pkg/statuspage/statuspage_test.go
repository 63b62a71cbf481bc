package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

const password = "correct horse battery"

type nopPublisher struct{}

func (nopPublisher) Publish(...state.Message) {}
func (nopPublisher) Restate(...state.Message) {}

// commander records the commands submitted and answers each ok.
type commander struct {
	mu   sync.Mutex
	sent []string
}

func (c *commander) Submit(_ context.Context, serial, command string) (controller.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, serial+" "+command)
	return controller.Result{Command: command, OK: true, Via: "bridge", State: "locked"}, nil
}

func (c *commander) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sent...)
}

func lockEvent(t *testing.T, k *keeper.Keeper, serial string, st int, at string) {
	t.Helper()
	ev, err := tedee.DecodeJSON([]byte(`{"event":"lock-status-changed","timestamp":"` + at +
		`","data":{"deviceType":2,"serialNumber":"` + serial + `","state":` + string(rune('0'+st)) + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.BridgeEvent("home", ev, time.Now()); err != nil {
		t.Fatal(err)
	}
}

type page struct {
	url    string
	keeper *keeper.Keeper
	cmds   *commander
	cancel context.CancelFunc
	// tlsClient trusts the server's certificate (when started with TLS).
	tlsClient *http.Client
}

func startPage(t *testing.T, opts Options, tls bool) *page {
	t.Helper()
	k := keeper.New(state.New("tedee", nil), nopPublisher{}, keeper.Options{})
	lockEvent(t, k, "L-1", 6, "2026-11-01T12:00:00Z")
	p := &page{keeper: k, cmds: &commander{}}
	opts.State = k
	if opts.Commands == nil {
		opts.Commands = p.cmds
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	e := echo.New()
	page := New(opts, zap.NewNop())
	page.Register(e)
	go func() { _ = page.Run(ctx) }()
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(e)
	} else {
		srv = httptest.NewServer(e)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	p.url, p.tlsClient = srv.URL, srv.Client()
	return p
}

func request(t *testing.T, client *http.Client, method, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), password) {
		t.Errorf("%s %s answered with the password: %s", method, url, b)
	}
	return resp, string(b)
}

// TestStateView: the state lists every lock and every configured bridge, even one that has
// not reported, with its API health.
func TestStateView(t *testing.T) {
	last := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	p := startPage(t, Options{Bridges: []string{"home"}, Version: "v9", Allowed: func(_, cmd string) bool { return cmd != "open" },
		Health: func() []BridgeHealth {
			return []BridgeHealth{{Bridge: "home", API: true, LastSync: &last, Callback: "registered"}}
		}}, false)
	resp, body := request(t, nil, "GET", p.url+"/api/state", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /api/state: %d %v", resp.StatusCode, resp.Header)
	}
	var v view
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Locks) != 1 || v.Locks[0].Serial != "L-1" || *v.Locks[0].State != "locked" || v.Version != "v9" ||
		strings.Join(v.Locks[0].Commands, " ") != "lock unlock" {
		t.Errorf("locks: %s", body)
	}
	if len(v.Bridges) != 1 || v.Bridges[0].Name != "home" || v.Bridges[0].Health == nil ||
		v.Bridges[0].Health.Callback != "registered" || !v.Bridges[0].Health.LastSync.Equal(last) {
		t.Errorf("bridges: %s", body)
	}
	resp, body = request(t, nil, "GET", p.url+"/", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<script src="app.js"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET /: %d %v", resp.StatusCode, resp.Header)
	}
}

// stream reads state events from /api/events.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

func openStream(t *testing.T, url string) *stream {
	t.Helper()
	resp, err := http.Get(url + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/events: %d %v", resp.StatusCode, resp.Header)
	}
	return &stream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next state event's view.
func (s *stream) next(t *testing.T) view {
	t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var v view
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			return v
		}
	}
}

// heartbeat reads up to the next heartbeat, failing on a state event before it.
func (s *stream) heartbeat(t *testing.T) {
	t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		if strings.HasPrefix(line, ": heartbeat") {
			return
		}
		if strings.HasPrefix(line, "data: ") {
			t.Fatalf("a state event with nothing changed: %s", line)
		}
	}
}

// TestEventsFollowChanges: a stream starts with the state and sends it again after a change,
// with heartbeats in between while nothing changes.
func TestEventsFollowChanges(t *testing.T) {
	p := startPage(t, Options{Heartbeat: 50 * time.Millisecond}, false)
	s := openStream(t, p.url)
	if v := s.next(t); len(v.Locks) != 1 || *v.Locks[0].State != "locked" {
		t.Fatalf("first event: %+v", v)
	}
	s.heartbeat(t) // idle: a heartbeat, not the same state again
	lockEvent(t, p.keeper, "L-1", 2, "2026-11-01T12:00:01Z")
	if v := s.next(t); len(v.Locks) != 1 || *v.Locks[0].State != "unlocked" {
		t.Errorf("after the change: %+v", v)
	}
}

// TestEventsBoundedAndClosedOnShutdown: streams beyond MaxClients get 503; a stream ends when
// the service stops, which frees nothing less than its slot.
func TestEventsBoundedAndClosedOnShutdown(t *testing.T) {
	p := startPage(t, Options{MaxClients: 1}, false)
	s := openStream(t, p.url)
	s.next(t)
	if resp, body := request(t, nil, "GET", p.url+"/api/events", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a second stream: %d %s; want 503", resp.StatusCode, body)
	}
	p.cancel()
	ended := make(chan error, 1)
	go func() { _, err := io.ReadAll(s.r); ended <- err }()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("stream ended with %v; want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was still open after shutdown")
	}
}

// TestReadOnly: without a password there is nothing to sign in to and no command is taken.
func TestReadOnly(t *testing.T) {
	p := startPage(t, Options{}, false)
	if _, body := request(t, nil, "GET", p.url+"/api/session", ""); body != `{"controls":false,"signed_in":false}`+"\n" {
		t.Errorf("session: %s", body)
	}
	if resp, _ := request(t, nil, "POST", p.url+"/api/login", `{"password":"x"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("login: %d; want 404", resp.StatusCode)
	}
	if resp, _ := request(t, nil, "POST", p.url+"/api/locks/L-1/unlock", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("command: %d; want 403", resp.StatusCode)
	}
	if got := p.cmds.got(); len(got) != 0 {
		t.Errorf("commands submitted: %v", got)
	}
}
