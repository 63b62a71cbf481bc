package mqtt

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// failedAttempt dials url and waits for the warning about a failed connection attempt.
func failedAttempt(t *testing.T, opts Options) (observer.LoggedEntry, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	opts.ClientID, opts.QoS, opts.StatusTopic = "reason-test", 1, "reason/status"
	c := Dial(opts, zap.New(core))
	t.Cleanup(func() { _ = c.Close(0) })
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if warned := logs.FilterMessage("cannot connect to the broker; retrying").FilterLevelExact(zapcore.WarnLevel).All(); len(warned) > 0 {
			return warned[0], logs
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no warning about the failed connection to %s; logs: %v", opts.URL, logs.All())
	return observer.LoggedEntry{}, nil
}

func field(e observer.LoggedEntry, key string) string {
	s, _ := e.ContextMap()[key].(string)
	return s
}

// A broker that refuses the credentials is reported as such, naming the broker, never the
// password; the right credentials then connect.
func TestConnectErrorNamesBrokerAndReason(t *testing.T) {
	b := brokertest.StartWith(t, brokertest.Options{Username: "tedee2mqtt", Password: "right-password-1"})
	for _, c := range []struct{ user, pass string }{{"tedee2mqtt", "wrong-password-2"}, {"", ""}} {
		e, logs := failedAttempt(t, Options{URL: b.URL(), Username: c.user, Password: c.pass})
		if field(e, "broker") != b.URL() {
			t.Errorf("broker = %q, want %q", field(e, "broker"), b.URL())
		}
		if r := field(e, "reason"); !strings.Contains(r, "not authorised") && !strings.Contains(r, "bad user name or password") {
			t.Errorf("user %q: reason = %q, want the broker's refusal", c.user, r)
		}
		for _, l := range logs.All() {
			if strings.Contains(l.Message+fmtFields(l), "password-") {
				t.Errorf("a password in the log: %s %v", l.Message, l.ContextMap())
			}
		}
	}
	c := Dial(Options{URL: b.URL(), ClientID: "reason-ok", QoS: 1, StatusTopic: "reason/status",
		Username: "tedee2mqtt", Password: "right-password-1"}, zap.NewNop())
	defer c.Close(0) //nolint:errcheck
	for deadline := time.Now().Add(10 * time.Second); !c.Connected(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the right credentials did not connect")
		}
	}
}

func TestConnectErrorReasons(t *testing.T) {
	b := brokertest.Start(t)
	closed := func() string { // a port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(untrusted.Close)
	for _, c := range []struct {
		name, url, reason string
		tls               bool
	}{
		{"refused", "tcp://" + closed, "connection refused", false},
		{"plain broker spoken to in TLS", "ssl://" + b.Addr(), "TLS", true},
		{"untrusted certificate", "ssl://" + strings.TrimPrefix(untrusted.URL, "https://"), "certificate is not trusted", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{URL: c.url}
			if c.tls {
				opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			e, _ := failedAttempt(t, opts)
			if field(e, "broker") != c.url || !strings.Contains(field(e, "reason"), c.reason) {
				t.Errorf("broker %q reason %q; want %q and a reason with %q", field(e, "broker"), field(e, "reason"), c.url, c.reason)
			}
		})
	}
}

func TestRedactedURL(t *testing.T) {
	if got := RedactedURL("tcp://user:hunter2@broker:1883"); strings.Contains(got, "hunter2") || !strings.Contains(got, "broker:1883") {
		t.Errorf("redactedURL = %q", got)
	}
}

func fmtFields(e observer.LoggedEntry) string {
	var b strings.Builder
	for k, v := range e.ContextMap() {
		b.WriteString(" " + k + "=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}
