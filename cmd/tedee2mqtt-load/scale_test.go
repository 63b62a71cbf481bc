package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	svcconfig "github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

func TestBridgeNamesAndURLs(t *testing.T) {
	names := bridgeNames(100)
	if len(names) != 100 || names[0] != "load-000" || names[99] != "load-099" {
		t.Fatalf("names %v … %v", names[0], names[len(names)-1])
	}
	if len(bridgeNames(0)) != 0 {
		t.Error("0 bridges gave names")
	}
	if got := webhookURL("http://127.0.0.1:1/webhook", nil, 5); got != "http://127.0.0.1:1/webhook" {
		t.Errorf("without bridges: %s", got)
	}
	if got := webhookURL("http://127.0.0.1:1/webhook/", names, 205); got != "http://127.0.0.1:1/webhook/load-005" {
		t.Errorf("lock 205 of 100 bridges: %s", got)
	}
}

// The generated configuration is one the service accepts, with every bridge, and lets 10,000
// locks over 100 bridges in (the store tracks at most state.MaxLocks in all).
func TestServiceConfigLoads(t *testing.T) {
	for _, bridges := range []int{0, 100} {
		c := config{qos: 1, baseTopic: "tedee", homeassistant: true}
		c.load.BrokerURL = "tcp://127.0.0.1:1883"
		path := filepath.Join(t.TempDir(), "svc.yaml")
		text := serviceConfig(c, "127.0.0.1:8080", "client", filepath.Join(t.TempDir(), "data"), bridgeNames(bridges))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := svcconfig.Load(path, nil)
		if err != nil {
			t.Fatalf("%d bridges: %v\n%s", bridges, err, text)
		}
		if len(cfg.Bridges) != bridges {
			t.Errorf("%d bridges configured, want %d", len(cfg.Bridges), bridges)
		}
		if bridges > 0 && 10000/bridges+2 > cfg.HTTP.MaxLocksPerBridge {
			t.Errorf("max_locks_per_bridge %d cannot take 10,000 locks over %d bridges", cfg.HTTP.MaxLocksPerBridge, bridges)
		}
		if !strings.HasSuffix(cfg.DataDir, "data") || cfg.MQTT.URL != c.load.BrokerURL {
			t.Errorf("data_dir %q, mqtt.url %q", cfg.DataDir, cfg.MQTT.URL)
		}
	}
}

// The calibration uses locks of its own, unless those would push the service past its limit on
// locks, and then two of the run's on one bridge, in the past.
func TestCalibrationFor(t *testing.T) {
	now := time.Now()
	ct := calibrationFor(1000, 20000000, bridgeNames(5), now)
	if ct.prefix != calibrationPrefix || ct.locks != [2]int{0, 1} || len(ct.bridges) != 1 {
		t.Errorf("1000 locks: %+v", ct)
	}
	names := bridgeNames(100)
	ct = calibrationFor(state.MaxLocks, 20000000, names, now)
	if ct.prefix != 20000000 || !ct.base.Before(now) {
		t.Errorf("%d locks: %+v", state.MaxLocks, ct)
	}
	if a, b := webhookURL("u", ct.bridges, ct.locks[0]), webhookURL("u", ct.bridges, ct.locks[1]); a != b || ct.locks[0] == ct.locks[1] {
		t.Errorf("calibration locks %v go to %s and %s", ct.locks, a, b)
	}
	if ct = calibrationFor(state.MaxLocks, 20000000, nil, now); ct.locks != [2]int{0, 1} || ct.prefix != 20000000 {
		t.Errorf("%d locks, default bridge: %+v", state.MaxLocks, ct)
	}
}

func TestMosquittoConfigQueues(t *testing.T) {
	if c := mosquittoConfig("1883", false); !strings.Contains(c, "max_queued_messages 1000000") {
		t.Errorf("load broker without a raised queue:\n%s", c)
	}
	c := mosquittoConfig("1883", true)
	if strings.Contains(c, "max_queued") || !strings.Contains(c, "sys_interval 1") {
		t.Errorf("birth broker not at default queue limits, or without $SYS:\n%s", c)
	}
}

func TestParseDropping(t *testing.T) {
	log := "1700000000: New connection from 127.0.0.1\n" +
		"1700000001: Outgoing messages are being dropped for client t2m-load-ha-7.\n" +
		"1700000002: Outgoing messages are being dropped for client t2m-load-ha-7.\n" +
		"1700000003: Outgoing messages are being dropped for client other.\n"
	got := parseDropping(bufio.NewScanner(strings.NewReader(log)))
	if fmt.Sprint(got) != "[t2m-load-ha-7 other]" {
		t.Errorf("got %v", got)
	}
}

func TestRepublishWatchCountsLiveJSONAfterTheRestart(t *testing.T) {
	w := newRepublishWatch("tedee", []string{"A", "B"})
	start := time.Now()
	w.note("tedee/A/json", start) // the old process, before counting
	w.countFrom(start.Add(time.Millisecond))
	for _, topic := range []string{"tedee/A/state", "tedee/C/json", "tedee/A/json", "tedee/A/json", "other/B/json"} {
		w.note(topic, start.Add(2*time.Millisecond))
	}
	if seen, _ := w.counts(); seen != 1 {
		t.Fatalf("seen %d, want only A", seen)
	}
	select {
	case <-w.all:
		t.Fatal("complete with B missing")
	default:
	}
	w.note("tedee/B/json", start.Add(5*time.Millisecond))
	seen, last := w.counts()
	if seen != 2 || !last.Equal(start.Add(5*time.Millisecond)) {
		t.Errorf("seen %d last %v", seen, last)
	}
	select {
	case <-w.all:
	default:
		t.Error("not complete with both")
	}
}

func TestHASubscriberCountsTheRepublish(t *testing.T) {
	h := &haSubscriber{before: map[string]bool{}, after: map[string]int{}, complete: make(chan struct{})}
	t0 := time.Now()
	for _, topic := range []string{"homeassistant/lock/a/config", "homeassistant/sensor/a/config", "homeassistant/sensor/b/config", "homeassistant/status"} {
		h.note(topic, t0)
	}
	h.mu.Lock()
	h.born, h.birth = true, t0
	h.mu.Unlock()
	h.note("homeassistant/lock/a/config", t0.Add(time.Second))
	h.note("homeassistant/lock/a/config", t0.Add(2*time.Second))
	h.note("homeassistant/lock/new/config", t0.Add(3*time.Second))
	h.note("homeassistant/sensor/b/config", t0.Add(4*time.Second))
	tr := testTracker(t, 1, true)
	tr.start = t0.Add(-10 * time.Second)
	r := h.finish(context.Background(), tr, 50*time.Millisecond)
	if !r.Born || r.Expected != 3 || r.Arrived != 2 || r.Missing != 1 || r.Extra != 1 || r.Repeats != 1 {
		t.Errorf("born %v expected %d arrived %d missing %d extra %d repeats %d; want true 3 2 1 1 1",
			r.Born, r.Expected, r.Arrived, r.Missing, r.Extra, r.Repeats)
	}
	if r.Republish != 4*time.Second || r.BirthAt != 10*time.Second || r.During.From != 10*time.Second || r.During.To != 15*time.Second {
		t.Errorf("republish %v, birth at %v, window %v-%v", r.Republish, r.BirthAt, r.During.From, r.During.To)
	}
	if !strings.Contains(r.describe(), "2 of 3 discovery configs republished, 1 missing") {
		t.Errorf("report: %s", r.describe())
	}
}

// pathRecorder answers like the fake service and remembers which path each lock's webhooks went to.
type pathRecorder struct {
	*fakeService
	mu    sync.Mutex
	paths map[string][]string // serial -> paths
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	serial := r.Header.Get(headerSerial)
	if !slices.Contains(p.paths[serial], r.URL.Path) {
		p.paths[serial] = append(p.paths[serial], r.URL.Path)
	}
	p.mu.Unlock()
	p.fakeService.ServeHTTP(w, r)
}

// With bridges, every lock's webhooks go to its one bridge, and the locks spread evenly.
func TestLoadSpreadsLocksOverBridges(t *testing.T) {
	b := brokertest.Start(t)
	rec := &pathRecorder{fakeService: newFakeService(t, b.URL()), paths: map[string][]string{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	o := testOptions(srv.URL+"/webhook", b.URL(), 120)
	o.Locks, o.Bridges = 12, bridgeNames(3)
	r, err := runLoad(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivered != 120 || r.Lost != 0 {
		t.Errorf("delivered %d, lost %d", r.Delivered, r.Lost)
	}
	perBridge := map[string]int{}
	for serial, paths := range rec.paths {
		if len(paths) != 1 {
			t.Errorf("lock %s went to %v", serial, paths)
		}
		perBridge[paths[0]]++
	}
	if len(perBridge) != 3 || perBridge["/webhook/load-000"] != 4 || perBridge["/webhook/load-002"] != 4 {
		t.Errorf("locks per bridge: %v", perBridge)
	}
}

func TestScenarioFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-service-bin", "x", "-restart"}, "-baseline=false"},
		{[]string{"-service-bin", "x", "-birth-at", "10s", "-broker", "tcp://127.0.0.1:1"}, "without -broker"},
		{[]string{"-url", "http://127.0.0.1:1/webhook", "-broker", "tcp://127.0.0.1:1", "-bridges", "5"}, "-service-bin"},
		{[]string{"-service-bin", "x", "-bridges", "-1"}, "bridges must be"},
		{[]string{"-service-bin", "x", "-birth-at", "10s", "-baseline=false", "-homeassistant=false"}, "discovery"},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), tc.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
}
