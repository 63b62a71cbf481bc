package tedeeapi_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

const token = "BE9xnPnGfVUS"

func fakeLocks() []fakebridge.Lock {
	return []fakebridge.Lock{
		{ID: 1, Name: "Front", Type: 2, Serial: "20000001-000001", Firmware: "2.0.1", State: 6, Battery: 90, Connected: true,
			PullSpringEnabled: true, PullSpringDuration: 1, DoorState: 3},
		{ID: 2, Name: "Back", Type: 4, Serial: "20000002-000002", State: 2, Battery: 255, Connected: false},
	}
}

func start(t *testing.T, opts fakebridge.Options) (*fakebridge.Bridge, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	if opts.Locks == nil {
		opts.Locks = fakeLocks()
	}
	opts.Name, opts.Serial, opts.Firmware = "Bridge-1", "10000001-000001", "2.2.31232"
	if opts.TimeScale == 0 {
		opts.TimeScale = 0.01
	}
	fb := fakebridge.New(opts)
	srv := httptest.NewServer(fb)
	t.Cleanup(func() { srv.Close(); fb.Close() })
	return fb, srv.URL
}

func client(url string, mode string, minInterval time.Duration) *tedeeapi.Client {
	return tedeeapi.New(tedeeapi.Options{Bridge: "home", BaseURL: url, Token: token, TokenMode: mode,
		MinInterval: minInterval, Attempts: 3}, zap.NewNop())
}

func TestTokenModes(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{tedeeapi.ModeEncrypted, tedeeapi.ModePlain} {
		_, url := start(t, fakebridge.Options{TokenMode: mode})
		b, err := client(url, mode, time.Millisecond).Bridge(ctx)
		if err != nil || b.SerialNumber != "10000001-000001" || b.IsConnected == nil || !bool(*b.IsConnected) {
			t.Errorf("%s: Bridge() = %+v, %v", mode, b, err)
		}
		other := tedeeapi.ModePlain
		if mode == tedeeapi.ModePlain {
			other = tedeeapi.ModeEncrypted
		}
		_, err = client(url, other, time.Millisecond).Bridge(ctx)
		if !tedeeapi.IsStatus(err, http.StatusUnauthorized) || !strings.Contains(err.Error(), "token_mode") {
			t.Errorf("%s bridge, %s client: err = %v, want a 401 hinting at token_mode", mode, other, err)
		}
	}
}

// TestEncryptedKeyNeverReused: with a frozen clock every request would get the same key; the
// client moves the stamp forward, so the bridge (which accepts a key once) takes them all.
func TestEncryptedKeyNeverReused(t *testing.T) {
	frozen := time.Now()
	_, url := start(t, fakebridge.Options{Now: func() time.Time { return frozen }})
	c := tedeeapi.New(tedeeapi.Options{BaseURL: url, Token: token, MinInterval: time.Millisecond,
		Now: func() time.Time { return frozen }}, zap.NewNop())
	for i := 0; i < 5; i++ {
		if _, err := c.Bridge(context.Background()); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

func TestDocumentedKeyExample(t *testing.T) {
	// tedee-api.md §1.2: token BE9xnPnGfVUS at 1691058833000.
	want := "e59d9763edc6e59f2faccf9a769e5cf170d68439c3fd67afae5e3e72d0463a711691058833000"
	if got := tedeeapi.EncryptedKey("BE9xnPnGfVUS", 1691058833000); got != want {
		t.Errorf("EncryptedKey = %s, want %s", got, want)
	}
}

// TestWireFormat reads the raw request: the header name is exactly "api_token" (not Go's
// canonical "Api_token"), and a POST carries Content-Length even without a body.
func TestWireFormat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		var head strings.Builder
		for {
			line, err := r.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		raw <- head.String()
		_, _ = conn.Write([]byte("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"))
	}()
	if err := client("http://"+ln.Addr().String(), tedeeapi.ModeEncrypted, time.Millisecond).LockLock(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	head := <-raw
	if !strings.HasPrefix(head, "POST /v1.0/lock/7/lock HTTP/1.1\r\n") {
		t.Errorf("request line: %q", head)
	}
	if !strings.Contains(head, "\r\napi_token: ") {
		t.Errorf("no literal api_token header in %q", head)
	}
	if !strings.Contains(head, "\r\nContent-Length: 0\r\n") {
		t.Errorf("no Content-Length: 0 in %q", head)
	}
}

// TestOneRequestAtATime: concurrent callers are serialised and spaced by MinInterval.
func TestOneRequestAtATime(t *testing.T) {
	fb, url := start(t, fakebridge.Options{})
	c := client(url, tedeeapi.ModeEncrypted, 100*time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := c.Locks(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	reqs := fb.Requests()
	if len(reqs) != 6 || fb.Overlaps() != 0 {
		t.Fatalf("%d requests, %d overlapping; want 6 and none", len(reqs), fb.Overlaps())
	}
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].Start.Sub(reqs[i-1].End); gap < 100*time.Millisecond {
			t.Errorf("request %d started %s after request %d ended; want at least 100ms", i, gap, i-1)
		}
	}
}

// TestRetries: 409 Busy and network errors are retried with a fresh key each time; other errors
// are not.
func TestRetries(t *testing.T) {
	skipShort(t)
	var mu sync.Mutex
	var keys []string
	answers := []int{409, 409, 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("api_token"))
		status := answers[min(len(keys)-1, len(answers)-1)]
		mu.Unlock()
		if r.URL.Path == "/v1.0/lock" && status == 200 {
			w.Write([]byte(`[]`))
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"error-description":"Busy"}`))
	}))
	defer srv.Close()
	c := client(srv.URL, tedeeapi.ModeEncrypted, time.Millisecond)
	if _, _, err := c.Locks(context.Background()); err != nil {
		t.Fatalf("after two 409s: %v", err)
	}
	if len(keys) != 3 || keys[0] == keys[1] || keys[1] == keys[2] {
		t.Errorf("attempts sent keys %q; want 3 different", keys)
	}

	// 404 is final.
	mu.Lock()
	keys, answers = nil, []int{404}
	mu.Unlock()
	if _, err := c.Lock(context.Background(), 3); !tedeeapi.IsStatus(err, 404) || len(keys) != 1 {
		t.Errorf("404: err=%v after %d attempts; want one attempt", err, len(keys))
	}

	// A refused connection is retried, then reported.
	dead := client("http://127.0.0.1:1", tedeeapi.ModeEncrypted, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := dead.Bridge(ctx); err == nil || !strings.Contains(err.Error(), "GET /bridge") {
		t.Errorf("unreachable bridge: err = %v", err)
	}
}

func TestLockOperationsAndErrors(t *testing.T) {
	skipShort(t)
	// Real-time movements (1.5s), so the lock is reliably still moving when asked again.
	fb, url := start(t, fakebridge.Options{TimeScale: 1})
	c := client(url, tedeeapi.ModeEncrypted, time.Millisecond)
	ctx := context.Background()
	if err := c.Unlock(ctx, 1, tedeeapi.UnlockWithoutPull); err != nil {
		t.Fatal(err)
	}
	if s := fb.Lock(1).State; s != 4 {
		t.Errorf("right after unlock, state = %d, want 4 (unlocking)", s)
	}
	if err := c.LockLock(ctx, 1); !tedeeapi.IsStatus(err, 406) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("lock while unlocking: err = %v, want 406 mentioning %q", err, "refused")
	}
	waitState(t, fb, 1, 2)
	if err := c.Pull(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if ex := fb.Executions(); len(ex) != 2 || ex[0].Op != "unlock" || ex[1].Op != "pull" {
		t.Errorf("executions %+v; want unlock, then pull", ex)
	}

	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		hint   string
	}{
		{"unknown lock", func() error { return c.LockLock(ctx, 99) }, 404, "no such lock"},
		{"disconnected lock", func() error { return c.LockLock(ctx, 2) }, 405, "disconnected"},
		{"invalid mode", func() error { return c.Unlock(ctx, 1, 1) }, 403, "invalid parameter"},
	} {
		err := tt.call()
		if !tedeeapi.IsStatus(err, tt.status) || !strings.Contains(err.Error(), tt.hint) {
			t.Errorf("%s: err = %v, want %d mentioning %q", tt.name, err, tt.status, tt.hint)
		}
	}
}

func waitState(t *testing.T, fb *fakebridge.Bridge, id int64, state int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for fb.Lock(id).State != state {
		if time.Now().After(deadline) {
			t.Fatalf("lock %d state = %d, want %d", id, fb.Lock(id).State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallbacks(t *testing.T) {
	fb, url := start(t, fakebridge.Options{})
	c := client(url, tedeeapi.ModeEncrypted, time.Millisecond)
	ctx := context.Background()
	id, err := c.AddCallback(ctx, tedeeapi.Callback{URL: "http://127.0.0.1:9/webhook/home", Method: "GET",
		Headers: []map[string]string{{"Authorization": "Bearer x"}}})
	if err != nil || id == 0 {
		t.Fatalf("AddCallback = %d, %v", id, err)
	}
	cbs, err := c.Callbacks(ctx)
	if err != nil || len(cbs) != 1 || cbs[0].ID != id || cbs[0].Method != "GET" || cbs[0].Headers[0]["Authorization"] != "Bearer x" {
		t.Fatalf("Callbacks = %+v, %v", cbs, err)
	}
	cbs[0].Method = "POST"
	if err := c.UpdateCallback(ctx, cbs[0]); err != nil || fb.Callbacks()[0].Method != "POST" {
		t.Errorf("UpdateCallback: %v, %+v", err, fb.Callbacks())
	}
	if err := c.DeleteCallback(ctx, id); err != nil || len(fb.Callbacks()) != 0 {
		t.Errorf("DeleteCallback: %v, %+v", err, fb.Callbacks())
	}
	if fb.ReplaceAllCalls() != 0 {
		t.Errorf("PUT /callback was called")
	}
}

// opRequests counts the requests the fake received for one lock operation.
func opRequests(fb *fakebridge.Bridge, path string) int {
	n := 0
	for _, r := range fb.Arrivals() {
		if r.Method == http.MethodPost && r.Path == path {
			n++
		}
	}
	return n
}

// TestLockOperationsNeverRepeated: once a lock operation may have reached the bridge, it is
// never sent again: a lost answer (timeout or dropped connection, after or before the bridge
// executed it) is reported as ErrAnswerLost after exactly one request. 409 Busy, which the
// bridge answers without executing, is retried until the operation runs once.
func TestLockOperationsNeverRepeated(t *testing.T) {
	skipShort(t)
	for _, tt := range []struct {
		name      string
		fault     fakebridge.Fault
		count     int
		wantErr   error
		requests  int
		execution int
	}{
		{"answer after the client's timeout", fakebridge.FaultLateAnswer, 1, tedeeapi.ErrAnswerLost, 1, 1},
		{"connection dropped after executing", fakebridge.FaultDropAfterExecute, 1, tedeeapi.ErrAnswerLost, 1, 1},
		{"connection dropped before executing", fakebridge.FaultDropBeforeExecute, 1, tedeeapi.ErrAnswerLost, 1, 0},
		{"409 busy twice", fakebridge.FaultBusy, 2, nil, 3, 1},
		{"slow but within the timeout", fakebridge.FaultSlow, 1, nil, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fb, url := start(t, fakebridge.Options{})
			delay := 100 * time.Millisecond
			if tt.fault == fakebridge.FaultLateAnswer {
				delay = 0 // held until the client gives up
			}
			fb.InjectFault(1, tt.fault, tt.count, delay)
			c := tedeeapi.New(tedeeapi.Options{BaseURL: url, Token: token, MinInterval: time.Millisecond, Attempts: 3,
				Timeout: 500 * time.Millisecond}, zap.NewNop())
			err := c.Unlock(context.Background(), 1, tedeeapi.UnlockWithoutPull)
			if (tt.wantErr == nil && err != nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n := opRequests(fb, "/v1.0/lock/1/unlock"); n != tt.requests {
				t.Errorf("%d unlock requests, want %d", n, tt.requests)
			}
			if n := len(fb.Executions()); n != tt.execution {
				t.Errorf("%d executions, want %d", n, tt.execution)
			}
		})
	}
}

// TestLockOperationRetriedWhenNeverSent: a refused connection (nothing was written) is the one
// network error after which a lock operation is sent again.
func TestLockOperationRetriedWhenNeverSent(t *testing.T) {
	fb, url := start(t, fakebridge.Options{})
	var dials atomic.Int32
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			// A real refusal: a port nothing listens on.
			return dialer.DialContext(ctx, network, "127.0.0.1:1")
		}
		return dialer.DialContext(ctx, network, addr)
	}}
	c := tedeeapi.New(tedeeapi.Options{BaseURL: url, Token: token, MinInterval: time.Millisecond,
		HTTPClient: &http.Client{Transport: transport}}, zap.NewNop())
	if err := c.LockLock(context.Background(), 1); err == nil {
		t.Fatal("locking a locked lock succeeded; the fake should refuse it") // state 6
	}
	if err := c.Unlock(context.Background(), 1, tedeeapi.UnlockWithoutPull); err != nil {
		t.Fatalf("unlock after a refused connection: %v", err)
	}
	if dials.Load() < 2 || len(fb.Executions()) != 1 {
		t.Errorf("%d dials, %d executions; want the refused one retried and one execution", dials.Load(), len(fb.Executions()))
	}
}

// TestReadsRetriedAfterDrop: a read is harmless to repeat, so a dropped connection is retried.
func TestReadsRetriedAfterDrop(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	if _, _, err := client(srv.URL, tedeeapi.ModeEncrypted, time.Millisecond).Locks(context.Background()); err != nil || n.Load() != 2 {
		t.Errorf("GET /lock after a drop: err = %v after %d requests; want success after 2", err, n.Load())
	}
}

// TestStartBy: a call that cannot be sent by its start-by time, because another request holds the
// bridge or the rate limit forbids it, fails with ErrNotStarted and never reaches the bridge.
func TestStartBy(t *testing.T) {
	fb, url := start(t, fakebridge.Options{})
	// Executed at once, answered after 500ms: the request holds the bridge meanwhile.
	fb.InjectFault(1, fakebridge.FaultLateAnswer, 1, 500*time.Millisecond)
	c := client(url, tedeeapi.ModeEncrypted, 300*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- c.Unlock(context.Background(), 1, tedeeapi.UnlockWithoutPull) }()
	for len(fb.Executions()) == 0 {
		time.Sleep(time.Millisecond) // until the unlock holds the bridge
	}
	ctx := tedeeapi.StartBy(context.Background(), time.Now().Add(100*time.Millisecond))
	if _, err := c.Lock(ctx, 2); !errors.Is(err, tedeeapi.ErrNotStarted) {
		t.Errorf("behind a slow request: err = %v, want ErrNotStarted", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Just after a request, the rate limit (300ms here) forbids sending within 100ms.
	ctx = tedeeapi.StartBy(context.Background(), time.Now().Add(100*time.Millisecond))
	if _, err := c.Lock(ctx, 2); !errors.Is(err, tedeeapi.ErrNotStarted) {
		t.Errorf("within the rate limit: err = %v, want ErrNotStarted", err)
	}
	for _, r := range fb.Arrivals() {
		if r.Path == "/v1.0/lock/2" {
			t.Errorf("a call past its start-by time reached the bridge")
		}
	}
	// With time enough it is sent.
	ctx = tedeeapi.StartBy(context.Background(), time.Now().Add(time.Second))
	if _, err := c.Lock(ctx, 2); err != nil {
		t.Errorf("with time enough: %v", err)
	}
}

// skipShort skips a test that waits out the bridge's real pacing (a second between requests)
// under go test -short; CI runs it.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("waits out the bridge's request pacing; runs without -short")
	}
}
