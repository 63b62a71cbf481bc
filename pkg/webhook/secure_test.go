package webhook

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// startLogged is start with the server's log lines (all levels) recorded.
func startLogged(t *testing.T, opts Options, h EventHandler) (string, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	opts.Listen = "127.0.0.1:0"
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 65536
	}
	srv, err := New(opts, h, zap.New(core))
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
	return "http://" + srv.Addr().String(), logs
}

// A bridge whose callback tedee2mqtt registers has a secret of its own; its route refuses
// webhooks without it, while a webhooks-only bridge without a secret stays open, with a warning.
func TestBridgeSecrets(t *testing.T) {
	rec := &recorder{}
	base, logs := startLogged(t, Options{Bridges: []string{"home", "garage"},
		BridgeSecrets: map[string]string{"home": "derived-home-secret"}}, rec)
	body := fixture(t, "lock-status-changed.json")
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Bearer derived-home-secret-x"}} {
		if r := do(t, "POST", base+"/webhook/home", body, h...); r.status != 401 {
			t.Errorf("home with header %q: %d %s, want 401", h, r.status, r.body)
		}
	}
	// The GET formats are refused alike (a web page could send them from a browser).
	if r := do(t, "GET", base+"/webhook/home"+fixture(t, "lock-status-changed.get"), ""); r.status != 401 {
		t.Errorf("GET to home without its secret: %d, want 401", r.status)
	}
	if len(rec.got()) != 0 {
		t.Fatalf("unauthorized webhooks reached the handler: %q", rec.got())
	}
	if r := do(t, "POST", base+"/webhook/home", body, "Authorization", "Bearer derived-home-secret"); r.status != 204 {
		t.Errorf("home with its secret: %d %s", r.status, r.body)
	}
	// Another bridge's secret is not this one's.
	if r := do(t, "POST", base+"/webhook/garage", body); r.status != 204 {
		t.Errorf("garage (no secret): %d %s", r.status, r.body)
	}
	// An unknown name is not told apart from a known one whose secret is missing.
	if r := do(t, "POST", base+"/webhook/attic", body); r.status != 401 {
		t.Errorf("unknown bridge: %d, want 401", r.status)
	}
	warned := logs.FilterMessageSnippet("without a secret").All()
	if len(warned) != 1 || warned[0].Level != zapcore.WarnLevel ||
		!strings.Contains(warned[0].Message, "forge lock states") {
		t.Fatalf("startup warnings about open routes: %v", warned)
	}
	if got := warned[0].ContextMap()["bridges"]; len(got.([]any)) != 1 || got.([]any)[0] != "garage" {
		t.Errorf("warning names bridges %v, want [garage]", got)
	}
}

// http.secret applies to every bridge without a secret of its own; then no route is open and
// nothing is warned about.
func TestGlobalSecretLeavesNoOpenRoute(t *testing.T) {
	base, logs := startLogged(t, Options{Bridges: []string{"home", "garage"}, Secret: "global-secret",
		BridgeSecrets: map[string]string{"home": "global-secret"}}, &recorder{})
	body := fixture(t, "lock-status-changed.json")
	for _, b := range []string{"home", "garage"} {
		if r := do(t, "POST", base+"/webhook/"+b, body); r.status != 401 {
			t.Errorf("%s without the secret: %d, want 401", b, r.status)
		}
		if r := do(t, "POST", base+"/webhook/"+b, body, "Authorization", "Bearer global-secret"); r.status != 204 {
			t.Errorf("%s with the secret: %d %s", b, r.status, r.body)
		}
	}
	if n := logs.FilterMessageSnippet("without a secret").Len(); n != 0 {
		t.Errorf("%d warnings about open routes, want none", n)
	}
}

// The cloud route's path is its secret: however a sender spells the path, the secret is in no
// log line at any level.
func TestCloudSecretNeverLogged(t *testing.T) {
	const secret = "Cl0udPathSecret-abcdef"
	base, logs := startLogged(t, Options{Bridges: []string{"home"}, CloudPathSecret: secret, Cloud: &cloudRecorder{}}, &recorder{})
	pct := func(s string) string { // every byte percent-encoded
		var b strings.Builder
		for i := range len(s) {
			b.WriteString("%" + strings.ToUpper(hex2(s[i])))
		}
		return b.String()
	}
	paths := []string{
		"/webhook/cloud/" + secret,
		"//webhook/cloud/" + secret,
		"/webhook//cloud/" + secret,
		"/webhook/cloud//" + secret,
		"/webhook/cloud/" + secret + "/",
		"/webhook/cloud/" + secret + "/extra",
		"/webhook/CLOUD/" + secret,
		"/webhook/%63loud/" + secret,
		"/webhook/cloud%2F" + secret,
		"/webhook/cloud/" + pct(secret),
		"/webhook/cloud/%25" + strings.TrimPrefix(pct(secret), "%"), // encoded twice, first byte
		"/webhook/cloud/" + pct(secret) + "%zz",
		"/./webhook/cloud/" + secret,
		"/webhook/home/" + secret,
		"/" + secret,
		"/webhook/" + pct(secret),
	}
	for _, p := range paths {
		for _, method := range []string{"GET", "POST"} {
			rawRequest(t, base, method, p)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no log lines recorded: the test would pass whatever is logged")
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.ToLower(strings.TrimSpace(toString(v)))
		}
		low := strings.ToLower(line)
		if strings.Contains(low, strings.ToLower(secret)) || strings.Contains(low, strings.ToLower(pct(secret[:8]))) {
			t.Errorf("secret logged: %s", line)
		}
	}
}

// rawRequest sends a request line exactly as given (net/http would clean some spellings).
func rawRequest(t *testing.T, base, method, path string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for { // read the whole answer, so that the request has been logged
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

func toString(v any) string { return fmt.Sprint(v) }

// cloudRecorder is a CloudHandler that accepts everything.
type cloudRecorder struct{}

func (cloudRecorder) HandleCloudEvent(context.Context, tedee.CloudEvent, string) (state.Outcome, error) {
	return state.Applied, nil
}

// What a web page a LAN user opens can send (a cross-site GET or simple POST, with the headers
// browsers add) is refused even on a route without a secret; the bridge's own requests are not.
func TestBrowserRequestsRefused(t *testing.T) {
	rec := &recorder{}
	base := start(t, Options{Bridges: []string{"home"}}, rec)
	body := fixture(t, "lock-status-changed.json")
	get := "/webhook/home" + fixture(t, "lock-status-changed.get")
	for _, h := range [][]string{
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"},
		{"Sec-Fetch-Mode", "navigate"},
	} {
		if r := do(t, "POST", base+"/webhook/home", body, append(h, "Content-Type", "text/plain")...); r.status != 403 {
			t.Errorf("POST with %q: %d %s, want 403", h, r.status, r.body)
		}
		if r := do(t, "GET", base+get, "", h...); r.status != 403 {
			t.Errorf("GET with %q: %d %s, want 403", h, r.status, r.body)
		}
	}
	if len(rec.got()) != 0 {
		t.Fatalf("browser requests reached the handler: %q", rec.got())
	}
	if r := do(t, "POST", base+"/webhook/home", body); r.status != 204 {
		t.Errorf("the bridge's own POST: %d %s", r.status, r.body)
	}
}
