package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// loadOptions configure one load run against one webhook receiver (the service or the baseline).
type loadOptions struct {
	URL             string // webhook URL, e.g. http://127.0.0.1:8080/webhook
	BrokerURL       string // the broker the receiver publishes to
	BaseTopic       string // tedee2mqtt's mqtt.base_topic
	DiscoveryPrefix string // also subscribed and counted; "" subscribes to the base topic only
	Locks           int
	Count           int           // webhooks to send
	Rate            float64       // webhooks per second; 0 = flat out
	Concurrency     int           // parallel HTTP connections
	Duration        time.Duration // sending stops after this, even if Count is not reached
	Grace           time.Duration // how long to wait for the last events after the last response
	Format          string        // post | get | path
	SerialPrefix    int           // first 8 digits of every serial
	Base            time.Time     // event time of every lock's first webhook; zero: now
	Clock           clock         // paces sends; nil: the real clock
	// Bridges, when set, spreads the locks over these bridges: lock i's webhooks go to
	// URL/<Bridges[i % len(Bridges)]>. Empty sends every webhook to URL.
	Bridges []string
	// Timeline keeps the latencies per second of the run too (tracker.window).
	Timeline bool
	// OnStart, when set, runs once the subscriber is in place, just before the first webhook.
	OnStart func(*tracker)
	// AfterSend, when set, runs once the last answer is in, before waiting for the last events:
	// the moment the receiver holds the most (profiling harnesses take a heap profile there).
	AfterSend func()
}

func (o *loadOptions) validate() error {
	var problems []string
	if o.Count < 1 {
		problems = append(problems, "count must be at least 1")
	}
	if o.Concurrency < 1 {
		problems = append(problems, "concurrency must be at least 1")
	}
	if o.Rate < 0 {
		problems = append(problems, "rate must not be negative (0 is flat out)")
	}
	if o.Duration <= 0 || o.Grace <= 0 {
		problems = append(problems, "duration and grace must be positive")
	}
	if err := loopbackURL(o.URL); err != nil {
		problems = append(problems, "webhook url: "+err.Error())
	}
	if err := loopbackURL(o.BrokerURL); err != nil {
		problems = append(problems, "broker url: "+err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// loopbackURL refuses anything but a loopback host: this tool floods what it is pointed at.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: load is only ever sent to this machine", host)
	}
	return nil
}

// result is what one load run measured.
type result struct {
	Target     string
	Sent       int // requests attempted
	Accepted   int // answered 2xx
	Rejected   int // answered, not 2xx
	Transport  int // no answer
	Statuses   map[int]int
	FirstError string

	Delivered  int // accepted webhooks whose event message arrived
	Lost       int // accepted webhooks whose event message did not arrive within the grace period
	LostIDs    []int
	Duplicates int // event messages received more than once
	Unmatched  int // event messages that match no webhook of this run
	// Unaccepted counts events that arrived for webhooks that were not answered 2xx.
	Unaccepted int

	Messages       int            // MQTT messages received (not retained replays) during the run
	MessagesByLeaf map[string]int // by last topic segment ("event", "state", …, "config")
	Replays        int            // retained messages replayed by the broker on subscribe

	SendTime time.Duration // first request sent -> last answer received
	EndToEnd time.Duration // first request sent -> last event received
	// Latency is send -> event received of every delivered webhook, Answer send -> HTTP answer
	// of every answered one: histograms, so that a run of a million keeps no list of them.
	Latency, Answer      *histogram `json:"-"`
	P50, P99             time.Duration
	Max                  time.Duration
	AnswerP50, AnswerP99 time.Duration
	ScheduleLag          time.Duration // worst lateness of a send against the rate schedule

	tracker *tracker // for the scenarios that look into the run's timeline
}

// AcceptedPerSec is the webhook rate the receiver answered 2xx.
func (r *result) AcceptedPerSec() float64 { return perSec(r.Accepted, r.SendTime) }

// DeliveredPerSec is the webhook rate delivered end to end (event message received).
func (r *result) DeliveredPerSec() float64 { return perSec(r.Delivered, r.EndToEnd) }

// MessagesPerSec is the MQTT message rate the subscriber received.
func (r *result) MessagesPerSec() float64 { return perSec(r.Messages, r.EndToEnd) }

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// subscriber receives everything the receiver publishes and matches event messages to webhooks.
type subscriber struct {
	t      *tracker
	prefix string // base topic + "/"

	messages, replays atomic.Int64
	mu                sync.Mutex
	byLeaf            map[string]int
	// onMessage, when set, sees every live message (calibration).
	onMessage func(topic string, payload []byte)
	// syncTopic receives the marker that sync waits for; synced is closed when it arrives.
	syncTopic string
	synced    chan struct{}
	syncOnce  sync.Once
}

func newSubscriber(t *tracker, baseTopic string) *subscriber {
	return &subscriber{t: t, prefix: baseTopic + "/",
		byLeaf: map[string]int{}, synced: make(chan struct{}),
		syncTopic: fmt.Sprintf("%s/_load/%d-%d", baseTopic, os.Getpid(), clientSeq.Add(1))}
}

// sync returns once the broker has delivered everything it had queued for the subscriber when
// sync was called - above all the retained messages it replays on subscribe, which on a broker
// that served earlier runs are thousands: live events queue behind them, and the first webhooks
// of a run would show hundreds of milliseconds of latency that is the tool's, not the service's.
// The broker delivers a client's own message after what it queued before, so receiving a marker
// published now means the replay is over.
func (s *subscriber) sync(c paho.Client, timeout time.Duration) error {
	if t := c.Publish(s.syncTopic, 1, false, "sync"); !t.WaitTimeout(timeout) || t.Error() != nil {
		return fmt.Errorf("publish sync marker: %v", tokenErr(t))
	}
	select {
	case <-s.synced:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("sync marker not received within %s", timeout)
	}
}

func (s *subscriber) handle(_ paho.Client, m paho.Message) {
	now := s.t.now()
	if m.Topic() == s.syncTopic {
		s.syncOnce.Do(func() { close(s.synced) })
		return
	}
	if m.Retained() {
		s.replays.Add(1)
		return
	}
	s.messages.Add(1)
	topic := m.Topic()
	leaf := topic[strings.LastIndexByte(topic, '/')+1:]
	s.mu.Lock()
	s.byLeaf[leaf]++
	s.mu.Unlock()
	if s.onMessage != nil {
		s.onMessage(topic, m.Payload())
	}
	if leaf != "event" || !strings.HasPrefix(topic, s.prefix) {
		return
	}
	lock, seq, ok := s.match(strings.TrimSuffix(strings.TrimPrefix(topic, s.prefix), "/event"), m.Payload())
	if !ok {
		s.t.unmatched.Add(1)
		return
	}
	s.t.received(lock, seq, now)
}

var timestampKey = []byte(`"timestamp":"`)

// match finds the webhook an event message reports, by its lock (the topic's serial) and its
// event time (the payload's "timestamp", which is unique per lock).
func (s *subscriber) match(serial string, payload []byte) (lock, seq int, ok bool) {
	gen := s.t.gen
	lock, ok = gen.index[serial]
	if !ok {
		return 0, 0, false
	}
	i := bytes.Index(payload, timestampKey)
	if i < 0 || len(payload) < i+len(timestampKey)+len(tsLayout) {
		return 0, 0, false
	}
	raw := payload[i+len(timestampKey) : i+len(timestampKey)+len(tsLayout)]
	ts, err := time.Parse(tsLayout, string(raw))
	if err != nil {
		return 0, 0, false
	}
	if seq = gen.seqOf(ts); seq < 0 {
		return 0, 0, false
	}
	return lock, seq, true
}

var clientSeq atomic.Int64

// connectSubscriber connects to the broker and subscribes at QoS 1 (what tedee2mqtt publishes
// with by default), waiting for the SUBACK so that nothing published afterwards is missed.
func connectSubscriber(brokerURL string, filters []string, handle paho.MessageHandler) (paho.Client, error) {
	opts := paho.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID(fmt.Sprintf("t2m-load-%d-%d", os.Getpid(), clientSeq.Add(1))).
		SetCleanSession(true).
		SetAutoReconnect(false). // a reconnect would lose messages silently; fail loudly instead
		SetConnectTimeout(5 * time.Second).
		SetKeepAlive(30 * time.Second)
	// Handlers run one at a time in arrival order (paho's default); they only record and count.
	c := paho.NewClient(opts)
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("connect subscriber to %s: %v", brokerURL, tokenErr(t))
	}
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	if t := c.SubscribeMultiple(subs, handle); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("subscribe to %v: %v", filters, tokenErr(t))
	}
	return c, nil
}

func tokenErr(t paho.Token) error {
	if err := t.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}

// runLoad sends o.Count webhooks (or as many as o.Duration allows) and measures what arrives.
func runLoad(ctx context.Context, o loadOptions) (*result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	base := o.Base
	if base.IsZero() {
		base = time.Now()
	}
	gen, err := newGenerator(o.Locks, o.Count, o.SerialPrefix, base, o.Format)
	if err != nil {
		return nil, err
	}
	tr := newTracker(gen, o.Timeline)
	sub := newSubscriber(tr, o.BaseTopic)
	filters := []string{o.BaseTopic + "/#"}
	if o.DiscoveryPrefix != "" {
		filters = append(filters, o.DiscoveryPrefix+"/#")
	}
	mc, err := connectSubscriber(o.BrokerURL, filters, sub.handle)
	if err != nil {
		return nil, err
	}
	defer mc.Disconnect(100)
	if err := sub.sync(mc, 30*time.Second); err != nil {
		return nil, err
	}

	workers := min(o.Concurrency, o.Locks)
	transport := &http.Transport{
		MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	var (
		firstErr atomic.Pointer[string]
		statusMu sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	sendCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	// A lock always goes to the same worker, which sends its webhooks one at a time in order, as
	// a bridge does: two events of one lock are never in flight together, so none can overtake
	// the other and be dropped as out of order.
	queues := make([]chan int, workers)
	for w := range queues {
		queues[w] = make(chan int, 16)
		wg.Add(1)
		go func(jobs <-chan int) {
			defer wg.Done()
			for i := range jobs {
				if sendCtx.Err() != nil {
					continue // out of time: drain without sending
				}
				h := gen.at(i)
				req, err := gen.request(webhookURL(o.URL, o.Bridges, h.lock), h)
				if err != nil {
					tr.begin(h.lock, h.seq)
					tr.answered(h.lock, h.seq, stateTransport)
					firstErr.CompareAndSwap(nil, ptr(err.Error()))
					continue
				}
				tr.begin(h.lock, h.seq)
				resp, err := client.Do(req.WithContext(sendCtx))
				if err != nil {
					tr.answered(h.lock, h.seq, stateTransport)
					firstErr.CompareAndSwap(nil, ptr(err.Error()))
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					tr.answered(h.lock, h.seq, stateAccepted)
					continue
				}
				tr.answered(h.lock, h.seq, stateRejected)
				statusMu.Lock()
				statuses[resp.StatusCode]++
				statusMu.Unlock()
				firstErr.CompareAndSwap(nil, ptr(fmt.Sprintf("HTTP %d", resp.StatusCode)))
			}
		}(queues[w])
	}
	if o.OnStart != nil {
		o.OnStart(tr)
	}
	p := newPacer(o.Clock, o.Rate)
	for i := 0; i < o.Count; i++ {
		if p.wait(sendCtx, i) != nil {
			break
		}
		queues[gen.at(i).lock%workers] <- i
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if o.AfterSend != nil {
		o.AfterSend()
	}

	// Wait for the events of every accepted webhook, up to the grace period.
	deadline := time.Now().Add(o.Grace)
	for tr.outstanding.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	mc.Disconnect(100)
	return tr.result(o.URL, statuses, firstErr.Load(), p.maxLag, sub), ctx.Err()
}

// result sums up a run once its sending and its grace period are over.
func (t *tracker) result(target string, statuses map[int]int, firstErr *string, lag time.Duration, sub *subscriber) *result {
	r := &result{Target: target, Statuses: statuses, ScheduleLag: lag,
		Sent: int(t.sent.Load()), Accepted: int(t.accepted.Load()), Rejected: int(t.rejected.Load()),
		Transport: int(t.transport.Load()), Delivered: int(t.delivered.Load()),
		Duplicates: int(t.dups.Load()), Unmatched: int(t.unmatched.Load()), Unaccepted: int(t.unaccepted.Load()),
		tracker: t}
	if firstErr != nil {
		r.FirstError = *firstErr
	}
	if sub != nil {
		r.Messages, r.Replays = int(sub.messages.Load()), int(sub.replays.Load())
		sub.mu.Lock()
		r.MessagesByLeaf = maps.Clone(sub.byLeaf)
		sub.mu.Unlock()
	}
	r.Lost, r.LostIDs = t.lost()
	if first := t.firstSent.Load(); first > 0 {
		r.SendTime = time.Duration(max(0, t.lastResponse.Load()-first))
		r.EndToEnd = time.Duration(max(0, t.lastEvent.Load()-first))
	}
	t.hmu.Lock()
	r.Latency, r.Answer = t.latency, t.answer
	t.hmu.Unlock()
	r.P50, r.P99, r.Max = r.Latency.percentile(50), r.Latency.percentile(99), r.Latency.max
	r.AnswerP50, r.AnswerP99 = r.Answer.percentile(50), r.Answer.percentile(99)
	return r
}

func ptr[T any](v T) *T { return &v }
