package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// measurement is one load run against one target, with what /proc said about the target.
type measurement struct {
	Rep    int     `json:"rep"`
	Target string  `json:"target"` // "service" or "baseline"
	Result *result `json:"result"`
	// Memory in KiB; -1 when unknown (no pid).
	IdleRSSKiB  int64 `json:"idle_rss_kib"`  // after starting and idling, before any webhook
	PeakRSSKiB  int64 `json:"peak_rss_kib"`  // VmHWM at the end of the run (sampled VmRSS peak with -pid)
	RSSAfterKiB int64 `json:"rss_after_kib"` // VmRSS at the end of the run
	// CPU time used during the run (user + system); negative when unknown.
	CPU       time.Duration `json:"cpu_ns"`
	BrokerCPU time.Duration `json:"broker_cpu_ns"`
	LoadCPU   time.Duration `json:"load_cpu_ns"` // this tool's own
	// OtherCPU is the CPU time the rest of the machine used during the run: everything busy
	// minus the target, the broker and this tool. On a shared machine it says how noisy the run
	// was. Steal is time the hypervisor gave to other guests. Negative when unknown.
	OtherCPU time.Duration `json:"other_cpu_ns"`
	Steal    time.Duration `json:"steal_ns"`
	// LoadPeakRSSKiB is this tool's own VmHWM at the end of the run (its memory must stay bounded
	// however many webhooks a run sends).
	LoadPeakRSSKiB int64 `json:"load_peak_rss_kib"`
	// Restart and Birth are the results of the restart and birth scenarios, when asked for.
	Restart *restartResult `json:"restart,omitempty"`
	Birth   *birthResult   `json:"birth,omitempty"`
}

// cpuPerWebhook is CPU microseconds per accepted webhook.
func (m *measurement) cpuPerWebhook() float64 {
	if m.CPU < 0 || m.Result.Accepted == 0 {
		return math.NaN()
	}
	return float64(m.CPU.Microseconds()) / float64(m.Result.Accepted)
}

// bench runs the measurements the command line asks for and prints them.
func bench(ctx context.Context, c config, stdout, stderr io.Writer) error {
	dir := c.logDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tedee2mqtt-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.load.BrokerURL = c.broker
	broker := c.broker
	if broker == "" {
		broker = "a fresh private mosquitto per run"
	}
	if c.url != "" {
		if err := loopbackURL(c.url); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "machine: %d CPUs, %s, %s, %s\n", runtime.NumCPU(), cpuModel(), runtime.Version(), mosquittoVersion(c.mosquittoBin))
	rate := "flat out"
	if c.load.Rate > 0 {
		rate = fmt.Sprintf("%g/s", c.load.Rate)
	}
	if len(c.serviceEnv) > 0 {
		fmt.Fprintf(stdout, "service environment: %s\n", strings.Join(c.serviceEnv, " "))
	}
	fmt.Fprintf(stdout, "load: %d webhooks over %d locks, %s, %d connections, %s, QoS %d, broker %s\n",
		c.load.Count, c.load.Locks, rate, c.load.Concurrency, c.load.Format, c.qos, broker)
	if len(c.load.Bridges) > 0 {
		fmt.Fprintf(stdout, "bridges: %d (%s … %s), locks spread round-robin\n", len(c.load.Bridges),
			c.load.Bridges[0], c.load.Bridges[len(c.load.Bridges)-1])
	}
	if c.birthAt > 0 {
		fmt.Fprintf(stdout, "Home Assistant birth %s after the first webhook, broker with Mosquitto's default queue limits\n", c.birthAt)
	}

	var p *plan
	var ms []*measurement
	headerDone := false
	for rep := 1; rep <= c.repeat; rep++ {
		targets := []string{"service"}
		if c.baseline {
			targets = append(targets, "baseline")
			// Alternate the order so that neither always runs on a warmer (or busier) machine.
			if rep%2 == 0 {
				targets[0], targets[1] = targets[1], targets[0]
			}
		}
		for _, target := range targets {
			m, err := measure(ctx, c, target, rep, &p, dir, stdout)
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", rep, target, err)
			}
			ms = append(ms, m)
			const row = "%3v %-8v %10v %11v %8v %10v %10v %10v %6v %6v %9v %9v %7v %11v %10v %8v %9v\n"
			if !headerDone {
				fmt.Fprintf(stdout, row, "run", "target", "accepted/s", "delivered/s", "msgs/s", "p50", "p99", "max",
					"lost", "errors", "idle RSS", "peak RSS", "CPU", "CPU/webhook", "broker CPU", "load CPU", "other CPU")
				headerDone = true
			}
			r := m.Result
			fmt.Fprintf(stdout, row, rep, target, f0(r.AcceptedPerSec()), f0(r.DeliveredPerSec()), f0(r.MessagesPerSec()),
				ms3(r.P50), ms3(r.P99), ms3(r.Max), r.Lost, r.Rejected+r.Transport,
				mib(m.IdleRSSKiB), mib(m.PeakRSSKiB), secs(m.CPU), us(m.cpuPerWebhook()), secs(m.BrokerCPU), secs(m.LoadCPU),
				secs(m.OtherCPU))
			if r.FirstError != "" {
				fmt.Fprintf(stdout, "    first error: %s (statuses %v)\n", r.FirstError, r.Statuses)
			}
			if r.Lost > 0 || r.Duplicates > 0 || r.Unmatched > 0 || r.Unaccepted > 0 {
				fmt.Fprintf(stdout, "    lost %d, duplicates %d, unmatched %d, delivered but not accepted %d\n",
					r.Lost, r.Duplicates, r.Unmatched, r.Unaccepted)
			}
			if m.Restart != nil {
				fmt.Fprintf(stdout, "    %s\n", strings.ReplaceAll(m.Restart.describe(), "\n", "\n    "))
			}
			if m.Birth != nil {
				fmt.Fprintf(stdout, "    %s\n", strings.ReplaceAll(m.Birth.describe(), "\n", "\n    "))
			}
			if r.Sent < c.load.Count {
				fmt.Fprintf(stdout, "    only %d of %d sent within -duration %s\n", r.Sent, c.load.Count, c.load.Duration)
			}
		}
	}
	summary(stdout, ms, c.baseline)
	if c.jsonOut != "" {
		b, err := json.MarshalIndent(struct {
			Plan         *plan          `json:"plan"`
			Measurements []*measurement `json:"measurements"`
		}{p, ms}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// measure starts target (unless it runs already), measures one load run, and stops it.
//
// Without -broker every run gets a fresh mosquitto: tedee2mqtt reads the retained snapshots back
// at startup, so on a shared broker a run would start with the locks of the run before (or with
// the baseline's filler payloads), and the subscriber would first be replayed all of them.
func measure(ctx context.Context, c config, target string, rep int, p **plan, dir string, stdout io.Writer) (*measurement, error) {
	m := &measurement{Rep: rep, Target: target, IdleRSSKiB: -1, PeakRSSKiB: -1, RSSAfterKiB: -1,
		CPU: -1, BrokerCPU: -1, LoadCPU: -1, OtherCPU: -1, Steal: -1, LoadPeakRSSKiB: -1}
	brokerPid := 0
	var brokerLog string
	if c.broker == "" {
		bdir := filepath.Join(dir, fmt.Sprintf("broker-%d-%s", rep, target))
		if err := os.MkdirAll(bdir, 0o755); err != nil {
			return nil, err
		}
		mosq, url, err := startMosquittoWith(c.mosquittoBin, bdir, c.birthAt > 0)
		if err != nil {
			return nil, err
		}
		defer func() { _ = mosq.stop(5 * time.Second) }() // after the target: defers run last-in first-out
		c.load.BrokerURL, brokerPid, brokerLog = url, mosq.pid(), mosq.log
	}
	url, pid, external := c.url, c.pid, true
	var ch *child
	var svc *serviceRun
	var err error
	switch {
	case target == "baseline":
		ch, url, err = startBaseline(c, *p, dir, rep)
		external = false
	case c.serviceBin != "":
		svc, err = startService(c, dir, rep)
		if svc != nil {
			ch, url = svc.ch, svc.url
		}
		external = false
	}
	if err != nil {
		return nil, err
	}
	if ch != nil {
		pid = ch.pid()
		// ch, not its value now: the restart scenario replaces it with the restarted service.
		defer func() {
			if err := ch.stop(15 * time.Second); err != nil {
				fmt.Fprintf(stdout, "    %s: %v\n", ch.name, err)
			}
		}()
		if err := sleep(ctx, c.idle); err != nil {
			return nil, err
		}
	}
	if pid > 0 {
		if ps, err := readProc(pid); err == nil && !external {
			m.IdleRSSKiB = ps.RSSKiB
		}
	}
	if target == "service" {
		// Learn (or check) how many messages the service publishes per webhook.
		ct := calibrationFor(c.load.Locks, c.load.SerialPrefix, c.load.Bridges, time.Now())
		got, err := calibrateOn(ctx, url, ct, c.load.BrokerURL, c.baseTopic, c.load.DiscoveryPrefix)
		if err != nil {
			return nil, err
		}
		if *p == nil {
			*p = got
			fmt.Fprintf(stdout, "messages per webhook (measured from the service): %s\n", got.describe())
			for k := kind(0); k < numKinds; k++ {
				fmt.Fprintf(stdout, "    %-10s %s\n", k, leaves(got.Steady[k.String()]))
			}
			fmt.Fprintf(stdout, "    %-10s %s\n", "first", leaves(got.First[kindStatus.String()]))
		} else if got.describe() != (*p).describe() {
			fmt.Fprintf(stdout, "    warning: the service published %s this time\n", got.describe())
		}
	}

	procBefore := func(pid int) procStats {
		if pid <= 0 {
			return procStats{CPU: -1}
		}
		ps, err := readProc(pid)
		if err != nil {
			return procStats{CPU: -1}
		}
		return ps
	}
	before, brokerBefore, selfBefore := procBefore(pid), procBefore(brokerPid), procBefore(os.Getpid())
	busyBefore, stealBefore, machineErr := machineCPU()
	var samp *sampler
	if pid > 0 {
		samp = sampleRSS(pid, 100*time.Millisecond)
	}
	o := c.load
	o.URL = url
	var ha *haSubscriber
	if c.birthAt > 0 && target == "service" {
		// Home Assistant alone subscribes to the discovery prefix: the main subscriber keeps to
		// the base topic, so that it neither doubles the broker's work on the configs nor
		// competes with the Home Assistant-like subscriber for the broker's attention.
		o.DiscoveryPrefix = ""
		o.Timeline = true
		if ha, err = startHASubscriber(c.load.BrokerURL, c.load.DiscoveryPrefix, c.haStatusTopic, c.haPerMessage); err != nil {
			if samp != nil {
				samp.finish()
			}
			return nil, err
		}
		defer ha.close()
		o.OnStart = func(tr *tracker) { ha.birthAfter(tr, c.birthAt) }
	}
	res, err := runLoad(ctx, o)
	if err != nil {
		if samp != nil {
			samp.finish()
		}
		return nil, err
	}
	m.Result = res
	if ha != nil {
		m.Birth = ha.finish(ctx, res.tracker, c.birthWait)
		m.Birth.BrokerDropped = brokerDropped(c.load.BrokerURL)
		m.Birth.DroppedFor = droppingClients(brokerLog)
	}
	delta := func(pid int, before procStats) (procStats, time.Duration) {
		after := procBefore(pid)
		if before.CPU < 0 || after.CPU < 0 {
			return after, -1
		}
		return after, after.CPU - before.CPU
	}
	var after procStats
	var self procStats
	after, m.CPU = delta(pid, before)
	_, m.BrokerCPU = delta(brokerPid, brokerBefore)
	self, m.LoadCPU = delta(os.Getpid(), selfBefore)
	m.LoadPeakRSSKiB = self.PeakKiB
	if busyAfter, stealAfter, err := machineCPU(); err == nil && machineErr == nil && m.CPU >= 0 && m.LoadCPU >= 0 {
		// Per-process and machine-wide times are sampled apart, so a quiet run can come out a
		// tick or two below zero: that is zero.
		m.OtherCPU = max(0, busyAfter-busyBefore-m.CPU-m.LoadCPU-max(m.BrokerCPU, 0))
		m.Steal = stealAfter - stealBefore
	}
	if samp != nil {
		peak := samp.finish()
		m.RSSAfterKiB = after.RSSKiB
		m.PeakRSSKiB = peak
		if !external {
			m.PeakRSSKiB = after.PeakKiB
		}
	}
	if c.restart && svc != nil {
		m.Restart, err = restartService(ctx, c, svc, res)
		ch = svc.ch // stopped at the end, whatever happened
		if err != nil {
			return nil, fmt.Errorf("restart: %w", err)
		}
	}
	return m, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	return realClock{}.Sleep(ctx, d)
}

// summary prints the median and spread of every figure over the runs, and the service/baseline
// ratios, computed per run pair (the two targets of one repetition ran back to back) and then
// summarised.
func summary(out io.Writer, ms []*measurement, withBaseline bool) {
	type figure struct {
		name  string
		get   func(*measurement) float64
		unit  func(float64) string
		ratio bool
	}
	figures := []figure{
		{"accepted webhooks/s", func(m *measurement) float64 { return m.Result.AcceptedPerSec() }, f0, true},
		{"delivered webhooks/s", func(m *measurement) float64 { return m.Result.DeliveredPerSec() }, f0, true},
		{"delivered MQTT msgs/s", func(m *measurement) float64 { return m.Result.MessagesPerSec() }, f0, true},
		{"latency p50 (ms)", func(m *measurement) float64 { return msf(m.Result.P50) }, f2, true},
		{"latency p99 (ms)", func(m *measurement) float64 { return msf(m.Result.P99) }, f2, true},
		{"latency max (ms)", func(m *measurement) float64 { return msf(m.Result.Max) }, f2, true},
		{"HTTP answer p99 (ms)", func(m *measurement) float64 { return msf(m.Result.AnswerP99) }, f2, true},
		{"lost", func(m *measurement) float64 { return float64(m.Result.Lost) }, f0, false},
		{"errors", func(m *measurement) float64 { return float64(m.Result.Rejected + m.Result.Transport) }, f0, false},
		{"idle RSS (MiB)", func(m *measurement) float64 { return kibToMiB(m.IdleRSSKiB) }, f2, true},
		{"peak RSS (MiB)", func(m *measurement) float64 { return kibToMiB(m.PeakRSSKiB) }, f2, true},
		{"RSS after run (MiB)", func(m *measurement) float64 { return kibToMiB(m.RSSAfterKiB) }, f2, true},
		{"CPU (s)", func(m *measurement) float64 { return secf(m.CPU) }, f2, true},
		{"CPU per webhook (µs)", func(m *measurement) float64 { return m.cpuPerWebhook() }, f0, true},
		{"broker CPU (s)", func(m *measurement) float64 { return secf(m.BrokerCPU) }, f2, true},
		{"load tool CPU (s)", func(m *measurement) float64 { return secf(m.LoadCPU) }, f2, true},
		{"load tool peak RSS (MiB)", func(m *measurement) float64 { return kibToMiB(m.LoadPeakRSSKiB) }, f2, false},
		{"other CPU on the machine (s)", func(m *measurement) float64 { return secf(m.OtherCPU) }, f2, false},
		{"stolen by the hypervisor (s)", func(m *measurement) float64 { return secf(m.Steal) }, f2, false},
	}
	byTarget := func(target string) map[int]*measurement {
		out := map[int]*measurement{}
		for _, m := range ms {
			if m.Target == target {
				out[m.Rep] = m
			}
		}
		return out
	}
	svc, base := byTarget("service"), byTarget("baseline")
	show := func(s spread, unit func(float64) string) string {
		if math.IsNaN(s.Median) {
			return "n/a"
		}
		if s.N == 1 {
			return unit(s.Median)
		}
		return fmt.Sprintf("%s [%s–%s]", unit(s.Median), unit(s.Min), unit(s.Max))
	}
	fmt.Fprintf(out, "\nsummary: median [min–max] of %d runs\n", len(svc))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if withBaseline {
		fmt.Fprintln(w, "figure\tservice\tbaseline\tservice/baseline")
	} else {
		fmt.Fprintln(w, "figure\tservice")
	}
	for _, f := range figures {
		var sv, bv, ratio []float64
		for rep, m := range svc {
			v := f.get(m)
			sv = append(sv, v)
			if b, ok := base[rep]; ok {
				x := f.get(b)
				bv = append(bv, x)
				ratio = append(ratio, v/x)
			}
		}
		line := f.name + "\t" + show(summarize(sv), f.unit)
		if withBaseline {
			r := "\t"
			if f.ratio {
				r = "\t" + show(summarize(ratio), f2)
			}
			line += "\t" + show(summarize(bv), f.unit) + r
		}
		fmt.Fprintln(w, line)
	}
	_ = w.Flush()
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func secf(d time.Duration) float64 {
	if d < 0 {
		return math.NaN()
	}
	return d.Seconds()
}

func kibToMiB(k int64) float64 {
	if k < 0 {
		return math.NaN()
	}
	return float64(k) / 1024
}

func ms3(d time.Duration) string { return fmt.Sprintf("%.2fms", msf(d)) }

func mib(k int64) string {
	if k < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fMiB", kibToMiB(k))
}

func secs(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func us(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.0fµs", v)
}

// cpuModel is the "model name" line of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
