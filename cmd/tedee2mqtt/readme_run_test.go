package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// These tests run the README's shell lines as written, with bash, in the repository's root unless
// said otherwise. The only changes are substitutions (see substitute): free loopback ports for the
// README's 8080, 8081 and 1883, built binaries for `go run`, and a temporary root for /etc and
// /usr/local; and flags that make a line end (-W for a subscriber) where the README's runs until
// Ctrl-C.

const repoRoot = "../.."

// shell runs a line with bash in dir, with environ added to the test's environment, and returns
// what it printed (stdout then stderr) and its error. A line that runs longer than timeout is killed.
func shell(t *testing.T, dir, line string, timeout time.Duration, environ ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustShell is shell, failing the test when the line fails.
func mustShell(t *testing.T, dir, line string, environ ...string) string {
	t.Helper()
	out, errOut, err := shell(t, dir, line, 2*time.Minute, environ...)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", line, err, out, errOut)
	}
	return out
}

// background starts a line with bash (which execs a simple command, so the process is the
// command's) and stops it at the end of the test. Its output is in the returned buffer.
func background(t *testing.T, dir, line string, environ ...string) *syncBuffer {
	t.Helper()
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), environ...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("output of %s:\n%s", line, out)
		}
	})
	return out
}

// waitOutput waits until out contains want.
func waitOutput(t *testing.T, what string, out *syncBuffer, want string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(out.String(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within %s in:\n%s", what, want, timeout, out)
		}
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the README's lines (apt-get install mosquitto-clients curl): %v", tool, err)
		}
	}
}

// matchLines reports whether got are the lines the README shows, in any order (retained messages
// come in the broker's order): "…" in a README line stands for anything, and so does the value of
// updated_at, which differs at every run.
func matchLines(got, readme []string) bool {
	if len(got) != len(readme) {
		return false
	}
	used := make([]bool, len(got))
	for _, r := range readme {
		parts := strings.Split(updatedAt.ReplaceAllString(r, `"updated_at":"…"`), "…")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		found := false
		for i, g := range got {
			if !used[i] && re.MatchString(g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var updatedAt = regexp.MustCompile(`"updated_at":"[^"]*"`)

// waitRetainedContains waits until the retained message of topic contains want.
func waitRetainedContains(t *testing.T, url, topic, want string) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(100 * time.Millisecond) {
		got := brokertest.Retained(t, url, topic)[topic]
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained %s = %q, want it to contain %q", topic, got, want)
		}
	}
}

// TestReadmeWorkedExample runs "A worked example": the webhook with curl, then mosquitto_sub shows
// exactly the README's retained messages (updated_at aside), and the GET formats are accepted.
func TestReadmeWorkedExample(t *testing.T) {
	b := brokertest.Start(t)
	needTools(t, "curl", "mosquitto_sub")
	svc := startService(t, b.URL(), "")
	post := readmeCommand(t, readmePostWebhook)
	out := mustShell(t, repoRoot, substitute(t, post.text, "http://localhost:8080", svc.base))
	if first, _, _ := strings.Cut(out, "\r\n"); first != post.output[0] {
		t.Errorf("%s printed %q first, the README shows %q", post.key, first, post.output[0])
	}

	// What the operator API publishes after a change is debounced: a reader types the next line
	// more slowly than this.
	waitRetainedContains(t, b.URL(), "tedee/status", "online")
	waitRetainedContains(t, b.URL(), "tedee/bridge/devices", `"serial":"19420103-000006"`)
	sub := readmeCommand(t, readmeSubAll)
	// -W 3: the README's subscriber runs until Ctrl-C; this one ends after 3 s.
	got, errOut, err := shell(t, repoRoot, sub.text+" -p "+port(t, b.Addr())+" -W 3", time.Minute)
	if err != nil && !strings.Contains(errOut, "Timed out") {
		t.Fatalf("%s: %v %s", sub.key, err, errOut)
	}
	if !matchLines(strings.Split(strings.TrimSpace(got), "\n"), sub.output) {
		t.Errorf("%s printed\n%s\nthe README shows\n%s", sub.key, got, strings.Join(sub.output, "\n"))
	}

	for _, key := range []string{readmeGetWebhook, readmeNoParamsWebhook} {
		line := readmeCommand(t, key)
		out := mustShell(t, repoRoot, substitute(t, line.text, "http://localhost:8080", svc.base))
		if first, _, _ := strings.Cut(out, "\r\n"); first != post.output[0] {
			t.Errorf("%s printed %q first, want %q", key, first, post.output[0])
		}
	}
}

// TestReadmeWebhooksOnly runs "Webhooks only": the curl line registers the callback on a bridge
// (a fake one, plain token), and the webhooks the bridge then sends to it, with the header it
// registered, reach the broker through the route the README's configuration makes.
func TestReadmeWebhooksOnly(t *testing.T) {
	b := brokertest.Start(t)
	needTools(t, "curl")
	const token, secret = "readme-token-1", "readme-http-secret-0123"
	fb := fakebridge.New(fakebridge.Options{Token: token, TokenMode: tedeeapi.ModePlain, Name: "Bridge", Serial: "10000009-000009",
		Locks: []fakebridge.Lock{{ID: 7, Name: "Door", Type: 2, Serial: "RW-1", State: 6, DoorState: 3, Battery: 80, Connected: true}}})
	t.Cleanup(fb.Close)
	srv := httptest.NewServer(fb)
	t.Cleanup(srv.Close)
	bridgeAddr := strings.TrimPrefix(srv.URL, "http://")
	// The README's configuration for this section: http.secret_file and a bridge named home.
	secretFile := filepath.Join(t.TempDir(), "http_secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := startService(t, b.URL(), "bridges:\n  - name: home\n", "TEDEE2MQTT_HTTP_SECRET_FILE="+secretFile)
	host := strings.TrimPrefix(svc.base, "http://")

	line := substitute(t, readmeCommand(t, readmeRegisterCallback).text, "<bridge ip>", bridgeAddr, "<token>", token,
		"<tedee2mqtt host>:8080", host, "<the secret in http_secret>", secret)
	mustShell(t, repoRoot, line+" --fail-with-body -sS")
	cbs := fb.Callbacks()
	if len(cbs) != 1 || cbs[0].URL != svc.base+"/webhook/home" || cbs[0].Method != "POST" {
		t.Fatalf("callbacks after the README's curl: %+v", cbs)
	}
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/RW-1/state")
	fb.Update(7, func(l *fakebridge.Lock) { l.State = 2 }) // the bridge sends lock-status-changed
	rec.WaitFor(t, "tedee/RW-1/state", "unlocked", waitTimeout)
}

// TestReadmeFakeBridgeWalkthrough runs "Trying it without a bridge" in its four terminals: the fake
// bridge, the service pointed at it (its embedded broker), a subscriber, and the open command,
// whose answer and moves the subscriber shows.
func TestReadmeFakeBridgeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	needTools(t, "mosquitto_sub", "mosquitto_pub")
	dir := t.TempDir() // the service's ./data
	fakeBin := filepath.Join(dir, "fakebridge")
	if out, err := exec.Command("go", "build", "-o", fakeBin, "../fakebridge").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fakebridge: %v\n%s", err, out)
	}
	serviceBin := buildBinary(t)
	bridgeAddr, listen, broker := freeAddr(t), freeAddr(t), freeAddr(t)

	background(t, dir, substitute(t, readmeCommand(t, readmeFakeBridge).text,
		"go run ./cmd/fakebridge", fakeBin, "127.0.0.1:8081", bridgeAddr))
	// Its defaults moved to free ports: the webhook port (so public_url's 8080 too) and the
	// embedded broker's 1883.
	logs := background(t, dir, substitute(t, readmeCommand(t, readmeServiceOnFakeBridge).text,
		"go run ./cmd/tedee2mqtt", serviceBin, "127.0.0.1:8081", bridgeAddr, "http://127.0.0.1:8080", "http://"+listen),
		"TEDEE2MQTT_HTTP_LISTEN="+listen, "TEDEE2MQTT_MQTT_EMBEDDED_LISTEN="+broker)
	waitOutput(t, "the service", logs, "listening for webhooks", waitTimeout)

	p := " -p " + port(t, broker)
	sub := background(t, dir, readmeCommand(t, readmeSubAll).text+p)
	waitOutput(t, "the subscriber", sub, "tedee/20000001-000001/state locked", waitTimeout)
	mustShell(t, dir, readmeCommand(t, readmeOpenCommand).text+p)
	waitOutput(t, "the subscriber", sub, `tedee/20000001-000001/set/result {"command":"open","ok":true`, 30*time.Second)
	waitOutput(t, "the subscriber", sub, "tedee/20000001-000001/state pulling", time.Second)
}

// TestReadmeOperatorAndStatusPage runs the operator API's health check and the status page's two
// curl lines against a running service.
func TestReadmeOperatorAndStatusPage(t *testing.T) {
	b := brokertest.Start(t)
	needTools(t, "curl", "mosquitto_rr")
	svc := startService(t, b.URL(), "")
	postAll(t, svc.base, lockEvent("RS-1", time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), 6, 80)...)

	out := mustShell(t, repoRoot, readmeCommand(t, readmeHealthCheck).text+" -p "+port(t, b.Addr())+" -W 10")
	var resp struct{ Status, Transaction string }
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Status != "ok" || resp.Transaction != "h1" {
		t.Errorf("%s printed %q (%v), want an ok answer to h1", readmeHealthCheck, out, err)
	}

	out = mustShell(t, repoRoot, substitute(t, readmeCommand(t, readmeAPIState).text, "http://127.0.0.1:8080", svc.base))
	if !json.Valid([]byte(out)) || !strings.Contains(out, `"RS-1"`) {
		t.Errorf("%s printed %q, want the state as JSON with lock RS-1", readmeAPIState, out)
	}
	// --max-time: the README's stream runs until Ctrl-C (curl then says 28, timed out).
	events := substitute(t, readmeCommand(t, readmeAPIEvents).text, "http://127.0.0.1:8080", svc.base) + " --max-time 2"
	out, _, err := shell(t, repoRoot, events, time.Minute)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 28 || !strings.Contains(out, "event: state") || !strings.Contains(out, "RS-1") {
		t.Errorf("%s: %v, printed %q; want a stream of state events, cut by --max-time", readmeAPIEvents, err, out)
	}
}

// TestReadmeCheckConfig runs the "Configuration" section's -check-config on the bad.yaml of
// testdata/readme, and finds exactly the output the README shows.
func TestReadmeCheckConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	line := readmeCommand(t, readmeCheckConfig)
	out, errOut, err := shell(t, "testdata/readme", substitute(t, line.text, "tedee2mqtt ", buildBinary(t)+" "), time.Minute)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("%s: %v, want exit status 1", line.key, err)
	}
	if got := strings.Split(strings.TrimSpace(out+errOut), "\n"); !slices.Equal(got, line.output) {
		t.Errorf("%s printed\n%s\nthe README shows\n%s", line.key, strings.Join(got, "\n"), strings.Join(line.output, "\n"))
	}
}

// TestReadmeCloudSettings runs the Tedee Cloud API section's settings/set line against an account
// on the fake cloud (whose Lock PRO stands for the README's serial) and finds the answer it
// describes.
func TestReadmeCloudSettings(t *testing.T) {
	b := brokertest.Start(t)
	needTools(t, "mosquitto_pub")
	_, url := startFakeCloud(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/"+proSerial+"/#")
	svc := startService(t, b.URL(), cloudConfig(url))
	// Once the account knows the device list: the lock's settings are published a moment before
	// the list is kept, and a write in between is refused (pkg/account, devices.go).
	waitOutput(t, "the service", svc.logs, "read the Tedee Cloud's device list", waitTimeout)
	line := substitute(t, readmeCommand(t, readmeCloudSettingsSet).text, "19420103-000006", proSerial)
	mustShell(t, repoRoot, line+" -p "+port(t, b.Addr()))
	rec.WaitUntil(t, 30*time.Second, "the settings/set result", func([]brokertest.Message) bool {
		_, ok := rec.Last("tedee/" + proSerial + "/settings/set/result")
		return ok
	})
	m, _ := rec.Last("tedee/" + proSerial + "/settings/set/result")
	var res struct {
		OK          bool
		Transaction string
		Settings    map[string]any
	}
	if err := json.Unmarshal([]byte(m.Payload), &res); err != nil || !res.OK || res.Transaction != "s1" ||
		res.Settings["auto_lock"] != true || res.Settings["auto_lock_delay"] != float64(30) {
		t.Errorf("settings/set/result %s (%v); want ok, transaction s1 and the settings written", m.Payload, err)
	}
}
