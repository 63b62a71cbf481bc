package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/webhook"
)

// BenchmarkPipeline runs tedee2mqtt's webhook path in this process - the echo adapter, the
// decoder, the core and the paho adapter with its outbox, wired as cmd/tedee2mqtt wires them -
// against a private Mosquitto, and drives it with the load tool over loopback HTTP, b.N webhooks
// over 1,000 locks. It exists so the service can be profiled without a pprof endpoint in the
// product:
//
//	go test ./cmd/tedee2mqtt-load -run '^$' -bench Pipeline -benchtime 20000x \
//	    -cpuprofile /tmp/cpu.out -memprofile /tmp/mem.out
//	go tool pprof -top -focus 'tedee2mqtt/pkg|labstack|paho' /tmp/cpu.out
//
// The profile also holds the load tool's own work (HTTP client, subscriber): -focus on the
// service's packages. -pipeline.heap FILE writes a heap profile when the last webhook has been
// answered, the moment the service holds the most (go tool pprof -sample_index=inuse_space FILE).
func BenchmarkPipeline(b *testing.B) {
	for _, rate := range []float64{0, 200} {
		name := "flat-out"
		if rate > 0 {
			name = fmt.Sprintf("rate=%g", rate)
		}
		b.Run(name, func(b *testing.B) {
			mosq, brokerURL, err := startMosquitto("", b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = mosq.stop(5 * time.Second) })
			url := startPipeline(b, brokerURL)
			o := loadOptions{URL: url, BrokerURL: brokerURL, BaseTopic: "tedee", DiscoveryPrefix: "homeassistant",
				Locks: min(1000, b.N), Count: b.N, Rate: rate, Concurrency: 8, Duration: 5 * time.Minute,
				Grace: 5 * time.Second, Format: formatPost, SerialPrefix: 20000000}
			if *heapProfile != "" {
				o.AfterSend = func() { writeHeapProfile(b, fmt.Sprintf("%s.%s", *heapProfile, name)) }
			}
			b.ResetTimer()
			r, err := runLoad(context.Background(), o)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.AcceptedPerSec(), "accepted/s")
			b.ReportMetric(r.DeliveredPerSec(), "delivered/s")
			b.ReportMetric(msf(r.P99), "p99-ms")
			b.ReportMetric(float64(r.Lost), "lost")
		})
	}
}

var heapProfile = flag.String("pipeline.heap", "", "BenchmarkPipeline: write a heap profile to `FILE`.<case> once the last webhook is answered")

func writeHeapProfile(b *testing.B, path string) {
	runtime.GC() // up-to-date in-use figures
	f, err := os.Create(path)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Error(err)
	}
}

// startPipeline starts the service's webhook path against brokerURL and returns its webhook URL.
func startPipeline(b *testing.B, brokerURL string) string {
	b.Helper()
	log := zap.NewNop()
	disc := &homeassistant.Options{Prefix: "homeassistant", Base: "tedee", QoS: 1, Version: "bench"}
	var owner *keeper.Keeper
	client := mqtt.New(mqtt.Options{URL: brokerURL, ClientID: fmt.Sprintf("t2m-pipeline-%d", time.Now().UnixNano()),
		QoS: 1, StatusTopic: "tedee/status", Republish: func() { owner.RepublishPaced(false, func(int) bool { return true }) }}, log)
	owner = keeper.New(state.New("tedee", disc), client, keeper.Options{})
	client.Start()
	deadline := time.Now().Add(10 * time.Second)
	for !client.Connected() {
		if time.Now().After(deadline) {
			b.Fatal("pipeline: not connected to the broker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv, err := webhook.New(webhook.Options{Listen: "127.0.0.1:0", MaxBodyBytes: 65536, Ready: client.Connected},
		&pipelineCore{owner: owner, pace: func() { client.WaitBelow(mqtt.PaceBacklog, mqtt.PaceWait) }}, log)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
		if err := client.Close(5 * time.Second); err != nil {
			b.Error(err)
		}
	})
	return "http://" + srv.Addr().String() + "/webhook"
}

// pipelineCore is cmd/tedee2mqtt's webhookEvents: the owner applies and publishes, then the
// answer waits while the broker is far behind.
type pipelineCore struct {
	owner *keeper.Keeper
	pace  func()
}

func (p *pipelineCore) HandleEvent(_ context.Context, bridge string, ev tedee.Event) (state.Outcome, error) {
	outcome, err := p.owner.BridgeEvent(bridge, ev, time.Now())
	p.pace()
	return outcome, err
}
