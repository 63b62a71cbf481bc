package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// BenchmarkServiceWebhooks runs the whole service in this process (run, as main does: the
// keeper, state.json, the operator API, metrics, Home Assistant discovery) against Mosquitto and
// sends it b.N lock-status-changed webhooks over 1,000 locks from 8 connections, each lock's in
// order. It exists to profile the service as it runs, which BenchmarkPipeline (the webhook path
// alone, in cmd/tedee2mqtt-load) does not show:
//
//	go test ./cmd/tedee2mqtt -run '^$' -bench ServiceWebhooks -benchtime 50000x -cpuprofile /tmp/cpu.out
//	go tool pprof -top -focus 'tedee2mqtt/pkg|tedee2mqtt/cmd/tedee2mqtt\.' /tmp/cpu.out
//
// -service.locks N spreads them over N locks; -service.heap FILE writes a heap profile once every
// webhook is answered (go tool pprof -sample_index=inuse_space FILE).
//
// The benchmark's own HTTP client shares the process: -focus on the service's packages.
var (
	benchLocks = flag.Int("service.locks", 1000, "BenchmarkServiceWebhooks: locks the webhooks are spread over")
	benchHeap  = flag.String("service.heap", "", "BenchmarkServiceWebhooks: write a heap profile here once every webhook is answered")
)

func BenchmarkServiceWebhooks(b *testing.B) {
	broker := brokertest.Start(b)
	listen := freeAddr(b)
	dir := b.TempDir()
	cfg := fmt.Sprintf("log:\n  level: error\nhttp:\n  listen: %q\n  max_locks_per_bridge: 10000\nmqtt:\n  url: %q\ndata_dir: %q\n",
		listen, broker.URL(), filepath.Join(dir, "data"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() { exited <- run(ctx, []string{"-config", path}, io.Discard, io.Discard, nil) }()
	defer func() { cancel(); <-exited }()
	base := "http://" + listen
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("service not ready within 30 s")
		}
	}

	locks, senders := *benchLocks, 8
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	body := func(lock, i int) string {
		return fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":%d,"serialNumber":"2%07d-000001","state":%d,"jammed":0,"doorState":3}}`,
			t0.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), 1000+lock, lock, []int{6, 4, 2, 5}[i%4])
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	var failed sync.Once
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			// Sender g owns the locks ≡ g (mod senders): each lock's webhooks go in order.
			for i := g; i < b.N; i += senders {
				resp, err := client.Post(base+"/webhook", "application/json", strings.NewReader(body(i%locks, i/locks)))
				if err != nil || resp.StatusCode != http.StatusNoContent {
					failed.Do(func() { b.Errorf("webhook %d: %v %v", i, err, resp) })
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if *benchHeap != "" {
		runtime.GC()
		f, err := os.Create(*benchHeap)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
	}
}
