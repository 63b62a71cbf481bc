package brokertest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

const (
	// mqttTimeout bounds each MQTT round trip (CONNACK, SUBACK, PUBACK) made by this package.
	mqttTimeout = 10 * time.Second
	// pollInterval is how often WaitFor and WaitUntil look at the recorded messages.
	pollInterval = 10 * time.Millisecond

	retainedQuiet = 300 * time.Millisecond
	retainedMax   = 5 * time.Second
)

// Message is one message as received by a Recorder.
type Message struct {
	Topic    string
	Payload  string
	Retained bool // set for messages the broker replays from its retained store on subscribe
	QoS      byte
}

func (m Message) String() string {
	flag := ""
	if m.Retained {
		flag = " (retained)"
	}
	return fmt.Sprintf("%s = %q qos%d%s", m.Topic, m.Payload, m.QoS, flag)
}

// Recorder is a paho client subscribed to a topic filter that records every message it receives.
//
// It reconnects automatically (about once a second) when the broker goes away, and subscribes again
// after each reconnect, so it keeps recording across Broker.Stop/Restart. Because it uses a clean
// session, messages published while it is disconnected are lost, and on re-subscribing the broker
// replays the retained messages again (recorded with Retained set).
type Recorder struct {
	client paho.Client
	filter string

	mu      sync.Mutex
	msgs    []Message
	subErr  error // most recent subscribe failure after a reconnect, for failure messages
	subDone chan error
}

var clientSeq atomic.Uint64

// clientID returns an id unique across this test process and, thanks to the pid, across test binaries
// sharing a broker. Short, because MQTT 3.1 brokers may reject ids longer than 23 bytes.
func clientID(role string) string {
	return fmt.Sprintf("bt-%s-%d-%d", role, os.Getpid(), clientSeq.Add(1))
}

// NewRecorder connects to url (clean session, unique client id), subscribes to filter at QoS 1 and
// waits for the SUBACK, so that everything published after it returns is recorded. tb.Cleanup
// disconnects it.
func NewRecorder(tb testing.TB, url, filter string) *Recorder {
	tb.Helper()
	r := &Recorder{filter: filter, subDone: make(chan error, 1)}
	id := clientID("rec")
	opts := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(id).
		SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second).
		// Keep paho's default of delivering messages one at a time in arrival order: Messages()
		// promises arrival order.
		SetOrderMatters(true).
		SetDefaultPublishHandler(r.record).
		// paho calls this in its own goroutine after every (re)connect; with a clean session the
		// broker has forgotten the subscription, so subscribe each time.
		SetOnConnectHandler(r.subscribe)
	r.client = paho.NewClient(opts)

	tok := r.client.Connect()
	if !tok.WaitTimeout(mqttTimeout) {
		r.client.Disconnect(0)
		tb.Fatalf("brokertest: recorder %s: connect to %s: timed out after %v", id, url, mqttTimeout)
	}
	if err := tok.Error(); err != nil {
		tb.Fatalf("brokertest: recorder %s: connect to %s: %v", id, url, err)
	}
	tb.Cleanup(func() { r.client.Disconnect(250) })

	select {
	case err := <-r.subDone:
		if err != nil {
			tb.Fatalf("brokertest: recorder %s: %v", id, err)
		}
	case <-time.After(mqttTimeout):
		tb.Fatalf("brokertest: recorder %s: no SUBACK for %q within %v", id, filter, mqttTimeout)
	}
	return r
}

func (r *Recorder) subscribe(c paho.Client) {
	err := subscribe(c, r.filter, r.record)
	r.mu.Lock()
	r.subErr = err
	r.mu.Unlock()
	select {
	case r.subDone <- err: // the first result is what NewRecorder waits for
	default:
	}
}

// subscribe subscribes at QoS 1 and waits for a successful SUBACK.
func subscribe(c paho.Client, filter string, handler paho.MessageHandler) error {
	tok := c.Subscribe(filter, 1, handler)
	if !tok.WaitTimeout(mqttTimeout) {
		return fmt.Errorf("subscribe to %q: no SUBACK within %v", filter, mqttTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe to %q: %w", filter, err)
	}
	// A SUBACK can still refuse the subscription: 0x80 in MQTT 3.1.1.
	if code, ok := tok.(*paho.SubscribeToken).Result()[filter]; ok && code >= 0x80 {
		return fmt.Errorf("subscribe to %q: broker refused it (SUBACK code 0x%02x)", filter, code)
	}
	return nil
}

func (r *Recorder) record(_ paho.Client, m paho.Message) {
	msg := Message{Topic: m.Topic(), Payload: string(m.Payload()), Retained: m.Retained(), QoS: m.Qos()}
	r.mu.Lock()
	r.msgs = append(r.msgs, msg)
	r.mu.Unlock()
}

// Messages returns a copy of all messages received so far, in arrival order.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// Last returns the most recent message received on topic (an exact topic, not a filter).
func (r *Recorder) Last(topic string) (Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if r.msgs[i].Topic == topic {
			return r.msgs[i], true
		}
	}
	return Message{}, false
}

// WaitFor waits until the most recent message on topic has this payload; fails the test
// (tb.Fatalf) with the messages seen on that topic after timeout.
func (r *Recorder) WaitFor(tb testing.TB, topic, payload string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m, ok := r.Last(topic); ok && m.Payload == payload {
			return
		}
		if time.Now().After(deadline) {
			var seen []Message
			for _, m := range r.Messages() {
				if m.Topic == topic {
					seen = append(seen, m)
				}
			}
			tb.Fatalf("brokertest: waited %v for %s = %q; messages on that topic:%s%s",
				timeout, topic, payload, formatMessages(seen), r.subscribeProblem())
		}
		time.Sleep(pollInterval)
	}
}

// WaitUntil polls cond with a copy of all recorded messages until it returns true; after timeout it
// fails the test (tb.Fatalf) with msg and the recorded messages.
func (r *Recorder) WaitUntil(tb testing.TB, timeout time.Duration, msg string, cond func([]Message) bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond(r.Messages()) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("brokertest: %s (waited %v); messages on %q:%s%s",
				msg, timeout, r.filter, formatMessages(r.Messages()), r.subscribeProblem())
		}
		time.Sleep(pollInterval)
	}
}

func (r *Recorder) subscribeProblem() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subErr == nil {
		return ""
	}
	return "\n(recorder's last re-subscribe failed: " + r.subErr.Error() + ")"
}

func formatMessages(msgs []Message) string {
	if len(msgs) == 0 {
		return " none"
	}
	var sb strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&sb, "\n  %3d: %s", i, m)
	}
	return sb.String()
}

// Retained connects a fresh client, subscribes to filter, and returns the retained messages the broker
// replays (topic → payload), collecting until no new message arrives for 300ms (bounded by 5s).
// Messages published live during the collection (without the retained flag) are ignored.
func Retained(tb testing.TB, url, filter string) map[string]string {
	tb.Helper()
	var (
		mu   sync.Mutex
		got  = map[string]string{}
		last time.Time // arrival of the most recent message, or the SUBACK
	)
	handler := func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		last = time.Now()
		if m.Retained() {
			got[m.Topic()] = string(m.Payload())
		}
	}
	c := connect(tb, url, "ret")
	defer c.Disconnect(250)
	if err := subscribe(c, filter, handler); err != nil {
		tb.Fatalf("brokertest: Retained(%q): %v", filter, err)
	}
	mu.Lock()
	if last.IsZero() {
		last = time.Now()
	}
	mu.Unlock()

	hardStop := time.Now().Add(retainedMax)
	for {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		quiet := time.Since(last) >= retainedQuiet
		mu.Unlock()
		if quiet || time.Now().After(hardStop) {
			break
		}
	}
	// Disconnect before copying so the handler can no longer run.
	c.Disconnect(250)
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]string, len(got))
	for k, v := range got {
		out[k] = v
	}
	return out
}

// connect returns a connected paho client with a clean session and no auto-reconnect.
func connect(tb testing.TB, url, role string) paho.Client {
	tb.Helper()
	id := clientID(role)
	opts := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(id).
		SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(mqttTimeout) {
		c.Disconnect(0)
		tb.Fatalf("brokertest: client %s: connect to %s: timed out after %v", id, url, mqttTimeout)
	}
	if err := tok.Error(); err != nil {
		tb.Fatalf("brokertest: client %s: connect to %s: %v", id, url, err)
	}
	return c
}

// Publish publishes one message, not retained, at QoS 1 from a client of its own, as a user's
// mosquitto_pub would.
func Publish(tb testing.TB, url, topic, payload string) {
	tb.Helper()
	c := connect(tb, url, "pub")
	defer c.Disconnect(250)
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(mqttTimeout) || tok.Error() != nil {
		tb.Fatalf("brokertest: publish %s on %s: timed out or failed: %v", topic, url, tok.Error())
	}
}

// PublishRetained publishes msgs (topic → payload) as retained QoS 1 messages from a client of
// its own, as another application on the broker would; the embedded broker's Restart uses it to
// restore the retained store it snapshotted in Stop.
func PublishRetained(tb testing.TB, url string, msgs map[string]string) {
	tb.Helper()
	c := connect(tb, url, "restore")
	defer c.Disconnect(250)
	for topic, payload := range msgs {
		tok := c.Publish(topic, 1, true, payload)
		if !tok.WaitTimeout(mqttTimeout) || tok.Error() != nil {
			tb.Fatalf("brokertest: restore retained %s on %s: timed out or failed: %v", topic, url, tok.Error())
		}
	}
}
