// Package brokertest starts an MQTT broker for tests: a real Mosquitto process on a free loopback
// port, or — only when mosquitto is not installed and neither CI nor REQUIRE_MOSQUITTO
// is set in the environment — the embedded broker (pkg/broker), so tests still run on a laptop.
// In CI a missing mosquitto is a test failure, never a skip.
//
// Mosquitto is preferred because it is what users run in production and it is stricter than the
// embedded broker; the fallback exists only so that `go test ./...` works on a machine with nothing
// installed. An environment variable counts as set when it is non-empty.
//
// A Broker is meant to be driven from the test goroutine; its methods are nevertheless safe to call
// from several goroutines.
package brokertest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/broker"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	// KindMosquitto and KindEmbedded are the values Kind returns.
	KindMosquitto = "mosquitto"
	KindEmbedded  = "embedded"

	// RequireMosquittoEnv, when non-empty, turns a missing mosquitto into a test failure (as CI does).
	RequireMosquittoEnv = "REQUIRE_MOSQUITTO"

	// startTimeout bounds how long Start waits for the broker to accept TCP connections.
	startTimeout = 10 * time.Second
	// restartTimeout bounds how long Restart keeps retrying to bind the old port.
	restartTimeout = 5 * time.Second
	// stopTimeout bounds how long Stop waits for a killed broker to be gone.
	stopTimeout = 10 * time.Second
)

// lookupMosquitto finds the mosquitto binary. It is a variable only so this package's tests can
// simulate a machine without mosquitto; nothing outside brokertest sees it.
var lookupMosquitto = func() (string, error) {
	path, err := exec.LookPath("mosquitto")
	if err == nil {
		return path, nil
	}
	// Debian/Ubuntu install it to /usr/sbin, which is often not on a normal user's PATH.
	if p, err2 := exec.LookPath("/usr/sbin/mosquitto"); err2 == nil {
		return p, nil
	}
	return "", fmt.Errorf("look up mosquitto on PATH and at /usr/sbin/mosquitto: %w", err)
}

// Options configure StartWith.
type Options struct {
	// Persistence makes retained messages (and sessions) survive Stop+Restart, as for a production
	// mosquitto with persistence enabled. Off by default, so every test starts from an empty broker.
	//
	// mosquitto: "persistence true" with the database in the test's temp dir and autosave every
	// second; Stop additionally forces a save right before the kill (see Stop).
	// embedded: Stop snapshots the retained messages over MQTT and Restart republishes them before
	// it returns; a client that reconnects within that moment may get them as live messages rather
	// than as a retained replay.
	Persistence bool
	// Username and Password, when Username is set, are the only credentials the broker admits:
	// anonymous clients and wrong passwords are refused (mosquitto: allow_anonymous false and a
	// password file made with mosquitto_passwd; embedded: broker.Options).
	Username, Password string
}

// Broker is a running (or stopped, see Stop) MQTT broker for one test.
type Broker struct {
	opts Options
	kind string
	addr string // "127.0.0.1:<port>"; set by StartWith, then fixed across restarts
	dir  string // temp dir for config, persistence database and nothing else

	// output collects mosquitto's stdout/stderr or the embedded broker's zap log over all restarts;
	// it is printed when the test fails and included in start failures.
	output *lockedBuffer

	mu        sync.Mutex
	mosquitto *mosquittoProc // running mosquitto process; nil when stopped or embedded
	embedded  *broker.Broker // running embedded broker; nil when stopped or mosquitto
	snapshot  map[string]string
	bin       string
	conf      string
}

// Start starts a broker with default Options (no persistence) and registers tb.Cleanup to stop it.
func Start(tb testing.TB) *Broker {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith starts a broker configured by opts and registers tb.Cleanup to stop it. Under
// `go test -short` it skips the test instead: every test with a broker is an integration test,
// and -short is the quick run while working (CI runs without it, and fails on any skip).
func StartWith(tb testing.TB, opts Options) *Broker {
	tb.Helper()
	b := &Broker{opts: opts, dir: tb.TempDir(), output: new(lockedBuffer)}

	bin, lookErr := lookupMosquitto()
	switch {
	case lookErr == nil:
		b.kind, b.bin = KindMosquitto, bin
	case requireMosquitto():
		tb.Fatalf("brokertest: mosquitto is required here (%s) but was not found: %v; install it "+
			"(e.g. apt-get install mosquitto) — tests never fall back to the embedded broker in CI",
			requireReason(), lookErr)
	default:
		b.kind = KindEmbedded
		tb.Logf("brokertest: mosquitto not found (%v); using the embedded broker instead", lookErr)
	}
	if testing.Short() {
		tb.Skip("integration test with an MQTT broker; runs without -short")
	}

	// Registered before the broker starts so that whatever is running when the test ends — after
	// any number of Stop/Restart — is stopped. Cleanups run LIFO, so this runs before the TempDir
	// removal registered above, and after the cleanups of Recorders created later.
	tb.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if err := b.stopLocked(); err != nil {
			tb.Errorf("brokertest: cleanup: %v", err)
		}
		if tb.Failed() {
			tb.Logf("brokertest: %s broker output:\n%s", b.kind, b.output.String())
		}
	})

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kind == KindMosquitto {
		b.startMosquittoFresh(tb)
	} else {
		b.startEmbedded(tb, "127.0.0.1:0", 0)
		b.addr = b.embedded.Addr() // fixed from now on: Restart binds the same address
	}
	tb.Logf("brokertest: %s broker listening on %s", b.kind, b.addr)
	return b
}

// URL returns the broker URL for paho and tedee2mqtt's config: "tcp://127.0.0.1:<port>".
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Addr returns "127.0.0.1:<port>". The port stays the same across Stop and Restart.
func (b *Broker) Addr() string { return b.addr }

// Kind reports which broker is running: "mosquitto" or "embedded".
func (b *Broker) Kind() string { return b.kind }

// Stop kills the broker to simulate a crash: mosquitto gets SIGKILL (no will messages, no graceful
// DISCONNECT), the embedded broker is closed (mochi closes client connections, after a DISCONNECT for
// MQTT 5 clients). Connected clients see their connection drop. Stopping
// a stopped broker does nothing.
//
// With Persistence, mosquitto is first asked to write its database (SIGUSR1) and Stop waits for the
// write: the result is the state a crash right after an autosave would leave, without making the test
// race mosquitto's one-second autosave timer.
func (b *Broker) Stop(tb testing.TB) {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.embedded != nil && b.opts.Persistence {
		b.snapshot = Retained(tb, b.URL(), "#")
	}
	if b.mosquitto != nil && b.opts.Persistence {
		if err := b.mosquitto.flushPersistence(b.dir); err != nil {
			// Not fatal: the kill below still happens, the test may just see older state.
			tb.Logf("brokertest: %v", err)
		}
	}
	if err := b.stopLocked(); err != nil {
		tb.Fatalf("brokertest: stop: %v", err)
	}
}

// Restart starts the broker again on the same port, retrying the bind for a few seconds (the port
// must be free again, and another process could have grabbed it meanwhile). A running broker is
// stopped first, as by Stop.
func (b *Broker) Restart(tb testing.TB) {
	tb.Helper()
	if b.running() {
		b.Stop(tb)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kind == KindMosquitto {
		b.startMosquittoOnPort(tb, restartTimeout)
	} else {
		b.startEmbedded(tb, b.addr, restartTimeout)
		if len(b.snapshot) > 0 {
			PublishRetained(tb, b.URL(), b.snapshot)
		}
		b.snapshot = nil
	}
	tb.Logf("brokertest: %s broker restarted on %s", b.kind, b.addr)
}

func (b *Broker) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mosquitto != nil || b.embedded != nil
}

// stopLocked kills whatever is running. b.mu must be held.
func (b *Broker) stopLocked() error {
	if b.mosquitto != nil {
		p := b.mosquitto
		b.mosquitto = nil
		if err := p.kill(stopTimeout); err != nil {
			return fmt.Errorf("kill mosquitto (pid %d) on %s: %w", p.cmd.Process.Pid, b.addr, err)
		}
	}
	if b.embedded != nil {
		e := b.embedded
		b.embedded = nil
		if err := e.Close(); err != nil {
			return fmt.Errorf("close embedded broker on %s: %w", b.addr, err)
		}
	}
	return nil
}

// startEmbedded starts pkg/broker on addr, retrying for up to retryFor while the bind fails.
// b.mu must be held.
func (b *Broker) startEmbedded(tb testing.TB, addr string, retryFor time.Duration) {
	tb.Helper()
	// The broker's zap output goes to b.output, not to tb.Logf: mochi's connection goroutines can log
	// after the test has ended, and tb.Logf then panics.
	log := zap.New(zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.AddSync(b.output),
		zapcore.DebugLevel,
	))
	deadline := time.Now().Add(retryFor)
	for {
		e, err := broker.Start(addr, broker.Options{Username: b.opts.Username, Password: b.opts.Password}, log)
		if err == nil {
			b.embedded = e
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("brokertest: start embedded broker on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func requireMosquitto() bool { return requireReason() != "" }

// requireReason names the environment variable that makes mosquitto mandatory, or returns "".
func requireReason() string {
	for _, name := range []string{"CI", RequireMosquittoEnv} {
		if v := os.Getenv(name); v != "" {
			return name + "=" + v
		}
	}
	return ""
}

// freePort asks the kernel for a free loopback port. It is closed again before mosquitto binds it,
// so in theory another process can take it in between; startMosquittoFresh retries with a new port
// when mosquitto fails to start.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen on 127.0.0.1:0 to pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until addr accepts a TCP connection and ready() reports true, exited is closed, or
// the deadline passes.
func waitReady(addr string, ready func() bool, exited <-chan struct{}, deadline time.Time) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			if ready() {
				return nil
			}
			err = errors.New("port accepts connections, but the broker has not reported that it is running")
		}
		select {
		case <-exited:
			return errExited
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready in time: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPortFree polls until addr can be bound (and releases it again), or the deadline passes.
func waitPortFree(addr string, deadline time.Time) error {
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %s still in use: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var errExited = errors.New("broker process exited")

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of exec's output copier, zap and
// readers in failure paths.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Len returns the number of bytes written so far, for use with From.
func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// From returns everything written after the first off bytes.
func (l *lockedBuffer) From(off int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf.Bytes()[off:])
}

func (l *lockedBuffer) mark(format string, args ...any) {
	_, _ = fmt.Fprintf(l, "--- brokertest: "+format+" ---\n", args...)
}

// hostPort formats the loopback address for port.
func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
