package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// birthResult is what the Home Assistant birth scenario measured.
type birthResult struct {
	Born     bool          `json:"born"`     // false: the load ended before -birth-at
	BirthAt  time.Duration `json:"birth_ns"` // after the run's start
	Expected int           `json:"expected"` // distinct discovery configs seen before the birth
	Arrived  int           `json:"arrived"`  // of those, republished after the birth
	Missing  int           `json:"missing"`
	// Extra counts configs after the birth of topics not received before it (locks first seen
	// since, or, for a slow subscriber, configs still queued for it at the birth), Repeats those
	// of expected topics received more than once after it.
	Extra   int `json:"extra"`
	Repeats int `json:"repeats"`
	// Republish is birth -> the last expected config received; -1 if none came.
	Republish time.Duration `json:"republish_ns"`
	// Send-to-subscriber and HTTP answer times of the webhooks sent before the birth and during
	// the republish (whole seconds of the run: the second of the birth to that of the last
	// config).
	Before windowStats `json:"before"`
	During windowStats `json:"during"`
	// BrokerDropped is Mosquitto's count of messages it dropped ($SYS/broker/publish/messages/
	// dropped), for any client; -1 if unknown. DroppedFor lists the clients it logged dropping
	// for (the Home Assistant-like one is haClientID).
	BrokerDropped int64    `json:"broker_dropped"`
	DroppedFor    []string `json:"dropped_for"`
}

// windowStats sums up the webhooks sent in one window of a run.
type windowStats struct {
	From       time.Duration `json:"from_ns"` // send time, after the run's start
	To         time.Duration `json:"to_ns"`
	Delivered  int           `json:"delivered"` // webhooks whose event arrived
	P50        time.Duration `json:"p50_ns"`    // send -> event received
	P99        time.Duration `json:"p99_ns"`
	MaxLatency time.Duration `json:"max_ns"`
	Answered   int           `json:"answered"`      // webhooks answered (any status)
	AnswerP50  time.Duration `json:"answer_p50_ns"` // send -> HTTP answer
	AnswerP99  time.Duration `json:"answer_p99_ns"`
	MaxAns     time.Duration `json:"answer_max_ns"`
}

func statsOf(from, to time.Duration, latency, answer *histogram) windowStats {
	return windowStats{From: from, To: to, Delivered: latency.count(), Answered: answer.count(),
		P50: latency.percentile(50), P99: latency.percentile(99), MaxLatency: latency.max,
		AnswerP50: answer.percentile(50), AnswerP99: answer.percentile(99), MaxAns: answer.max}
}

// haSubscriber behaves like Home Assistant towards the broker: one clean-session connection that
// subscribes to the discovery prefix with QoS 1 and publishes the birth (online, not retained) on
// its status topic. It records which configs it saw before the birth (the broker's retained ones
// and those published meanwhile) and which of them came again after it.
type haSubscriber struct {
	client      paho.Client
	statusTopic string
	// perMessage, when set, is how long each message takes the subscriber (Home Assistant
	// parses every config and sets up its entity): paho handles messages one at a time, so a
	// slow handler backs up into the broker's queue for the client, as a slow Home Assistant does.
	perMessage time.Duration

	mu       sync.Mutex
	timer    *time.Timer
	tr       *tracker
	born     bool
	birth    time.Time
	before   map[string]bool // config topics seen before the birth
	after    map[string]int  // expected config topics received after it, and how often
	extra    int
	last     time.Time
	complete chan struct{}
}

// haClientID names the Home Assistant-like client in the broker's log.
func haClientID() string { return fmt.Sprintf("t2m-load-ha-%d", os.Getpid()) }

func startHASubscriber(brokerURL, prefix, statusTopic string, perMessage time.Duration) (*haSubscriber, error) {
	h := &haSubscriber{statusTopic: statusTopic, perMessage: perMessage, before: map[string]bool{}, after: map[string]int{},
		complete: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(brokerURL).SetClientID(haClientID()).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetKeepAlive(30 * time.Second)
	h.client = paho.NewClient(opts)
	if t := h.client.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("connect the Home Assistant-like subscriber: %v", tokenErr(t))
	}
	if t := h.client.Subscribe(prefix+"/#", 1, h.handle); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		h.client.Disconnect(0)
		return nil, fmt.Errorf("subscribe to %s/#: %v", prefix, tokenErr(t))
	}
	return h, nil
}

func (h *haSubscriber) handle(_ paho.Client, m paho.Message) {
	h.note(m.Topic(), time.Now())
	if h.perMessage > 0 {
		time.Sleep(h.perMessage)
	}
}

// note records a message on topic received at at.
func (h *haSubscriber) note(topic string, at time.Time) {
	if !strings.HasSuffix(topic, "/config") {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.born {
		h.before[topic] = true
		return
	}
	if !h.before[topic] {
		h.extra++
		return
	}
	h.after[topic]++
	h.last = at
	if h.after[topic] == 1 && len(h.after) == len(h.before) {
		close(h.complete)
	}
}

// birthAfter publishes the birth d after now, the start of the run that tr measures.
func (h *haSubscriber) birthAfter(tr *tracker, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tr = tr
	h.timer = time.AfterFunc(d, h.publishBirth)
}

func (h *haSubscriber) publishBirth() {
	h.mu.Lock()
	h.born, h.birth = true, time.Now()
	if len(h.before) == 0 {
		close(h.complete)
	}
	h.mu.Unlock()
	// Not retained, as Home Assistant sends it; QoS 1 so that loopback cannot lose it.
	h.client.Publish(h.statusTopic, 1, false, "online").WaitTimeout(10 * time.Second)
}

// finish waits for the republish to complete (every config seen before the birth received
// again), for at most wait, or until no expected config has come for quiet, and sums it up.
func (h *haSubscriber) finish(ctx context.Context, tr *tracker, wait time.Duration) *birthResult {
	const quiet = 20 * time.Second
	h.mu.Lock()
	stopped := h.timer != nil && h.timer.Stop() // the load ended before the birth
	born := h.born
	h.mu.Unlock()
	r := &birthResult{Republish: -1, BrokerDropped: -1}
	if stopped || !born {
		r.Expected = len(h.before)
		return r
	}
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for time.Now().Before(deadline) {
		select {
		case <-h.complete:
			break wait
		case <-ctx.Done():
			break wait
		case <-tick.C:
		}
		h.mu.Lock()
		since := h.last
		if since.IsZero() {
			since = h.birth
		}
		h.mu.Unlock()
		if time.Since(since) > quiet {
			break
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Born, r.BirthAt = true, h.birth.Sub(tr.start)
	r.Expected, r.Arrived, r.Extra = len(h.before), len(h.after), h.extra
	r.Missing = r.Expected - r.Arrived
	for _, n := range h.after {
		if n > 1 {
			r.Repeats += n - 1
		}
	}
	end := r.BirthAt
	if !h.last.IsZero() {
		r.Republish = h.last.Sub(h.birth)
		end = h.last.Sub(tr.start)
	}
	from, to := r.BirthAt.Truncate(time.Second), end.Truncate(time.Second)+time.Second
	lat, ans := tr.window(0, from)
	r.Before = statsOf(0, from, lat, ans)
	lat, ans = tr.window(from, to)
	r.During = statsOf(from, to, lat, ans)
	return r
}

func (h *haSubscriber) close() { h.client.Disconnect(100) }

// brokerDropped reads Mosquitto's count of dropped messages from $SYS (published every second
// by the birth scenario's broker); -1 if it does not come.
func brokerDropped(brokerURL string) int64 {
	got := make(chan int64, 1)
	mc := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).
		SetClientID(fmt.Sprintf("t2m-load-sys-%d", os.Getpid())).SetAutoReconnect(false))
	if t := mc.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return -1
	}
	defer mc.Disconnect(100)
	time.Sleep(1100 * time.Millisecond) // one more $SYS interval: the count up to now
	t := mc.Subscribe("$SYS/broker/publish/messages/dropped", 0, func(_ paho.Client, m paho.Message) {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(m.Payload())), 10, 64); err == nil {
			select {
			case got <- n:
			default:
			}
		}
	})
	if !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		return -1
	}
	select {
	case n := <-got:
		return n
	case <-time.After(3 * time.Second):
		return -1
	}
}

// droppingClients lists the clients a Mosquitto log says it dropped outgoing messages for.
func droppingClients(logPath string) []string {
	f, err := os.Open(logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseDropping(bufio.NewScanner(f))
}

// parseDropping finds "Outgoing messages are being dropped for client X." lines.
func parseDropping(sc *bufio.Scanner) []string {
	const marker = "Outgoing messages are being dropped for client "
	var out []string
	for sc.Scan() {
		_, rest, ok := strings.Cut(sc.Text(), marker)
		if id := strings.TrimSuffix(rest, "."); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// describe is the birth scenario's lines of the report.
func (r *birthResult) describe() string {
	if !r.Born {
		return fmt.Sprintf("birth: not published: the load ended before -birth-at (%d configs seen)", r.Expected)
	}
	var b strings.Builder
	rep := "never"
	if r.Republish >= 0 {
		rep = fmt.Sprintf("%.2f s", r.Republish.Seconds())
	}
	fmt.Fprintf(&b, "birth at %.1f s: %d of %d discovery configs republished, %d missing, republish took %s (birth -> last config); %d repeated, %d of topics not received before the birth\n",
		r.BirthAt.Seconds(), r.Arrived, r.Expected, r.Missing, rep, r.Repeats, r.Extra)
	for _, w := range []struct {
		name string
		s    windowStats
	}{{"before the birth", r.Before}, {"during the republish", r.During}} {
		fmt.Fprintf(&b, "    %-21s (sent %5.0f-%5.0f s): webhook send-to-subscriber p50 %s p99 %s max %s (%d); HTTP answer p50 %s p99 %s max %s (%d)\n",
			w.name, w.s.From.Seconds(), w.s.To.Seconds(), ms3(w.s.P50), ms3(w.s.P99), ms3(w.s.MaxLatency), w.s.Delivered,
			ms3(w.s.AnswerP50), ms3(w.s.AnswerP99), ms3(w.s.MaxAns), w.s.Answered)
	}
	dropped := "unknown"
	if r.BrokerDropped >= 0 {
		dropped = strconv.FormatInt(r.BrokerDropped, 10)
	}
	fmt.Fprintf(&b, "    broker (default queue limits) dropped %s messages", dropped)
	if len(r.DroppedFor) > 0 {
		fmt.Fprintf(&b, "; it logged dropping for %s (the Home Assistant-like subscriber is %s)", strings.Join(r.DroppedFor, ", "), haClientID())
	}
	return b.String()
}
