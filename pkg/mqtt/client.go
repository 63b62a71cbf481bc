// Package mqtt is the paho adapter: it keeps a connection to the broker, announces the service on
// its status topic (with a last will), and delivers the core's messages in order, holding them
// through broker outages.
package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

const (
	// maxInFlight is how many messages may await their PUBACK at once. Waiting for each PUBACK in
	// turn would cap throughput at one message per round trip.
	maxInFlight = 64
	// ackTimeout bounds the wait for the broker to acknowledge a message; after it the message and
	// those sent after it are treated as failed and sent again once the connection is back.
	ackTimeout = 10 * time.Second
	// DefaultMaxQueuedEvents bounds the non-retained event messages held during an outage. State
	// is never dropped (it coalesces per topic); only the oldest events beyond this are.
	DefaultMaxQueuedEvents = 10000
)

// Options configures the connection.
type Options struct {
	URL      string
	ClientID string
	Username string
	Password string
	TLS      *tls.Config // nil: no TLS beyond what the URL scheme implies
	QoS      byte
	// StatusTopic receives "online" when connected and "offline" as last will and on Close.
	StatusTopic     string
	MaxQueuedEvents int // 0 means DefaultMaxQueuedEvents
	// Republish, when set, queues every retained state and discovery config again. It runs after
	// every reconnection (a broker restarted without persistence has forgotten them), after the
	// first connection when there is no Restore, and when BirthTopic says "online" (lifecycle.go).
	Republish  func()
	BirthTopic string
	// Birth, when set, is what BirthTopic's "online" runs instead of Republish: Home Assistant
	// needs the discovery configs again, while the states it reads are retained on the broker.
	Birth func()
	// RestoreFilter and Restore, when set, hold delivery from the start until the retained
	// messages on RestoreFilter have been read back and handed to Restore (lifecycle.go), which
	// merges them and queues what the broker does not hold as it should.
	RestoreFilter string
	Restore       func([]state.Message)
	// Observer, when set, is told the result of every queued message sent to the broker.
	Observer Observer
}

// Observer is told, for every queued message sent to the broker, whether the broker acknowledged
// it (ok) or the publish failed or was not acknowledged in time (not ok: it goes back to the
// queue and is counted again when retried). Publishes cut short by Close are not reported.
// Published must not block.
type Observer interface {
	Published(ok bool)
}

// Handler receives a message on a subscribed topic. It runs on its own goroutine.
type Handler func(topic string, payload []byte, retained bool)

type subscription struct {
	filter  string
	handler Handler
}

// Client delivers messages to the broker.
type Client struct {
	opts      Options
	log       *zap.Logger
	paho      paho.Client
	out       *outbox
	connected atomic.Bool
	held      atomic.Bool // see Hold
	// store is paho's; reconnected is set once the first connection is up (see onConnect).
	store       *resumeStore
	reconnected atomic.Bool
	stop        chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
	subsMu      sync.Mutex
	subs        []subscription
	inflight    atomic.Int64  // messages sent and not yet acknowledged (flush's window)
	started     atomic.Bool   // Start was called: the sender runs
	restored    chan struct{} // closed once the retained state has been read back, or not asked for
	birth       atomic.Bool   // a republish for Home Assistant's birth message is pending
}

// Dial is New then Start.
func Dial(opts Options, log *zap.Logger) *Client {
	c := New(opts, log)
	c.Start()
	return c
}

// New returns a client that queues what is published but does not connect until Start, so that
// what its options call back into can be built with the client as its publisher.
func New(opts Options, log *zap.Logger) *Client {
	if opts.MaxQueuedEvents <= 0 {
		opts.MaxQueuedEvents = DefaultMaxQueuedEvents
	}
	c := &Client{opts: opts, log: log, out: newOutbox(opts.MaxQueuedEvents),
		stop: make(chan struct{}), done: make(chan struct{}), restored: make(chan struct{}),
		store: &resumeStore{MemoryStore: paho.NewMemoryStore(), listed: make(chan struct{}, 1)}}
	attempts := &attemptLog{log: log, broker: RedactedURL(opts.URL)}
	po := paho.NewClientOptions().
		AddBroker(opts.URL).
		// 3.1.1 only: on a refusal paho would otherwise try MQTT 3.1, and report that attempt's
		// answer instead of the broker's reason for refusing the first.
		SetProtocolVersion(4).
		SetConnectionNotificationHandler(attempts.notify).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetCleanSession(true).
		SetOrderMatters(false). // handlers must not block the network loop
		SetConnectRetry(true).
		SetConnectRetryInterval(2*time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(30*time.Second).
		SetConnectTimeout(10*time.Second).
		SetKeepAlive(30*time.Second).
		SetStore(c.store).
		SetWill(opts.StatusTopic, "offline", opts.QoS, true /* retained */).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(c.onConnectionLost)
	if opts.TLS != nil {
		po.SetTLSConfig(opts.TLS)
	}
	if plainTCP(opts.URL) {
		po.SetCustomOpenConnectionFn(dialBuffered)
	}
	c.paho = paho.NewClient(po)
	return c
}

// Start starts connecting to the broker and returns at once: webhooks are accepted while the
// broker is unreachable and delivered when it comes up.
func (c *Client) Start() {
	c.started.Store(true)
	c.startLifecycle()
	c.paho.Connect() // with ConnectRetry the token completes only once connected; onConnect tells us
	go c.send()
}

// resumeStore is paho's in-memory store, telling when paho has listed the messages it is to send
// again after a reconnection (its only call of All with a clean session).
type resumeStore struct {
	*paho.MemoryStore
	listed chan struct{} // signalled, without blocking, at every All
}

func (s *resumeStore) All() []string {
	keys := s.MemoryStore.All()
	select {
	case s.listed <- struct{}{}:
	default:
	}
	return keys
}

// resumeWait bounds the wait for paho's resend list after a reconnection; it comes at once.
const resumeWait = 2 * time.Second

func (c *Client) onConnect(paho.Client) {
	reconnection := c.reconnected.Swap(true)
	if reconnection {
		// After a reconnection paho sends again what the broker had not acknowledged, listed from
		// its store, marking each as a duplicate as it goes (paho.mqtt.golang#703): a message
		// published before that list is taken is sent twice, and marked while paho writes it (a
		// data race). So publish nothing until paho has taken it. (paho runs this in a goroutine
		// of its own: waiting here holds nothing else up.)
		select {
		case <-c.store.listed:
		case <-time.After(resumeWait):
		case <-c.stop:
			return
		}
	}
	c.log.Info("connected to broker", zap.String("broker", RedactedURL(c.opts.URL)))
	c.connected.Store(true)
	// Announce ourselves ahead of the queue: a will "offline" from a lost connection may be the
	// retained status now. Publishing is asynchronous here.
	c.paho.Publish(c.opts.StatusTopic, c.opts.QoS, true /* retained */, "online")
	c.out.signal() // deliver what queued up while we were away
	// A clean session forgets subscriptions: renew them on every connection.
	c.subsMu.Lock()
	subs := append([]subscription(nil), c.subs...)
	c.subsMu.Unlock()
	go func() {
		for _, s := range subs {
			c.subscribe(s)
		}
		c.republishOnConnect(reconnection)
	}()
}

// Subscribe calls handler for every message on filter, from now on and after every reconnection.
func (c *Client) Subscribe(filter string, handler Handler) {
	s := subscription{filter: filter, handler: handler}
	c.subsMu.Lock()
	c.subs = append(c.subs, s)
	c.subsMu.Unlock()
	if c.Connected() {
		go c.subscribe(s)
	}
}

func (c *Client) subscribe(s subscription) {
	t := c.paho.Subscribe(s.filter, 1 /* qos */, func(_ paho.Client, m paho.Message) {
		s.handler(m.Topic(), m.Payload(), m.Retained())
	})
	if !t.WaitTimeout(ackTimeout) {
		c.log.Warn("subscribe timed out", zap.String("filter", s.filter))
	} else if err := t.Error(); err != nil {
		c.log.Warn("subscribe failed", zap.String("filter", s.filter), zap.Error(err))
	}
}

func (c *Client) onConnectionLost(_ paho.Client, err error) {
	c.connected.Store(false)
	select { // a list taken before this loss says nothing about the next connection
	case <-c.store.listed:
	default:
	}
	c.out.wakeAll() // WaitBelow does not wait for a broker that is away
	c.log.Warn("connection to broker lost, reconnecting", zap.String("broker", RedactedURL(c.opts.URL)), zap.Error(err))
}

// Connected reports whether the broker connection is up now.
func (c *Client) Connected() bool { return c.connected.Load() && c.paho.IsConnectionOpen() }

// Publish queues messages for delivery and returns at once. It never blocks on the broker.
func (c *Client) Publish(msgs ...state.Message) { c.warnDropped(c.out.push(msgs...)) }

// Restate queues retained messages that publish again what was published before (a republish),
// and returns at once. They are sent after everything Publish queues, whenever it was queued, so
// that a republish of thousands of configs does not delay a live change; a topic has one pending
// value, the newest, whichever method queued it. Non-retained messages are queued as Publish does.
func (c *Client) Restate(msgs ...state.Message) { c.warnDropped(c.out.restate(msgs...)) }

// warnDropped tells the user of events the outbox dropped over its bound while queueing.
func (c *Client) warnDropped(dropped int) {
	if dropped > 0 {
		c.log.Warn("event queue full during broker outage, dropped oldest events",
			zap.Int("dropped", dropped), zap.Uint64("dropped_total", c.out.droppedEvents()))
	}
}

// Pending returns the number of messages not yet acknowledged by the broker: those queued and
// those sent and awaiting their acknowledgement.
func (c *Client) Pending() int { return c.out.len() + int(c.inflight.Load()) }

// Hold stops delivering queued messages until Release: they queue (retained ones coalescing) but
// are not sent, even while connected. For when what is queued must not reach the broker yet - the
// state the broker still holds has to be read back first. Close releases.
func (c *Client) Hold() {
	c.held.Store(true)
	c.out.wakeAll() // WaitBelow does not wait for a queue that cannot drain
}

// Release resumes delivery after Hold.
func (c *Client) Release() {
	c.held.Store(false)
	c.out.signal()
}

// sending reports whether queued messages are being delivered: connected and not held.
func (c *Client) sending() bool { return c.Connected() && !c.held.Load() }

// Backpressure for webhooks (PublishPaced): past PaceBacklog pending messages, a webhook's answer
// is held until the broker has caught up, for at most PaceWait. Flat out, the service then answers
// at the rate the broker takes messages instead of queueing them in memory (peak RSS 31 -> 24 MiB,
// p99 latency 345 -> ~100 ms, docs/benchmarks.md). 2,000 messages is the discovery burst of ~150
// locks seen for the first time, so ordinary bursts never wait, and 100 ms is well inside any
// webhook sender's timeout.
const (
	PaceBacklog = 2000
	PaceWait    = 100 * time.Millisecond
)

// PublishPaced queues messages like Publish, then waits as WaitBelow(PaceBacklog, PaceWait): for
// callers that answer a webhook, which may be held a little while the broker falls behind, and
// never during an outage.
func (c *Client) PublishPaced(msgs ...state.Message) {
	c.Publish(msgs...)
	c.WaitBelow(PaceBacklog, PaceWait)
}

// WaitBelow waits, for at most max, until no more than n messages are queued (not yet sent; the
// up to maxInFlight awaiting their acknowledgement are not counted), and returns at
// once while the broker is not connected or delivery is held. It is backpressure for callers that
// can afford to wait a little: a webhook answered only when the broker keeps up makes a flood go
// at the broker's pace instead of piling up in memory, while an outage - when waiting would not
// help - never holds one.
func (c *Client) WaitBelow(n int, max time.Duration) {
	if !c.sending() || c.out.above(n) == nil {
		return // the common case: no timer
	}
	timeout := time.NewTimer(max)
	defer timeout.Stop()
	for c.sending() {
		drained := c.out.above(n)
		if drained == nil {
			return
		}
		select {
		case <-drained:
		case <-timeout.C:
			return
		case <-c.stop:
			return
		}
	}
}

// Closing returns a channel closed once Close has been called.
func (c *Client) Closing() <-chan struct{} { return c.stop }

// DroppedEvents returns how many event messages were dropped because the queue was full.
func (c *Client) DroppedEvents() uint64 { return c.out.droppedEvents() }

// Close delivers what is pending (for at most drain), publishes "offline" on the status topic and
// disconnects. Messages still pending after drain are reported in the error.
func (c *Client) Close(drain time.Duration) error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stop)
		if !c.started.Load() {
			return // never connected: nothing to deliver or disconnect
		}
		<-c.done
		c.held.Store(false) // what is queued is all there is now: deliver it
		abort := make(chan struct{})
		timer := time.AfterFunc(drain, func() { close(abort) })
		deadline := time.Now().Add(drain)
		for c.out.len() > 0 && time.Now().Before(deadline) {
			if ferr := c.flush(abort); ferr != nil {
				select {
				case <-abort:
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		timer.Stop()
		if n := c.out.len(); n > 0 {
			err = fmt.Errorf("%d messages not delivered before shutdown", n)
		}
		if c.Connected() {
			t := c.paho.Publish(c.opts.StatusTopic, c.opts.QoS, true /* retained */, "offline")
			if !t.WaitTimeout(2*time.Second) || t.Error() != nil {
				c.log.Warn("could not publish offline status", zap.Error(t.Error()))
			}
		}
		c.paho.Disconnect(250 /* ms to finish work in flight */)
		c.connected.Store(false)
	})
	return err
}

// TLSConfig builds a TLS configuration from PEM files; empty names are skipped.
func TLSConfig(caFile, certFile, keyFile string, insecureSkipVerify bool) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecureSkipVerify} //nolint:gosec // the user asked for it
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate found", caFile)
		}
		conf.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}
