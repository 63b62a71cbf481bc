package statuspage

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// TestStreamOutlivesServerTimeouts: the webhook server's read and write timeouts (meant for
// bridges' small requests) do not cut a stream: behind a server whose timeouts are 200 ms, an
// event still arrives after a second.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	k := keeper.New(state.New("tedee", nil), nopPublisher{}, keeper.Options{})
	lockEvent(t, k, "L-1", 6, "2026-11-01T12:00:00Z")
	e := echo.New()
	page := New(Options{State: k, Heartbeat: time.Hour}, zap.NewNop())
	page.Register(e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = page.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	resp, err := http.Get("http://" + ln.Addr().String() + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	next := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("the stream ended: %v", err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				return data
			}
		}
	}
	next()
	time.Sleep(time.Second) // past both timeouts: this wait is the condition under test
	lockEvent(t, k, "L-1", 2, "2026-11-01T12:00:01Z")
	if data := next(); !strings.Contains(data, `"state":"unlocked"`) {
		t.Errorf("event after the timeouts: %s", data)
	}
}
