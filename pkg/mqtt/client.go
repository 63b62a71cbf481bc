// Package mqtt is the paho adapter: it keeps a connection to the broker, announces the service on
// its status topic (with a last will), and delivers the core's messages in order, holding them
// through broker outages.
package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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
	// batchSize is how many messages are in flight at once. Waiting for each PUBACK in turn would
	// cap throughput at one message per round trip.
	batchSize = 64
	// ackTimeout bounds the wait for the broker to acknowledge a batch; after it the batch is
	// treated as failed and sent again once the connection is back.
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
	// OnConnect, when set, runs (in its own goroutine) after every connection and reconnection,
	// after the subscriptions are renewed: a broker that restarted may have lost retained state.
	OnConnect func()
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
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	subsMu    sync.Mutex
	subs      []subscription
}

// Dial starts connecting to the broker and returns at once: webhooks are accepted while the
// broker is unreachable and delivered when it comes up.
func Dial(opts Options, log *zap.Logger) *Client {
	if opts.MaxQueuedEvents <= 0 {
		opts.MaxQueuedEvents = DefaultMaxQueuedEvents
	}
	c := &Client{opts: opts, log: log, out: newOutbox(opts.MaxQueuedEvents),
		stop: make(chan struct{}), done: make(chan struct{})}
	po := paho.NewClientOptions().
		AddBroker(opts.URL).
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
		SetWill(opts.StatusTopic, "offline", opts.QoS, true /* retained */).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(c.onConnectionLost)
	if opts.TLS != nil {
		po.SetTLSConfig(opts.TLS)
	}
	c.paho = paho.NewClient(po)
	c.paho.Connect() // with ConnectRetry the token completes only once connected; onConnect tells us
	go c.send()
	return c
}

func (c *Client) onConnect(paho.Client) {
	c.log.Info("connected to broker")
	c.connected.Store(true)
	// Announce ourselves ahead of the queue: a will "offline" from a lost connection may be the
	// retained status now. Publishing is asynchronous here; the handler must not block.
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
		if c.opts.OnConnect != nil {
			c.opts.OnConnect()
		}
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
	c.log.Warn("connection to broker lost, reconnecting", zap.Error(err))
}

// Connected reports whether the broker connection is up now.
func (c *Client) Connected() bool { return c.connected.Load() && c.paho.IsConnectionOpen() }

// Publish queues messages for delivery and returns at once. It never blocks on the broker.
func (c *Client) Publish(msgs ...state.Message) {
	if dropped := c.out.push(msgs...); dropped > 0 {
		c.log.Warn("event queue full during broker outage, dropped oldest events",
			zap.Int("dropped", dropped), zap.Uint64("dropped_total", c.out.droppedEvents()))
	}
}

// Pending returns the number of messages not yet acknowledged by the broker.
func (c *Client) Pending() int { return c.out.len() }

// DroppedEvents returns how many event messages were dropped because the queue was full.
func (c *Client) DroppedEvents() uint64 { return c.out.droppedEvents() }

// send delivers queued messages while connected, until Close.
func (c *Client) send() {
	defer close(c.done)
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.out.wake:
		case <-retry.C:
		}
		if err := c.flush(c.stop); err != nil {
			c.log.Debug("delivery paused", zap.Error(err))
			// Back off a little before trying again; a reconnect wakes us sooner.
			retry.Reset(time.Second)
		}
	}
}

var errNotConnected = errors.New("not connected to broker")

// flush delivers everything queued, batch by batch, until the queue is empty, the connection is
// down, or abort is closed. Messages not acknowledged go back to the head of the queue.
func (c *Client) flush(abort <-chan struct{}) error {
	for {
		if !c.Connected() {
			return errNotConnected
		}
		batch := c.out.take(batchSize)
		if len(batch) == 0 {
			return nil
		}
		tokens := make([]paho.Token, len(batch))
		for i, e := range batch {
			tokens[i] = c.paho.Publish(e.msg.Topic, c.opts.QoS, e.msg.Retain, e.msg.Payload)
		}
		var failed []*entry
		var firstErr error
		deadline := time.NewTimer(ackTimeout)
	wait:
		for i, t := range tokens {
			select {
			case <-t.Done():
				err := t.Error()
				c.observe(err == nil)
				if err != nil {
					failed = append(failed, batch[i])
					if firstErr == nil {
						firstErr = fmt.Errorf("publish %s: %w", batch[i].msg.Topic, err)
					}
				}
			case <-deadline.C:
				for range batch[i:] {
					c.observe(false)
				}
				failed = append(failed, batch[i:]...)
				firstErr = fmt.Errorf("publish %s: no acknowledgement within %s", batch[i].msg.Topic, ackTimeout)
				break wait
			case <-abort:
				failed = append(failed, batch[i:]...)
				firstErr = errors.New("aborted")
				break wait
			}
		}
		deadline.Stop()
		if len(failed) > 0 {
			c.out.requeue(failed)
			return firstErr
		}
	}
}

func (c *Client) observe(ok bool) {
	if c.opts.Observer != nil {
		c.opts.Observer.Published(ok)
	}
}

// Close delivers what is pending (for at most drain), publishes "offline" on the status topic and
// disconnects. Messages still pending after drain are reported in the error.
func (c *Client) Close(drain time.Duration) error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
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
