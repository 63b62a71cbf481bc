package state_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// The core benchmarks measure Store.Apply at steady state: every lock has been seen (its discovery
// is published), and each event is a lock-status-changed as real bridges send it, with a newer
// time than the lock's last. This is what almost every webhook costs the core. Run with:
//
//	go test ./pkg/state -run '^$' -bench . -benchmem

var benchBase = time.Date(2026, 9, 22, 21, 0, 0, 0, time.UTC)

// statusEvents returns one decoded lock-status-changed per lock, cycling through states that do
// not change discovery (locked, unlocking, unlocked, locking).
func statusEvents(b *testing.B, locks int) []tedee.Event {
	b.Helper()
	states := []int{6, 4, 2, 5}
	evs := make([]tedee.Event, locks)
	for i := range evs {
		body := fmt.Sprintf(`{"event":"lock-status-changed","timestamp":"2026-09-22T21:00:00.000Z","data":`+
			`{"deviceType":2,"deviceId":%d,"serialNumber":"20000000-%06d","state":%d,"jammed":0,"doorState":3,"source":18,"user_id":0}}`,
			100000+i, i, states[i%len(states)])
		ev, err := tedee.DecodeJSON([]byte(body))
		if err != nil {
			b.Fatal(err)
		}
		evs[i] = ev
	}
	return evs
}

func benchmarkApply(b *testing.B, locks int, disc *homeassistant.Options) {
	evs := statusEvents(b, locks)
	s := state.New("tedee", disc)
	now := benchBase.Add(time.Hour)
	// First sight of every lock: discovery and the connected default are published here, not in
	// the measured loop.
	for _, ev := range evs {
		if _, err := s.Apply("default", ev, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var msgs, bytes int
	i := 0
	for b.Loop() {
		ev := evs[i%locks]
		// Each lock's next event is one millisecond newer than its last.
		ev.Timestamp = benchBase.Add(time.Duration(i/locks+1) * time.Millisecond)
		out, err := s.Apply("default", ev, now)
		if err != nil {
			b.Fatal(err)
		}
		msgs += len(out)
		for _, m := range out {
			bytes += len(m.Topic) + len(m.Payload)
		}
		i++
	}
	b.ReportMetric(float64(msgs)/float64(i), "msgs/op")
	b.ReportMetric(float64(bytes)/float64(i), "msgbytes/op")
}

// benchDisc is the discovery the benchmarks run with; discoveryCases runs one with and without.
var (
	benchDisc      = &homeassistant.Options{Prefix: "homeassistant", Base: "tedee", QoS: 1, Version: "bench"}
	discoveryCases = []struct {
		name string
		disc *homeassistant.Options
	}{{"discovery", benchDisc}, {"no-discovery", nil}}
)

func BenchmarkApplyStatus(b *testing.B) {
	for _, locks := range []int{1, 1000, state.MaxLocks} {
		for _, tc := range discoveryCases {
			b.Run(fmt.Sprintf("locks=%d/%s", locks, tc.name), func(b *testing.B) { benchmarkApply(b, locks, tc.disc) })
		}
	}
}

// BenchmarkApplyFirstSight is the cost of a lock's first event: with discovery, every config of
// the lock is built and published.
func BenchmarkApplyFirstSight(b *testing.B) {
	for _, tc := range discoveryCases {
		b.Run(tc.name, func(b *testing.B) {
			evs := statusEvents(b, state.MaxLocks)
			now := benchBase.Add(time.Hour)
			b.ReportAllocs()
			var s *state.Store
			i := 0
			for b.Loop() {
				if i%state.MaxLocks == 0 {
					b.StopTimer()
					s = state.New("tedee", tc.disc)
					b.StartTimer()
				}
				if _, err := s.Apply("default", evs[i%state.MaxLocks], now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkLockMemory reports the live heap a tracked lock costs (B/lock) after its first status
// event, with and without discovery: the steady memory of a 1,000-lock installation is this times
// 1,000, and the Go runtime's default GOGC lets RSS grow to about twice the live heap.
func BenchmarkLockMemory(b *testing.B) {
	for _, tc := range discoveryCases {
		b.Run(tc.name, func(b *testing.B) {
			const locks = 1000
			evs := statusEvents(b, locks)
			now := benchBase.Add(time.Hour)
			var perLock float64
			for b.Loop() {
				before := liveHeap()
				s := state.New("tedee", tc.disc)
				for _, ev := range evs {
					if _, err := s.Apply("default", ev, now); err != nil {
						b.Fatal(err)
					}
				}
				perLock = float64(liveHeap()-before) / locks
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perLock, "B/lock")
		})
	}
}

// liveHeap returns the bytes of heap objects still reachable.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
