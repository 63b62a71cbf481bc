package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const waitTimeout = 10 * time.Second

// testLogger collects the broker's log in memory and prints it only if the test failed. zaptest's
// logger would be simpler, but mochi's connection goroutines can still log after Close returns, and
// t.Logf after the test has finished panics.
func testLogger(t *testing.T) *zap.Logger {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("broker log:\n%s", buf.String())
		}
	})
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	ws := zapcore.AddSync(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	return zap.New(zapcore.NewCore(enc, ws, zapcore.DebugLevel))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func startBroker(t *testing.T) *Broker {
	t.Helper()
	b, err := Start("127.0.0.1:0", Options{}, testLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func connect(t *testing.T, addr, clientID string, opts func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(clientID).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second)
	if opts != nil {
		opts(o)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: timed out or failed: %v", clientID, addr, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

func TestStartReportsBoundAddress(t *testing.T) {
	b := startBroker(t)
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil {
		t.Fatalf("Addr() = %q: %v", b.Addr(), err)
	}
	if host != "127.0.0.1" || port == "0" || port == "" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 with a real port", b.Addr())
	}
}

func TestRetainedMessageReachesLaterSubscriber(t *testing.T) {
	b := startBroker(t)

	pub := connect(t, b.Addr(), "publisher", nil)
	tok := pub.Publish("tedee/lock/1/state", 1, true, "locked")
	if !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("publish: timed out or failed: %v", tok.Error())
	}
	// The QoS 1 PUBACK means the broker has stored the message; disconnect so the subscriber cannot be
	// getting it as a live forward.
	pub.Disconnect(250)

	got := make(chan paho.Message, 10)
	sub := connect(t, b.Addr(), "subscriber", nil)
	tok = sub.Subscribe("tedee/#", 1, func(_ paho.Client, m paho.Message) { got <- m })
	if !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("subscribe: timed out or failed: %v", tok.Error())
	}

	select {
	case m := <-got:
		if m.Topic() != "tedee/lock/1/state" || string(m.Payload()) != "locked" || !m.Retained() {
			t.Fatalf("got topic=%q payload=%q retained=%v, want tedee/lock/1/state \"locked\" retained",
				m.Topic(), m.Payload(), m.Retained())
		}
	case <-time.After(waitTimeout):
		t.Fatal("subscriber did not receive the retained message")
	}
}

func TestCloseTwice(t *testing.T) {
	b := startBroker(t)
	addr := b.Addr()
	if err := b.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close must release the port, so a restarted service (or test) can bind it again.
	b2, err := Start(addr, Options{}, testLogger(t))
	if err != nil {
		t.Fatalf("Start on %s after Close: %v", addr, err)
	}
	if err := b2.Close(); err != nil {
		t.Fatalf("Close restarted broker: %v", err)
	}
}

func TestCloseDisconnectsClients(t *testing.T) {
	b := startBroker(t)
	lost := make(chan error, 1)
	connect(t, b.Addr(), "victim", func(o *paho.ClientOptions) {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	})
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-lost:
	case <-time.After(waitTimeout):
		t.Fatal("client was not disconnected by Close")
	}
}

func TestStartAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()

	b, err := Start(ln.Addr().String(), Options{}, zap.NewNop())
	if err == nil {
		_ = b.Close()
		t.Fatalf("Start on %s (in use) succeeded, want an error", ln.Addr())
	}
	if !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("error %q does not name the address", err)
	}
}

func TestNilLogger(t *testing.T) {
	b, err := Start("127.0.0.1:0", Options{}, nil)
	if err != nil {
		t.Fatalf("Start with nil logger: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestSlogLevelMapping(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := newSlogLogger(zap.New(core)).With("listener", "tcp").WithGroup("g")

	log.Debug("event loop started")
	log.Info("attached listener", "address", "127.0.0.1:1883")
	log.Warn("", "error", errors.New("EOF"))
	log.Error("publish packet error", "n", 3, slog.Group("sub", "ok", true))

	entries := logs.AllUntimed()
	want := []struct {
		level zapcore.Level
		msg   string
	}{
		{zapcore.DebugLevel, "mqtt: event loop started"},
		{zapcore.DebugLevel, "mqtt: attached listener"},
		{zapcore.InfoLevel, "mqtt: client connection ended with error"},
		{zapcore.ErrorLevel, "mqtt: publish packet error"},
	}
	if len(entries) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		if entries[i].Level != w.level || entries[i].Message != w.msg {
			t.Errorf("entry %d = %v %q, want %v %q", i, entries[i].Level, entries[i].Message, w.level, w.msg)
		}
	}
	ctx := entries[2].ContextMap()
	if ctx["listener"] != "tcp" {
		t.Errorf("WithAttrs field lost: %v", ctx)
	}
	if g, ok := ctx["g"].(map[string]any); !ok || g["error"] != "EOF" {
		t.Errorf("error not recorded under group g: %v", ctx)
	}

	// Levels below the zap logger's level must be reported as disabled, so mochi skips building them.
	quiet := newSlogLogger(zap.New(core).WithOptions(zap.IncreaseLevel(zapcore.InfoLevel)))
	if quiet.Enabled(t.Context(), slog.LevelInfo) {
		t.Error("mochi Info should be disabled when zap is at Info (it maps to Debug)")
	}
	if !quiet.Enabled(t.Context(), slog.LevelWarn) {
		t.Error("mochi Warn should be enabled when zap is at Info")
	}
}

// TestRetainedSurvivesRestart: with a store, retained messages (set and cleared) are as they were
// after the broker is closed and started again on the same file; a second broker on the same
// store fails at once instead of hanging.
func TestRetainedSurvivesRestart(t *testing.T) {
	store := filepath.Join(t.TempDir(), "broker.db")
	b, err := Start("127.0.0.1:0", Options{StorePath: store}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start("127.0.0.1:0", Options{StorePath: store}, testLogger(t)); err == nil {
		t.Error("a second broker opened the same store")
	}
	pub := connect(t, b.Addr(), "publisher", nil)
	for topic, payload := range map[string]string{"tedee/L-1/state": "locked", "tedee/L-2/state": "unlocked",
		"homeassistant/lock/x/config": "{}"} {
		if tok := pub.Publish(topic, 1, true, payload); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	if tok := pub.Publish("tedee/L-2/state", 1, true, ""); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("clear: %v", tok.Error())
	}
	pub.Disconnect(250)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = Start("127.0.0.1:0", Options{StorePath: store}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := map[string]string{}
	var mu sync.Mutex
	sub := connect(t, b.Addr(), "subscriber", nil)
	if tok := sub.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Retained() {
			got[m.Topic()] = string(m.Payload())
		}
	}); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	want := map[string]string{"tedee/L-1/state": "locked", "homeassistant/lock/x/config": "{}"}
	deadline := time.Now().Add(waitTimeout)
	for {
		mu.Lock()
		done := maps.Equal(got, want)
		snapshot := maps.Clone(got)
		mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained after restart: %v, want %v", snapshot, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFreshStoreLogsNoError: a new store (the first start with a data_dir) logs no error line:
// mochi's storage hook reports the server info it has not saved yet, which is not an error.
func TestFreshStoreLogsNoError(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	b, err := Start("127.0.0.1:0", Options{StorePath: filepath.Join(t.TempDir(), "broker.db")}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, e := range logs.All() {
		if e.Level >= zap.ErrorLevel {
			t.Errorf("a fresh store logged %s: %s %v", e.Level, e.Message, e.ContextMap())
		}
	}
}
