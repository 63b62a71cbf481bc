package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// restartResult is what the restart scenario measured: the service, stopped (SIGTERM) after a run
// with its locks in data_dir/state.json and retained on the broker, started again on the same
// data_dir and broker, twice: with the broker still retaining the locks' json topics (the service
// reads them back, merges them with state.json and republishes only what differs), and with
// those retained topics cleared (the restore then comes from state.json alone, and every lock's
// json topic must be republished).
type restartResult struct {
	Locks int          `json:"locks"` // the run's locks the service had seen
	Runs  []restartRun `json:"runs"`
}

// restartRun is one stop and start.
type restartRun struct {
	Retained       bool          `json:"retained"`         // the broker still retained the json topics
	StateFileBytes int64         `json:"state_file_bytes"` // data_dir/state.json after the stop; -1 if none
	Stop           time.Duration `json:"stop_ns"`          // SIGTERM -> exited
	Ready          time.Duration `json:"ready_ns"`         // process started -> /readyz 200
	// AllJSON is process started -> the last of the run's json topics republished; -1 if not
	// all came (within -restart-wait, or, with the topics retained, within restartSettle).
	AllJSON     time.Duration `json:"all_json_ns"`
	JSONSeen    int           `json:"json_seen"`     // distinct locks of the run republished
	RSSAfterKiB int64         `json:"rss_after_kib"` // VmRSS once all were republished (or the wait ended)
}

// restartSettle is how long after a start with the json topics retained the tool counts what is
// republished: the service republishes only what the broker does not hold as it does, which
// after a clean stop is nothing, so there is nothing to wait for.
const restartSettle = 3 * time.Second

// republishWatch counts the live (not retained) <base>/<serial>/json messages of a set of serials:
// what a restarted service republishes. The broker's retained copies, replayed on subscribe, are
// not counted.
type republishWatch struct {
	want   map[string]bool
	prefix string

	mu   sync.Mutex
	from time.Time // messages before are the old process's; zero: not counting yet
	seen map[string]bool
	last time.Time
	all  chan struct{}
}

func newRepublishWatch(baseTopic string, serials []string) *republishWatch {
	w := &republishWatch{want: make(map[string]bool, len(serials)), seen: map[string]bool{},
		prefix: baseTopic + "/", all: make(chan struct{})}
	for _, s := range serials {
		w.want[s] = true
	}
	if len(w.want) == 0 {
		close(w.all)
	}
	return w
}

// serialOf is the serial of a <base>/<serial>/json topic, or "".
func serialOf(topic, prefix string) string {
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return ""
	}
	serial, ok := strings.CutSuffix(rest, "/json")
	if !ok || strings.Contains(serial, "/") {
		return ""
	}
	return serial
}

func (w *republishWatch) handle(_ paho.Client, m paho.Message) {
	// Retained: the broker's copy, replayed on subscribe. Empty: the tool's own clearing of it.
	if m.Retained() || len(m.Payload()) == 0 {
		return
	}
	w.note(m.Topic(), time.Now())
}

// note records a live json message arrived at at.
func (w *republishWatch) note(topic string, at time.Time) {
	serial := serialOf(topic, w.prefix)
	if !w.want[serial] {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.from.IsZero() || at.Before(w.from) || w.seen[serial] {
		return
	}
	w.seen[serial] = true
	w.last = at
	if len(w.seen) == len(w.want) {
		close(w.all)
	}
}

// countFrom starts counting the messages that arrive from at on.
func (w *republishWatch) countFrom(at time.Time) {
	w.mu.Lock()
	w.from = at
	w.mu.Unlock()
}

func (w *republishWatch) counts() (seen int, last time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen), w.last
}

// seenLocks lists the serials of the locks a run sent at least one webhook for.
func (t *tracker) seenLocks() []string {
	var out []string
	for i := range t.locks {
		lt := &t.locks[i]
		lt.mu.Lock()
		if lt.lastSent >= 0 {
			out = append(out, t.gen.serials[i])
		}
		lt.mu.Unlock()
	}
	return out
}

// restartService stops the service that ran the load and starts it again on the same
// configuration, data_dir and broker, first with the broker's retained json topics as they are,
// then with them cleared; see restartResult.
func restartService(ctx context.Context, c config, svc *serviceRun, res *result) (*restartResult, error) {
	serials := res.tracker.seenLocks()
	r := &restartResult{Locks: len(serials)}
	for _, retained := range []bool{true, false} {
		run, err := restartOnce(ctx, c, svc, serials, retained)
		if err != nil {
			return nil, err
		}
		r.Runs = append(r.Runs, *run)
	}
	return r, nil
}

func restartOnce(ctx context.Context, c config, svc *serviceRun, serials []string, retained bool) (*restartRun, error) {
	w := newRepublishWatch(c.baseTopic, serials)
	mc, err := connectSubscriber(c.load.BrokerURL, []string{c.baseTopic + "/+/json"}, w.handle)
	if err != nil {
		return nil, err
	}
	defer mc.Disconnect(100)
	r := &restartRun{Retained: retained, StateFileBytes: -1, AllJSON: -1, RSSAfterKiB: -1}

	stopAt := time.Now()
	if err := svc.ch.stop(60 * time.Second); err != nil {
		return nil, fmt.Errorf("stop the service: %w", err)
	}
	r.Stop = time.Since(stopAt)
	if fi, err := os.Stat(filepath.Join(svc.dataDir, "state.json")); err == nil {
		r.StateFileBytes = fi.Size()
	}
	if !retained {
		if err := clearRetained(mc, c.baseTopic, serials); err != nil {
			return nil, err
		}
	}
	w.countFrom(time.Now())
	if err := svc.start(c.serviceBin, time.Minute); err != nil {
		return nil, fmt.Errorf("start again: %w", err)
	}
	r.Ready = svc.ready
	limit := c.restartWait
	if retained {
		limit = svc.ready + restartSettle
	}
	wait := time.NewTimer(limit - time.Since(svc.started))
	defer wait.Stop()
	select {
	case <-w.all:
	case <-wait.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	seen, last := w.counts()
	r.JSONSeen = seen
	if seen == len(w.want) {
		r.AllJSON = last.Sub(svc.started)
	}
	if ps, err := readProc(svc.ch.pid()); err == nil {
		r.RSSAfterKiB = ps.RSSKiB
	}
	return r, nil
}

// clearRetained removes the broker's retained json topics of serials (an empty retained
// message), as a broker that lost its retained messages would have them.
func clearRetained(mc paho.Client, baseTopic string, serials []string) error {
	var last paho.Token
	for _, s := range serials {
		last = mc.Publish(baseTopic+"/"+s+"/json", 1, true, []byte{})
	}
	if last != nil && (!last.WaitTimeout(30*time.Second) || last.Error() != nil) {
		return fmt.Errorf("clear the retained json topics: %v", tokenErr(last))
	}
	return nil
}

// describe is the restart scenario's lines of the report.
func (r *restartResult) describe() string {
	var b strings.Builder
	for i, run := range r.Runs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(run.describe(r.Locks))
	}
	return b.String()
}

// describe is one restart's line of the report.
func (r *restartRun) describe(locks int) string {
	from := "state.json, json topics cleared on the broker"
	if r.Retained {
		from = "state.json and the broker's retained json topics"
	}
	all := fmt.Sprintf("%.3f s (all %d lock json topics republished)", r.AllJSON.Seconds(), locks)
	switch {
	case r.AllJSON >= 0:
	case r.Retained:
		all = fmt.Sprintf("%d of %d lock json topics republished (only what differs from the broker's is)", r.JSONSeen, locks)
	default:
		all = fmt.Sprintf("only %d of %d lock json topics republished within -restart-wait", r.JSONSeen, locks)
	}
	return fmt.Sprintf("start with restore of %d locks (%s): %.3f s (ready), %s; stop %.3f s, state.json %s, RSS then %s",
		locks, from, r.Ready.Seconds(), all, r.Stop.Seconds(), kib(r.StateFileBytes), mib(r.RSSAfterKiB))
}

// kib renders a byte count in KiB, or n/a.
func kib(bytes int64) string {
	if bytes < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f KiB", float64(bytes)/1024)
}
