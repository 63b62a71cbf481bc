package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
)

const (
	fixtureSerial = "19420103-000006"
	waitTimeout   = 10 * time.Second
	testSecret    = "integration-secret-0123"
)

// syncBuffer collects the service's log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// service is tedee2mqtt's run, started in-process as main would start it.
type service struct {
	base   string // http://127.0.0.1:port
	logs   *syncBuffer
	cancel context.CancelFunc
	exited chan struct{} // closed when run returns, with its result in err
	err    error
}

func writeConfig(t *testing.T, brokerURL, extra string) (path, listen string) {
	t.Helper()
	listen = freeAddr(t)
	extra = strings.ReplaceAll(extra, "{{listen}}", listen) // for public_url
	if !strings.Contains(extra, "data_dir:") {
		extra += fmt.Sprintf("data_dir: %q\n", t.TempDir()) // state.json of its own: nothing leaks between tests
	}
	cfg := fmt.Sprintf("log:\n  level: debug\nhttp:\n  listen: %q\nmqtt:\n  url: %q\n  client_id: tedee2mqtt-%d\n%s",
		listen, brokerURL, time.Now().UnixNano(), extra)
	path = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, listen
}

func startService(t *testing.T, brokerURL, extra string, environ ...string) *service {
	t.Helper()
	return startServiceUntil(t, "/readyz", brokerURL, extra, environ...)
}

// startServiceUntil is startService, waiting for ready (a path that answers 200) instead of
// /readyz: "/healthz" for a service started while its broker is down.
func startServiceUntil(t *testing.T, ready, brokerURL, extra string, environ ...string) *service {
	t.Helper()
	path, listen := writeConfig(t, brokerURL, extra)
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{base: "http://" + listen, logs: &syncBuffer{}, cancel: cancel, exited: make(chan struct{})}
	go func() {
		s.err = run(ctx, []string{"-config", path}, io.Discard, s.logs, environ)
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("service logs:\n%s", s.logs)
		}
	})
	waitHTTP(t, s.base+ready, s.exited, func() string { return fmt.Sprintf("%v; logs:\n%s", s.err, s.logs) })
	return s
}

// stop cancels the service as SIGTERM would and waits for run to return.
func (s *service) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case <-s.exited:
		if s.err != nil {
			t.Errorf("run returned %v; logs:\n%s", s.err, s.logs)
		}
	case <-time.After(waitTimeout):
		t.Errorf("run did not return after cancel")
	}
}

// waitHTTP waits for url to answer 200, failing early if the process exits (closes exited).
func waitHTTP(t *testing.T, url string, exited <-chan struct{}, why func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("service exited before ready: %s", why())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s", url, waitTimeout)
}

func fixture(t *testing.T, file, serial string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "tedee", "testdata", "bridge", file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(strings.TrimRight(string(b), "\n"), fixtureSerial, serial)
}

// send delivers a fixture the way a bridge configured with that format would.
func send(t *testing.T, base, bridge, file, serial string, header ...string) (int, string) {
	t.Helper()
	body := fixture(t, file, serial)
	url := base + "/webhook/" + bridge
	method := http.MethodGet
	switch filepath.Ext(file) {
	case ".json":
		method = http.MethodPost
	case ".get", ".noparams":
		url += body
		body = ""
	}
	return request(t, method, url, body, header...)
}

func request(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	return httpcheck.Do(t, method, url, body, header...)
}

var eventOrder = []string{"device-connection-changed", "lock-status-changed", "device-battery-level-changed",
	"device-battery-start-charging", "device-battery-stop-charging", "device-battery-fully-charged",
	"device-settings-changed", "backend-connection-changed"}

// TestEveryEventEveryFormat sends all eight bridge events in each delivery format, each format
// for its own lock, and checks every retained topic and every event message on the broker.
func TestEveryEventEveryFormat(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	svc := startService(t, b.URL(), "bridges:\n  - name: home\n  - name: office\n")
	formats := map[string]string{".json": "POST-1", ".get": "GET-1", ".noparams": "PATH-1"}
	for ext, serial := range formats {
		bridge := "home"
		if ext == ".get" {
			bridge = "office"
		}
		for _, ev := range eventOrder {
			if status, body := send(t, svc.base, bridge, ev+ext, serial); status != http.StatusNoContent {
				t.Fatalf("%s%s: %d %s", ev, ext, status, body)
			}
		}
	}
	want := map[string]string{"tedee/status": "online", "tedee/home/connected": "true", "tedee/office/connected": "true"}
	for _, serial := range formats {
		for topic, payload := range map[string]string{"state": "locked", "jammed": "false", "door": "open",
			"battery": "100", "charging": "false", "connected": "true"} {
			want["tedee/"+serial+"/"+topic] = payload
		}
	}
	for topic, payload := range want {
		rec.WaitFor(t, topic, payload, waitTimeout)
	}
	rec.WaitUntil(t, waitTimeout, "all 21 event messages", func(msgs []brokertest.Message) bool {
		n := 0
		for _, m := range msgs {
			if strings.HasSuffix(m.Topic, "/event") {
				n++
			}
		}
		return n == 21
	})

	// What a subscriber arriving now sees: exactly these retained topics, plus one json per lock
	// and bridge. Events are not retained.
	retained := brokertest.Retained(t, b.URL(), "tedee/#")
	for topic, payload := range want {
		if retained[topic] != payload {
			t.Errorf("retained %s = %q, want %q", topic, retained[topic], payload)
		}
		delete(retained, topic)
	}
	for _, serial := range []string{"POST-1", "GET-1", "PATH-1", "home", "office"} {
		topic := "tedee/" + serial + "/json"
		var j map[string]any
		if err := json.Unmarshal([]byte(retained[topic]), &j); err != nil {
			t.Errorf("retained %s = %q: %v", topic, retained[topic], err)
			continue
		}
		delete(retained, topic)
		if strings.HasSuffix(serial, "-1") {
			checkLockJSON(t, serial, j)
		} else if j["name"] != serial || j["connected"] != true {
			t.Errorf("%s = %v", topic, j)
		}
	}
	// The operator API's own (contract §7) are there too.
	for _, topic := range []string{"tedee/bridge/info", "tedee/bridge/devices"} {
		if _, ok := retained[topic]; !ok {
			t.Errorf("no retained %s", topic)
		}
		delete(retained, topic)
	}
	if len(retained) != 0 {
		t.Errorf("unexpected retained topics: %v", retained)
	}

	// Each format produced the same event messages, in the order sent, never retained.
	var perLock = map[string][]string{}
	for _, m := range rec.Messages() {
		if !strings.HasSuffix(m.Topic, "/event") {
			continue
		}
		if m.Retained {
			t.Errorf("event message retained on %s", m.Topic)
		}
		var e struct{ Event, Serial, Bridge string }
		if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
			t.Fatalf("event payload %q: %v", m.Payload, err)
		}
		perLock[e.Serial] = append(perLock[e.Serial], e.Event)
	}
	for _, serial := range formats {
		if got, want := strings.Join(perLock[serial], ","), strings.Join(eventOrder[:7], ","); got != want {
			t.Errorf("events for %s = %s, want %s", serial, got, want)
		}
	}
}

func checkLockJSON(t *testing.T, serial string, j map[string]any) {
	t.Helper()
	want := map[string]any{"serial": serial, "id": float64(33819), "model": "lock_pro", "state": "locked",
		"jammed": false, "door": "open", "battery": float64(100), "charging": false, "connected": true,
		"timestamp": "2023-07-25T14:41:48.825Z"}
	for k, v := range want {
		if j[k] != v {
			t.Errorf("%s json %s = %v, want %v", serial, k, j[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(j["updated_at"])); err != nil {
		t.Errorf("%s json updated_at = %v: %v", serial, j["updated_at"], err)
	}
}

// TestRejectedRequestsPublishNothing: malformed input, topic injection and missing or wrong
// secrets get their 4xx and nothing reaches the broker. A valid marker event sent afterwards
// proves it: messages are delivered in order, so anything published by the rejected requests
// would have arrived before the marker's.
func TestRejectedRequestsPublishNothing(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	// The secret comes from the environment, as in a container.
	svc := startService(t, b.URL(), "bridges:\n  - name: home\n", "TEDEE2MQTT_HTTP_SECRET="+testSecret)
	auth := []string{"Authorization", "Bearer " + testSecret}
	lock := fixture(t, "lock-status-changed.json", "INJECT")
	cases := []struct {
		name, method, path, body string
		header                   []string
		status                   int
	}{
		{"malformed JSON", "POST", "/webhook/home", `{"event":"lock-status-changed",`, auth, 400},
		{"NUL in the middle", "POST", "/webhook/home", "{\"event\":\x00}", auth, 400},
		{"no secret", "POST", "/webhook/home", fixture(t, "lock-status-changed.json", "NOAUTH"), nil, 401},
		{"wrong secret", "POST", "/webhook/home", fixture(t, "lock-status-changed.json", "NOAUTH"), []string{"Authorization", "Bearer nope"}, 401},
		{"unknown bridge", "POST", "/webhook/garage", fixture(t, "lock-status-changed.json", "GARAGE"), auth, 404},
	}
	for _, serial := range []string{`a/b`, `#`, `+`, ``, strings.Repeat("x", 65), `a\u0000b`, `..`, `a b`} {
		cases = append(cases, struct {
			name, method, path, body string
			header                   []string
			status                   int
		}{"POST serial " + serial, "POST", "/webhook/home", strings.Replace(lock, `"INJECT"`, `"`+serial+`"`, 1), auth, 400})
	}
	for _, escaped := range []string{"a%2Fb", "%23", "%2B", "", strings.Repeat("x", 65), "a%00b"} {
		q := "/webhook/home?event=lock-status-changed&timestamp=2023-07-25T14:41:48.825Z&serialNumber=" + escaped + "&state=6"
		p := "/webhook/home/event=lock-status-changed/timestamp=2023-07-25T14:41:48.825Z/serialNumber=" + escaped + "/state=6"
		cases = append(cases, struct {
			name, method, path, body string
			header                   []string
			status                   int
		}{"GET serial " + escaped, "GET", q, "", auth, 400}, struct {
			name, method, path, body string
			header                   []string
			status                   int
		}{"GET+NO_PARAMS serial " + escaped, "GET", p, "", auth, 400})
	}
	for _, c := range cases {
		status, body := request(t, c.method, svc.base+c.path, c.body, c.header...)
		var e struct{ Error string }
		if status != c.status || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%s: %d %s, want %d with a JSON error", c.name, status, body, c.status)
		}
	}
	if status, body := send(t, svc.base, "home", "lock-status-changed.json", "MARKER", auth...); status != http.StatusNoContent {
		t.Fatalf("marker: %d %s", status, body)
	}
	// (The connection's republish may repeat the marker's state after it; that is harmless.)
	rec.WaitUntil(t, waitTimeout, "the marker event", func(msgs []brokertest.Message) bool {
		for _, m := range msgs {
			if m.Topic == "tedee/MARKER/event" {
				return true
			}
		}
		return false
	})
	for _, m := range rec.Messages() {
		marker := strings.HasPrefix(m.Topic, "tedee/MARKER/") || strings.Contains(m.Topic, "/tedee_MARKER_") ||
			m.Topic == "homeassistant/binary_sensor/tedee_bridge_home_cloud/config"
		// The operator API describes the service and its devices: at start, and with the marker.
		operator := m.Topic == "tedee/bridge/info" || m.Topic == "tedee/bridge/devices"
		if operator && strings.Contains(m.Payload, "a/b") {
			t.Errorf("a rejected request reached the device list: %s", m.Payload)
		}
		if m.Topic != "tedee/status" && !marker && !operator {
			t.Errorf("rejected request published %s = %q", m.Topic, m.Payload)
		}
	}
	if strings.Contains(svc.logs.String(), testSecret) {
		t.Errorf("the secret appears in the logs")
	}
}

// TestOlderEventChangesNothing: a late lock-status event after a newer one is accepted (so the
// bridge does not retry) but publishes nothing, while a late event of another kind still applies.
func TestOlderEventChangesNothing(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/#")
	svc := startService(t, b.URL(), "")
	post := func(body string) {
		t.Helper()
		if status, resp := request(t, "POST", svc.base+"/webhook", body); status != http.StatusNoContent {
			t.Fatalf("POST %s: %d %s", body, status, resp)
		}
	}
	status := func(ts string, state int) string {
		return fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":4,"deviceId":1,"serialNumber":"L-1","state":%d,"jammed":0}}`, ts, state)
	}
	post(status("2026-11-01T10:00:02.000Z", 6))
	post(status("2026-11-01T10:00:01.000Z", 2)) // older: unlocked must not win
	post(`{"event":"device-battery-level-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":4,"deviceId":1,"serialNumber":"L-1","batteryLevel":255}}`)
	rec.WaitFor(t, "tedee/L-1/battery", "unknown", waitTimeout)
	// The state may be published more than once (every connection republishes), but never as
	// the older "unlocked".
	var states []string
	for _, m := range rec.Messages() {
		if m.Topic == "tedee/L-1/state" {
			states = append(states, m.Payload)
			if m.Payload != "locked" {
				t.Errorf("state published as %q after a newer locked", m.Payload)
			}
		}
	}
	if len(states) == 0 {
		t.Errorf("state never published")
	}
	if got := brokertest.Retained(t, b.URL(), "tedee/L-1/state")["tedee/L-1/state"]; got != "locked" {
		t.Errorf("retained state = %q, want locked", got)
	}
}

// TestCancelPublishesOffline: stopping run (what SIGTERM does in main) leaves "offline" retained.
func TestCancelPublishesOffline(t *testing.T) {
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/status")
	svc := startService(t, b.URL(), "")
	rec.WaitFor(t, "tedee/status", "online", waitTimeout)
	svc.stop(t)
	rec.WaitFor(t, "tedee/status", "offline", waitTimeout)
	if got := brokertest.Retained(t, b.URL(), "tedee/status")["tedee/status"]; got != "offline" {
		t.Errorf("retained status = %q, want offline", got)
	}
}

// buildBinary builds the service's binary into the test's temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tedee2mqtt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestLogReaderGone: when whatever reads the service's log goes away (a closed pipe: SIGPIPE on
// stderr), the service goes on serving; by default Go exits on it.
func TestLogReaderGone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	b := brokertest.Start(t)
	bin := buildBinary(t)
	path, listen := writeConfig(t, b.URL(), "")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", path)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitHTTP(t, "http://"+listen+"/readyz", exited, func() string { return fmt.Sprint(waitErr) })
	r.Close() // the log reader goes away; every log line from now on meets a closed pipe
	for i := range 3 {
		if status, body := send(t, "http://"+listen, "", "lock-status-changed.json", fmt.Sprintf("PIPE-%d", i)); status != http.StatusNoContent {
			t.Fatalf("webhook %d after the log reader left: %d %s", i, status, body)
		}
	}
	select {
	case <-exited:
		t.Fatalf("the service exited when its log reader went away: %v", waitErr)
	case <-time.After(300 * time.Millisecond):
	}
	if status, _ := request(t, "GET", "http://"+listen+"/healthz", ""); status != http.StatusOK {
		t.Errorf("healthz after the log reader left: %d", status)
	}
}

// TestBinarySIGTERM builds the real binary, sends it a webhook and SIGTERM: it must deliver the
// event, publish offline and exit 0.
func TestBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	b := brokertest.Start(t)
	bin := buildBinary(t)
	path, listen := writeConfig(t, b.URL(), "")
	cmd := exec.Command(bin, "-config", path)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitHTTP(t, "http://"+listen+"/readyz", exited, func() string { return fmt.Sprintf("%v; logs:\n%s", waitErr, logs.String()) })
	if status, body := send(t, "http://"+listen, "", "lock-status-changed.json", "SIG-1"); status != http.StatusNoContent {
		t.Fatalf("webhook: %d %s", status, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v; logs:\n%s", waitErr, logs.String())
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no exit within %s of SIGTERM; logs:\n%s", waitTimeout, logs.String())
	}
	retained := brokertest.Retained(t, b.URL(), "tedee/#")
	if retained["tedee/status"] != "offline" || retained["tedee/SIG-1/state"] != "locked" {
		t.Errorf("after SIGTERM: status=%q state=%q, want offline and locked", retained["tedee/status"], retained["tedee/SIG-1/state"])
	}
}

func TestCommandLine(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("mqtt:\n  urll: x\nbridges:\n  - name: home\n    token_mode: foo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                string
		args, environ       []string
		wantErr             string
		wantOut, wantStderr string
	}{
		{name: "version", args: []string{"-version"}, wantOut: "tedee2mqtt dev (commit "},
		{name: "example config is valid", args: []string{"-check-config", "-config", "../../config.example.yaml"},
			wantOut: "../../config.example.yaml: configuration is valid\n"},
		{name: "every problem with its path", args: []string{"-check-config", "-config", bad},
			wantErr: bad + ": 2 problems", wantStderr: "mqtt.urll: unknown key (did you mean \"url\"?)\nbridges[0].token_mode: must be \"encrypted\" or \"plain\"\n"},
		{name: "env problems too", args: []string{"-check-config", "-config", "../../config.example.yaml"},
			environ: []string{"TEDEE2MQTT_MQTT_QOS=7", "TEDEE2MQTT_HTTP_SECRET=hunter2-secret"},
			wantErr: "1 problem", wantStderr: "mqtt.qos: must be 0, 1 or 2 (got 7)\n"},
		{name: "explicit missing file", args: []string{"-config", "/nonexistent/config.yaml"}, wantErr: "invalid configuration"},
		{name: "invalid config refuses to run", args: []string{"-config", bad}, wantErr: "invalid configuration (2 problems, listed above)"},
		{name: "stray argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut, tt.environ)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			if !strings.HasPrefix(out.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want prefix %q", out.String(), tt.wantOut)
			}
			if tt.wantStderr != "" && errOut.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", errOut.String(), tt.wantStderr)
			}
			if strings.Contains(out.String()+errOut.String(), "hunter2") {
				t.Errorf("a secret was printed")
			}
		})
	}
}

// TestHelp: -help lists the flags, says how the environment configures, and where the docs are.
func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-help"}, &out, &errOut, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-check-config", "-config", "TEDEE2MQTT_MQTT_URL", "_FILE", "README.md", "config.example.yaml"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("-help does not mention %s:\n%s", want, errOut.String())
		}
	}
}

// TestLogFormat: auto is console on a terminal and JSON elsewhere; json and console are what
// they say.
func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	for format, wantJSON := range map[string]bool{"auto": true, "json": true, "console": false} {
		buf.Reset()
		log, err := newLogger(config.Log{Level: "info", Format: format}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hello")
		if got := strings.HasPrefix(buf.String(), "{"); got != wantJSON {
			t.Errorf("%s to a buffer: %q", format, buf.String())
		}
	}
	if isTerminal(&buf) {
		t.Error("a buffer taken for a terminal")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !isTerminal(tty) {
			t.Error("/dev/tty not taken for a terminal")
		}
	}
}

// TestSecondInstanceFailsBeforeConnecting: a second instance on the same port and with the same
// MQTT client id fails naming the key and the variable to change, and never connects: the first
// one is not knocked off the broker (Home Assistant would see it go offline).
func TestSecondInstanceFailsBeforeConnecting(t *testing.T) {
	b := brokertest.Start(t)
	id := fmt.Sprintf("tedee2mqtt-twin-%d", time.Now().UnixNano())
	first := startService(t, b.URL(), "", "TEDEE2MQTT_MQTT_CLIENT_ID="+id)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/status")
	rec.WaitFor(t, "tedee/status", "online", waitTimeout)

	listen := strings.TrimPrefix(first.base, "http://")
	var stderr bytes.Buffer
	path, _ := writeConfig(t, b.URL(), "")
	err := run(context.Background(), []string{"-config", path}, io.Discard, &stderr,
		[]string{"TEDEE2MQTT_MQTT_CLIENT_ID=" + id, "TEDEE2MQTT_HTTP_LISTEN=" + listen})
	if err == nil || !strings.Contains(err.Error(), "TEDEE2MQTT_HTTP_LISTEN") || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("second instance: %v, want an error naming http.listen and TEDEE2MQTT_HTTP_LISTEN", err)
	}
	time.Sleep(300 * time.Millisecond) // what a kicked first instance would have published by now
	for _, m := range rec.Messages() {
		if m.Payload == "offline" {
			t.Fatalf("the first instance was knocked off the broker: %s", m)
		}
	}
}

func TestCountProblems(t *testing.T) {
	if got := countProblems(1); got != "1 problem" {
		t.Errorf("countProblems(1) = %q", got)
	}
	if got := countProblems(3); got != "3 problems" {
		t.Errorf("countProblems(3) = %q", got)
	}
}

// On two CPUs the service runs one P (see procs); elsewhere the runtime's default stands.
func TestProcs(t *testing.T) {
	for _, c := range []struct{ runtimeDefault, want int }{{1, 1}, {2, 1}, {3, 3}, {8, 8}} {
		if got := procs(c.runtimeDefault); got != c.want {
			t.Errorf("procs(%d) = %d, want %d", c.runtimeDefault, got, c.want)
		}
	}
}
