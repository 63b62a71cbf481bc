package brokertest

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

const testTimeout = 15 * time.Second

// eachKind runs fn against the broker Start picks on this machine (mosquitto when installed) and
// against the embedded fallback, forced by simulating a machine without mosquitto — so the fallback
// stays tested on machines (and CI) that have mosquitto.
func eachKind(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	t.Run("default", fn)
	t.Run("embedded", func(t *testing.T) {
		withoutMosquitto(t)
		fn(t)
	})
}

// withoutMosquitto simulates a laptop without mosquitto and outside CI for the rest of t.
func withoutMosquitto(t *testing.T) {
	t.Helper()
	orig := lookupMosquitto
	lookupMosquitto = func() (string, error) { return "", errors.New("simulated: mosquitto not installed") }
	t.Cleanup(func() { lookupMosquitto = orig })
	// Empty counts as unset (see requireReason); t.Setenv restores the old values afterwards.
	t.Setenv("CI", "")
	t.Setenv(RequireMosquittoEnv, "")
}

func publish(t *testing.T, url, topic, payload string, retained bool) {
	t.Helper()
	c := connect(t, url, "pub")
	defer c.Disconnect(250)
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
		t.Fatalf("publish %s=%q: timed out or failed: %v", topic, payload, tok.Error())
	}
}

func TestKind(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		b := Start(t)
		want := KindEmbedded
		if _, err := lookupMosquitto(); err == nil {
			want = KindMosquitto
		}
		if b.Kind() != want {
			t.Fatalf("Kind() = %q, want %q", b.Kind(), want)
		}
		checkAddr(t, b)
	})
	t.Run("embedded", func(t *testing.T) {
		withoutMosquitto(t)
		b := Start(t)
		if b.Kind() != KindEmbedded {
			t.Fatalf("Kind() = %q, want %q", b.Kind(), KindEmbedded)
		}
		checkAddr(t, b)
	})
}

func checkAddr(t *testing.T, b *Broker) {
	t.Helper()
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q (%v), want 127.0.0.1:<port>", b.Addr(), err)
	}
	if b.URL() != "tcp://"+b.Addr() {
		t.Fatalf("URL() = %q, want tcp://%s", b.URL(), b.Addr())
	}
}

func TestMosquittoConfigDefaultsToNoPersistence(t *testing.T) {
	if _, err := lookupMosquitto(); err != nil {
		t.Skip("mosquitto not installed; the embedded broker has no config file")
	}
	b := Start(t)
	conf := readFile(b.conf)
	for _, want := range []string{"listener " + b.Addr()[len("127.0.0.1:"):] + " 127.0.0.1", "allow_anonymous true", "persistence false"} {
		if !strings.Contains(conf, want+"\n") {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func TestRetainedSurvivesRestartWithPersistence(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := StartWith(t, Options{Persistence: true})
		addr := b.Addr()
		publish(t, b.URL(), "tedee/lock/1/state", "locked", true)
		publish(t, b.URL(), "tedee/lock/1/battery", "80", true)
		publish(t, b.URL(), "tedee/lock/1/event", "pressed", false)

		b.Stop(t)
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still accepts connections after Stop", addr)
		}
		b.Restart(t)
		if b.Addr() != addr {
			t.Fatalf("Addr() after Restart = %q, want the old %q", b.Addr(), addr)
		}
		want := map[string]string{"tedee/lock/1/state": "locked", "tedee/lock/1/battery": "80"}
		if got := Retained(t, b.URL(), "tedee/#"); !maps.Equal(got, want) {
			t.Fatalf("retained after restart = %v, want %v", got, want)
		}

		// A second cycle, via Restart on a running broker, keeps later changes too.
		publish(t, b.URL(), "tedee/lock/1/state", "unlocked", true)
		b.Restart(t)
		want["tedee/lock/1/state"] = "unlocked"
		if got := Retained(t, b.URL(), "tedee/#"); !maps.Equal(got, want) {
			t.Fatalf("retained after second restart = %v, want %v", got, want)
		}
	})
}

func TestRetainedLostOnRestartWithoutPersistence(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := Start(t)
		publish(t, b.URL(), "tedee/lock/1/state", "locked", true)
		if got := Retained(t, b.URL(), "tedee/#"); len(got) != 1 {
			t.Fatalf("retained before restart = %v, want one message", got)
		}
		b.Stop(t)
		b.Stop(t) // stopping a stopped broker is a no-op
		b.Restart(t)
		if got := Retained(t, b.URL(), "tedee/#"); len(got) != 0 {
			t.Fatalf("retained after restart without persistence = %v, want none", got)
		}
	})
}

func TestRestartWaitsForPortToBeFree(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := Start(t)
		b.Stop(t)
		// Something else holds the port for a moment (as another test's broker might); Restart must
		// retry instead of failing or, worse, taking the squatter for our broker.
		ln, err := net.Listen("tcp", b.Addr())
		if err != nil {
			t.Fatalf("occupy %s: %v", b.Addr(), err)
		}
		released := make(chan struct{})
		go func() {
			defer close(released)
			time.Sleep(500 * time.Millisecond)
			ln.Close()
		}()
		b.Restart(t)
		<-released
		publish(t, b.URL(), "tedee/x", "after-restart", true)
		if got := Retained(t, b.URL(), "tedee/#"); got["tedee/x"] != "after-restart" {
			t.Fatalf("retained after restart = %v, want tedee/x", got)
		}
	})
}

func TestStopDropsConnections(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := Start(t)
		lost := make(chan error, 1)
		opts := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(clientID("victim")).
			SetAutoReconnect(false).
			SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
		c := paho.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(0)
		b.Stop(t)
		select {
		case err := <-lost:
			t.Logf("connection lost as expected: %v", err)
		case <-time.After(testTimeout):
			t.Fatal("client did not notice the broker going away")
		}
	})
}

func TestRecorderKeepsRecordingAcrossRestart(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := Start(t)
		r := NewRecorder(t, b.URL(), "tedee/#")
		publish(t, b.URL(), "tedee/x", "1", false)
		r.WaitFor(t, "tedee/x", "1", testTimeout)

		b.Stop(t)
		b.Restart(t)
		// The recorder reconnects on its own schedule; a retained message reaches it whether it
		// re-subscribes before or after this publish.
		publish(t, b.URL(), "tedee/x", "2", true)
		r.WaitFor(t, "tedee/x", "2", testTimeout)
	})
}

func TestRecorderSeesMessagesInOrder(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := Start(t)
		r := NewRecorder(t, b.URL(), "order/#")
		if _, ok := r.Last("order/a"); ok {
			t.Fatal("Last on an empty recorder reported a message")
		}

		const n = 100
		c := connect(t, b.URL(), "pub")
		defer c.Disconnect(250)
		toks := make([]paho.Token, 0, n)
		for i := range n {
			topic := "order/a"
			if i%2 == 1 {
				topic = "order/b"
			}
			toks = append(toks, c.Publish(topic, 1, false, strconv.Itoa(i)))
		}
		for i, tok := range toks {
			if !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
				t.Fatalf("publish %d: timed out or failed: %v", i, tok.Error())
			}
		}

		r.WaitUntil(t, testTimeout, "all messages recorded", func(ms []Message) bool { return len(ms) >= n })
		msgs := r.Messages()
		if len(msgs) != n {
			t.Fatalf("recorded %d messages, want %d", len(msgs), n)
		}
		for i, m := range msgs {
			if m.Payload != strconv.Itoa(i) || m.Retained || m.QoS != 1 {
				t.Fatalf("message %d = %v, want payload %d, not retained, qos 1; all:%s", i, m, i, formatMessages(msgs))
			}
		}
		if m, ok := r.Last("order/a"); !ok || m.Payload != "98" {
			t.Fatalf("Last(order/a) = %v, %v; want 98", m, ok)
		}
		r.WaitFor(t, "order/b", "99", time.Second)

		// Messages returns a copy: changing it must not affect the recorder.
		msgs[0].Payload = "changed"
		if r.Messages()[0].Payload != "0" {
			t.Fatal("Messages() exposed the recorder's internal slice")
		}
	})
}

func TestRecorderMarksRetainedMessages(t *testing.T) {
	b := Start(t)
	publish(t, b.URL(), "ret/a", "old", true)
	r := NewRecorder(t, b.URL(), "ret/#")
	r.WaitFor(t, "ret/a", "old", testTimeout)
	publish(t, b.URL(), "ret/a", "new", true)
	r.WaitFor(t, "ret/a", "new", testTimeout)
	msgs := r.Messages()
	// MQTT 3.1.1: the retain flag is set only on the replay for a new subscription, not on the
	// live forward of a retained publish to an existing one. The embedded broker may also forward
	// "old" live when the subscription races its publish; that copy is allowed, but nothing else.
	ok := len(msgs) >= 2 && msgs[0].Retained && msgs[0].Payload == "old" &&
		!msgs[len(msgs)-1].Retained && msgs[len(msgs)-1].Payload == "new"
	for i := 1; ok && i < len(msgs)-1; i++ {
		ok = msgs[i].Payload == "old" && !msgs[i].Retained && b.Kind() == KindEmbedded
	}
	if !ok {
		t.Fatalf("messages = %s, want the replay retained and the live one not", formatMessages(msgs))
	}
}

func TestRetainedReturnsExactlyWhatIsRetained(t *testing.T) {
	eachKind(t, func(t *testing.T) {
		b := Start(t)
		publish(t, b.URL(), "r/1", "one", true)
		publish(t, b.URL(), "r/2", "two", true)
		publish(t, b.URL(), "r/deep/3", "three", true)
		publish(t, b.URL(), "r/4", "gone", true)
		publish(t, b.URL(), "r/4", "", true) // an empty retained payload deletes the retained message
		publish(t, b.URL(), "r/5", "live", false)
		publish(t, b.URL(), "other/1", "elsewhere", true)

		want := map[string]string{"r/1": "one", "r/2": "two", "r/deep/3": "three"}
		if got := Retained(t, b.URL(), "r/#"); !maps.Equal(got, want) {
			t.Fatalf("Retained(r/#) = %v, want %v", got, want)
		}
		if got := Retained(t, b.URL(), "r/+"); !maps.Equal(got, map[string]string{"r/1": "one", "r/2": "two"}) {
			t.Fatalf("Retained(r/+) = %v", got)
		}
		if got := Retained(t, b.URL(), "nothing/#"); len(got) != 0 {
			t.Fatalf("Retained(nothing/#) = %v, want empty", got)
		}
	})
}

// fakeTB captures Fatal and Skip calls so tests can check that brokertest fails a test; everything
// else goes to the real test. Its Fatal/Skip end the calling goroutine like the real ones do.
type fakeTB struct {
	testing.TB
	mu  sync.Mutex
	out string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) end(prefix, msg string) {
	f.mu.Lock()
	f.out = prefix + msg
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) { f.end("FATAL: ", fmt.Sprintf(format, args...)) }
func (f *fakeTB) Fatal(args ...any)                 { f.end("FATAL: ", fmt.Sprint(args...)) }
func (f *fakeTB) FailNow()                          { f.end("FATAL: ", "FailNow") }
func (f *fakeTB) Skipf(format string, args ...any)  { f.end("SKIP: ", fmt.Sprintf(format, args...)) }
func (f *fakeTB) Skip(args ...any)                  { f.end("SKIP: ", fmt.Sprint(args...)) }
func (f *fakeTB) SkipNow()                          { f.end("SKIP: ", "SkipNow") }

// runFake runs fn with a fakeTB in its own goroutine (Fatal calls runtime.Goexit) and returns what
// ended it: "FATAL: …", "SKIP: …", or "" if fn returned normally.
func runFake(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out
}

func TestMissingMosquittoFailsWhenRequired(t *testing.T) {
	for _, env := range []string{"CI", RequireMosquittoEnv} {
		t.Run(env, func(t *testing.T) {
			withoutMosquitto(t)
			t.Setenv(env, "true")
			var b *Broker
			out := runFake(t, func(tb testing.TB) { b = Start(tb) })
			if !strings.HasPrefix(out, "FATAL: ") || !strings.Contains(out, "mosquitto is required") ||
				!strings.Contains(out, env+"=true") {
				t.Fatalf("Start without mosquitto and %s set ended with %q, want a fatal failure naming it", env, out)
			}
			if b != nil {
				t.Fatalf("Start returned a %s broker instead of failing", b.Kind())
			}
		})
	}
}

func TestWaitForFailureShowsMessagesOnTopic(t *testing.T) {
	b := Start(t)
	r := NewRecorder(t, b.URL(), "w/#")
	publish(t, b.URL(), "w/1", "first", false)
	publish(t, b.URL(), "w/2", "unrelated", false)
	publish(t, b.URL(), "w/1", "second", false)
	r.WaitFor(t, "w/1", "second", testTimeout)

	out := runFake(t, func(tb testing.TB) { r.WaitFor(tb, "w/1", "third", 50*time.Millisecond) })
	if !strings.HasPrefix(out, "FATAL: ") || !strings.Contains(out, `"first"`) ||
		!strings.Contains(out, `"second"`) || strings.Contains(out, "unrelated") {
		t.Fatalf("WaitFor failure = %q, want a fatal listing only w/1's messages", out)
	}

	out = runFake(t, func(tb testing.TB) {
		r.WaitUntil(tb, 50*time.Millisecond, "never true", func([]Message) bool { return false })
	})
	if !strings.HasPrefix(out, "FATAL: ") || !strings.Contains(out, "never true") || !strings.Contains(out, "unrelated") {
		t.Fatalf("WaitUntil failure = %q, want a fatal with the message and all recorded messages", out)
	}
}

func TestMain(m *testing.M) {
	// Say which broker the "default" subtests use, so a CI log shows mosquitto really ran.
	if path, err := lookupMosquitto(); err == nil {
		fmt.Fprintf(os.Stderr, "brokertest: using mosquitto at %s\n", path)
	} else {
		fmt.Fprintf(os.Stderr, "brokertest: %v\n", err)
	}
	os.Exit(m.Run())
}
