package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// planMsg is one MQTT message the receiver publishes for a webhook.
type planMsg struct {
	Topic  string `json:"topic"` // "{serial}" stands for the lock's serial
	Size   int    `json:"size"`  // payload bytes
	Retain bool   `json:"retain"`
}

// plan lists, per kind of webhook, the messages tedee2mqtt publishes for it: First for the first
// webhook of a lock (discovery, the connected default), Steady for every later one. It is measured
// from the real service (calibrate) and replayed by the baseline server, so that both publish the
// same number and size of messages.
type plan struct {
	First  map[string][]planMsg `json:"first"`
	Steady map[string][]planMsg `json:"steady"`
}

// serialPlaceholder stands for the serial in plan topics.
const serialPlaceholder = "{serial}"

// calibrationPrefix keeps the calibration's locks apart from those of the runs.
const calibrationPrefix = 99999999

// calibrationSteps are the webhooks calibrate sends, one at a time: lock 0's first event takes the
// one-off bridge discovery; lock 1's first event is then a typical first sight, and its later
// events cover every kind at steady state.
var calibrationSteps = []struct {
	lock, seq int
	first     bool // record as the first-sight messages of its kind
	steady    bool // record as the steady-state messages of its kind
}{
	{0, 0, false, false},
	{1, 0, true, false},
	{1, 1, false, false},
	{1, 2, false, true}, // status
	{1, 5, false, true}, // battery
	{1, 9, false, true}, // connection
}

// calibrate sends a few webhooks one at a time to the receiver at url and records every message
// each one makes it publish, to learn the plan.
func calibrate(ctx context.Context, url, brokerURL, baseTopic, discoveryPrefix string) (*plan, error) {
	return calibrateOn(ctx, url, calibrationTarget{prefix: calibrationPrefix, locks: [2]int{0, 1}}, brokerURL, baseTopic, discoveryPrefix)
}

// calibrationTarget says which two locks the calibration sends its webhooks for, and where.
type calibrationTarget struct {
	prefix  int       // serial prefix
	locks   [2]int    // the steps' locks 0 and 1 are these locks of the prefix
	bridges []string  // spread as webhookURL spreads them; both locks must land on one bridge
	base    time.Time // event time of the first step; zero: now
}

// calibrationFor picks the calibration's locks for a run over locks locks behind bridges. They
// are locks of their own unless the run's locks and them together would pass the service's
// limit on locks tracked (state.MaxLocks), which would refuse the run's last two: then they are
// two of the run's own locks on one bridge, with event times a minute in the past, so that the
// run's events (stamped from its own start) are all newer.
func calibrationFor(locks, serialPrefix int, bridges []string, now time.Time) calibrationTarget {
	if locks+2 <= state.MaxLocks {
		return calibrationTarget{prefix: calibrationPrefix, locks: [2]int{0, 1}, bridges: firstBridge(bridges)}
	}
	second := max(1, len(bridges)) // on bridge 0 as the run spreads them
	return calibrationTarget{prefix: serialPrefix, locks: [2]int{0, second}, bridges: bridges, base: now.Add(-time.Minute)}
}

func firstBridge(bridges []string) []string {
	if len(bridges) == 0 {
		return nil
	}
	return bridges[:1]
}

// calibrateOn calibrates with the webhooks of target's locks.
func calibrateOn(ctx context.Context, url string, target calibrationTarget, brokerURL, baseTopic, discoveryPrefix string) (*plan, error) {
	base := target.base
	if base.IsZero() {
		base = time.Now()
	}
	gen, err := newGenerator(target.locks[1]+1, 20, target.prefix, base, formatPost)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var got []planMsg
	tr := newTracker(gen, false)
	sub := newSubscriber(tr, baseTopic)
	sub.onMessage = func(topic string, payload []byte) {
		if topic == baseTopic+"/status" {
			return
		}
		mu.Lock()
		got = append(got, planMsg{Topic: topic, Size: len(payload), Retain: !strings.HasSuffix(topic, "/event")})
		mu.Unlock()
	}
	filters := []string{baseTopic + "/#"}
	if discoveryPrefix != "" {
		filters = append(filters, discoveryPrefix+"/#")
	}
	mc, err := connectSubscriber(brokerURL, filters, sub.handle)
	if err != nil {
		return nil, err
	}
	defer mc.Disconnect(100)
	if err := sub.sync(mc, 30*time.Second); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	p := &plan{First: map[string][]planMsg{}, Steady: map[string][]planMsg{}}
	for _, step := range calibrationSteps {
		step.lock = target.locks[step.lock]
		mu.Lock()
		got = nil
		mu.Unlock()
		req, err := gen.request(webhookURL(url, target.bridges, step.lock), hook{lock: step.lock, seq: step.seq})
		if err != nil {
			return nil, err
		}
		before := tr.delivered.Load()
		tr.begin(step.lock, step.seq)
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("calibration webhook: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("calibration webhook: HTTP %d", resp.StatusCode)
		}
		tr.answered(step.lock, step.seq, stateAccepted)
		deadline := time.Now().Add(5 * time.Second)
		for tr.delivered.Load() == before {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("calibration: no event message for %s within 5s", gen.serials[step.lock])
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		msgs := templated(got, gen.serials[step.lock])
		mu.Unlock()
		k := kindOf(step.seq).String()
		if step.first {
			p.First[k] = msgs
		}
		if step.steady {
			p.Steady[k] = msgs
		}
	}
	return p, nil
}

func templated(msgs []planMsg, serial string) []planMsg {
	out := make([]planMsg, len(msgs))
	for i, m := range msgs {
		m.Topic = strings.ReplaceAll(m.Topic, serial, serialPlaceholder)
		out[i] = m
	}
	return out
}

// messages returns the plan's messages for a webhook of kind k.
func (p *plan) messages(k string, first bool) []planMsg {
	if first {
		if msgs, ok := p.First[k]; ok {
			return msgs
		}
	}
	return p.Steady[k]
}

// describe summarises the plan, e.g. "status 5 (first 12), battery 3, connection 3".
func (p *plan) describe() string {
	var parts []string
	for k := kind(0); k < numKinds; k++ {
		s := fmt.Sprintf("%s %d", k, len(p.Steady[k.String()]))
		if first, ok := p.First[k.String()]; ok {
			s += fmt.Sprintf(" (first %d)", len(first))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// leaves lists the topic leaves and payload sizes of msgs, for the report.
func leaves(msgs []planMsg) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, fmt.Sprintf("%s:%d", m.Topic[strings.LastIndexByte(m.Topic, '/')+1:], m.Size))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (p *plan) save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func loadPlan(path string) (*plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	if len(p.Steady) == 0 {
		return nil, fmt.Errorf("plan %s: no steady-state messages", path)
	}
	return &p, nil
}
