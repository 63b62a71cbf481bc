package mqtt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// BenchmarkLiveDuringRepublish measures what a live change waits while a republish is under
// way: 200 changes a second, published while 20,000 retained configs of about 1 KB are republished
// as the service paces them (batches of 100, each queued once at most 100 are pending), with no
// rate cap, so that the broker is the bottleneck, as Mosquitto on a small host is. It reports the
// changes' publish-to-subscriber p50 and p99: "restated" sends the republish through Restate,
// behind live changes; "one-lane" through Publish, where live changes queue behind it.
func BenchmarkLiveDuringRepublish(b *testing.B) {
	for _, lane := range []string{"restated", "one-lane"} {
		b.Run(lane, func(b *testing.B) {
			broker := brokertest.Start(b)
			lat := subscribeLatencies(b, broker.URL(), "live/#")
			c := Dial(Options{URL: broker.URL(), ClientID: "lane-bench", QoS: 1, StatusTopic: "lane/status"}, zap.NewNop())
			defer c.Close(5 * time.Second)
			restate := c.Restate
			if lane == "one-lane" {
				restate = c.Publish
			}
			config := []byte(strings.Repeat("x", 1000))
			for !c.Connected() {
				time.Sleep(10 * time.Millisecond)
			}
			b.ResetTimer()
			for range b.N {
				stop, live := make(chan struct{}), make(chan struct{})
				go func() { // the live changes, 200 a second
					defer close(live)
					tick := time.NewTicker(5 * time.Millisecond)
					defer tick.Stop()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-tick.C:
						}
						c.Publish(state.Message{Topic: fmt.Sprintf("live/%d/state", i%100), Retain: true,
							Payload: strconv.AppendInt(nil, time.Now().UnixNano(), 10)})
					}
				}()
				for i := 0; i < 20000; i += 100 {
					batch := make([]state.Message, 100)
					for j := range batch {
						batch[j] = state.Message{Topic: fmt.Sprintf("homeassistant/x/%d/config", i+j), Payload: config, Retain: true}
					}
					restate(batch...)
					c.WaitBelow(100, time.Second)
				}
				close(stop)
				<-live
				c.WaitBelow(0, 5*time.Second)
			}
			b.StopTimer()
			time.Sleep(100 * time.Millisecond) // the last changes reach the subscriber
			p50, p99, n := lat.percentiles()
			b.ReportMetric(p50, "live-p50-ms")
			b.ReportMetric(p99, "live-p99-ms")
			b.ReportMetric(float64(n)/float64(b.N), "live-changes/op")
		})
	}
}

// latencies collects the publish-to-receive times of messages whose payload is their send time.
type latencies struct {
	mu sync.Mutex
	ms []float64
}

func subscribeLatencies(b *testing.B, url, filter string) *latencies {
	l := &latencies{}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("lane-bench-sub"))
	if t := sub.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		b.Fatalf("subscriber: connect: %v", t.Error())
	}
	b.Cleanup(func() { sub.Disconnect(100) })
	handle := func(_ paho.Client, m paho.Message) {
		sent, err := strconv.ParseInt(string(m.Payload()), 10, 64)
		if err != nil {
			return
		}
		d := time.Since(time.Unix(0, sent))
		l.mu.Lock()
		l.ms = append(l.ms, float64(d)/float64(time.Millisecond))
		l.mu.Unlock()
	}
	if t := sub.Subscribe(filter, 1, handle); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		b.Fatalf("subscriber: subscribe: %v", t.Error())
	}
	return l
}

func (l *latencies) percentiles() (p50, p99 float64, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ms) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(l.ms)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100], len(s)
}
