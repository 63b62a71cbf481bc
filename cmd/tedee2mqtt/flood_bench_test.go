package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFloodBrokerDown is issue 14's flood, measured: the broker is down (nothing listens at
// mqtt.url), and a stranger on the LAN sends, as fast as 8 connections go, 10,000 webhooks that
// each invent a new lock, then 20,000 status changes for the locks that got in, each carrying
// ~3.9 KB of junk in data. It reports what got in, what the service holds for the broker, and
// memory: the Go heap's peak (sampled every 10 ms) and after a GC, and the process's peak RSS
// (VmHWM; the benchmark's own client is in the same process, so this is an upper bound).
// Run one sub-benchmark per process, VmHWM being the process's:
//
//	go test ./cmd/tedee2mqtt -run '^$' -bench 'FloodBrokerDown/max_locks_per_bridge=100$' -benchtime 1x
func BenchmarkFloodBrokerDown(b *testing.B) {
	for _, maxLocks := range []int{100, 1000} {
		b.Run(fmt.Sprintf("max_locks_per_bridge=%d", maxLocks), func(b *testing.B) {
			for b.Loop() {
				floodOnce(b, maxLocks)
			}
		})
	}
}

func floodOnce(b *testing.B, maxLocks int) {
	base, stop := startBenchService(b, maxLocks)
	defer stop()

	var peak atomic.Uint64
	sampled := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	began := time.Now()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	status := func(serial string, i int, junk string) string {
		return fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":%d,"serialNumber":%q,"state":%d,"jammed":0,"doorState":2%s}}`,
			t0.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), 1000+i, serial, 2+4*(i%2), junk)
	}
	codes := map[int]int{}
	var in []int // the invented locks that got in
	var mu sync.Mutex
	count := func(i, code int) {
		mu.Lock()
		defer mu.Unlock()
		codes[code]++
		if code == http.StatusNoContent {
			in = append(in, i)
		}
	}
	send := func(n int, body func(i int) string) {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 30 * time.Second}
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					resp, err := client.Post(base+"/webhook", "application/json", strings.NewReader(body(i)))
					if err != nil {
						count(i, 0)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					count(i, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
	}
	const invented, changes = 10000, 20000
	send(invented, func(i int) string { return status(fmt.Sprintf("FLOOD-%05d", i), i, "") })
	accepted, got := codes[http.StatusNoContent], append([]int(nil), in...)
	if accepted == 0 {
		b.Fatalf("no invented lock got in: %v", codes)
	}
	junk := `,"junk":"` + strings.Repeat("j", 250) + `"` // one bounded string…
	for i := range 14 {
		junk += fmt.Sprintf(`,"junk%02d":%q`, i, strings.Repeat("k", 250)) // …and more, to the 4 KiB bound
	}
	send(changes, func(i int) string {
		return status(fmt.Sprintf("FLOOD-%05d", got[i%len(got)]), invented+i, junk)
	})
	elapsed := time.Since(began)
	close(done)
	<-sampled

	pending := metric(b, base, "tedee2mqtt_mqtt_pending_messages")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(accepted), "locks-accepted")
	b.ReportMetric(float64(codes[http.StatusNoContent]-accepted), "changes-accepted")
	b.ReportMetric(float64(codes[http.StatusServiceUnavailable]), "refused-503")
	b.ReportMetric(float64(codes[0]), "failed-conns")
	b.ReportMetric(pending, "pending-msgs")
	b.ReportMetric(float64(invented+changes)/elapsed.Seconds(), "webhooks/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-after-MiB")
	b.ReportMetric(vmHWM(b), "peak-RSS-MiB")
}

// startBenchService runs the service in-process with its broker down and returns its base URL
// once it serves.
func startBenchService(b *testing.B, maxLocks int) (string, func()) {
	b.Helper()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	brokerURL := "tcp://" + closed.Addr().String()
	closed.Close() // nothing listens there now: the broker is down
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	cfg := fmt.Sprintf("log:\n  level: error\nhttp:\n  listen: %q\n  max_locks_per_bridge: %d\nmqtt:\n  url: %q\ndata_dir: %q\n",
		listen, maxLocks, brokerURL, filepath.Join(dir, "data"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() { exited <- run(ctx, []string{"-config", path}, io.Discard, io.Discard, nil) }()
	base := "http://" + listen
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("service did not serve within 30 s")
		}
	}
	return base, func() {
		cancel()
		<-exited // its error is the undelivered messages, expected with the broker down
	}
}

// metric reads one gauge from /metrics.
func metric(b *testing.B, base, name string) float64 {
	b.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// vmHWM is this process's peak resident set size in MiB.
func vmHWM(b *testing.B) float64 {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}
