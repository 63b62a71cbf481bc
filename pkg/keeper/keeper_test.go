package keeper

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// lastValue is a Publisher that keeps the last retained payload pushed per topic: what the broker
// retains once an outbox that replaces pending retained messages in place has delivered.
type lastValue struct {
	mu       sync.Mutex
	retained map[string]string
}

func (l *lastValue) Publish(msgs ...state.Message) {
	// Where a real outbox takes its own lock, a goroutine may be descheduled; yield here so that
	// a caller that published outside the keeper's lock would be overtaken, as it was in the
	// service (a read-back's "unlocking" retained after the webhook's "unlocked").
	runtime.Gosched()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if m.Retain {
			l.retained[m.Topic] = string(m.Payload)
		}
	}
}

// Restate is Publish: what the broker ends up retaining does not depend on which lane a message
// took, only on each topic's newest value winning (pkg/mqtt's outbox tests that).
func (l *lastValue) Restate(msgs ...state.Message) { l.Publish(msgs...) }

// view is what the store holds, as the retained topics should show it: every topic Republish
// gives, with its payload. Topics published once and no longer part of the state (a removed lock,
// an entity that no longer applies) must have been cleared.
func (k *Keeper) view() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]string{}
	for _, m := range k.store.Republish() {
		out[m.Topic] = string(m.Payload)
	}
	return out
}

// sameAsStore fails the test where the retained topics differ from the store's view.
func sameAsStore(t *testing.T, retained, view map[string]string) {
	t.Helper()
	bad := 0
	for topic, want := range view {
		if got, ok := retained[topic]; !ok || got != want {
			bad++
			if bad <= 5 {
				t.Errorf("%s retained %q, store holds %q", topic, got, want)
			}
		}
	}
	for topic, got := range retained {
		if _, ok := view[topic]; !ok && got != "" {
			bad++
			if bad <= 5 {
				t.Errorf("%s retained %q, store has nothing there", topic, got)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d topics in all differ", bad)
	}
}

var (
	base  = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	later = base.Add(time.Hour) // ahead of every event time: none is clamped as "future"
)

// source plays one source of changes for the given locks: webhooks of every kind, Bridge API
// readings (sync and command read-backs), bridge details and, when removals is set, a lock the
// bridge stopped listing. Times fall within one second, so many arrive out of order.
func source(t *testing.T, k *Keeper, rng *rand.Rand, serials []string, n int, removals bool) {
	for range n {
		serial := serials[rng.IntN(len(serials))]
		ts := base.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		stamp := ts.Format(time.RFC3339Nano)
		var body string
		switch r := rng.IntN(100); {
		case r < 35:
			body = fmt.Sprintf(`{"event":"lock-status-changed","timestamp":%q,"data":{"deviceType":2,"serialNumber":%q,"state":%d,"jammed":%d,"doorState":%d}}`,
				stamp, serial, []int{2, 3, 4, 5, 6, 7, 8}[rng.IntN(7)], rng.IntN(2), rng.IntN(4))
		case r < 45:
			body = fmt.Sprintf(`{"event":"device-battery-level-changed","timestamp":%q,"data":{"deviceType":2,"serialNumber":%q,"batteryLevel":%d}}`,
				stamp, serial, []int{10, 50, 90, 255}[rng.IntN(4)])
		case r < 50:
			body = fmt.Sprintf(`{"event":"device-connection-changed","timestamp":%q,"data":{"deviceType":2,"serialNumber":%q,"isConnected":%d}}`,
				stamp, serial, rng.IntN(2))
		case r < 55:
			body = fmt.Sprintf(`{"event":"device-battery-start-charging","timestamp":%q,"data":{"deviceType":2,"serialNumber":%q}}`, stamp, serial)
		case r < 90:
			door := tedee.DoorState(rng.IntN(4))
			if err := k.Snapshot("home", state.LockSnapshot{ID: int64(len(serial)), Serial: serial, DeviceType: 2,
				Connected: new(rng.IntN(2) == 0), State: new(tedee.LockState([]int{2, 4, 5, 6}[rng.IntN(4)])), Jammed: new(rng.IntN(2) == 0),
				DoorState: &door, Battery: new(10 * rng.IntN(11)), Charging: new(rng.IntN(2) == 0), PullSpring: new(rng.IntN(2) == 0),
				Firmware: fmt.Sprint("1.", rng.IntN(3))}, ts, later); err != nil {
				t.Error(err)
			}
			continue
		case r < 97 || !removals:
			k.Bridge("home", state.BridgeInfo{Serial: "B-1", Firmware: "2.1", Connected: new(rng.IntN(2) == 0)}, ts, later)
			continue
		default:
			k.Remove(serial)
			continue
		}
		ev, err := tedee.DecodeJSON([]byte(body))
		if err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if _, err := k.BridgeEvent("home", ev, later); err != nil {
			t.Error(err)
		}
	}
}

func newKeeper(out Publisher) *Keeper {
	return New(state.New("tedee", &homeassistant.Options{Prefix: "homeassistant", Base: "tedee", QoS: 1, Version: "test"}),
		out, Options{})
}

// TestConcurrentSourcesOneLock: webhooks, readings and read-backs for one lock, from goroutines
// of their own, end with every retained topic equal to the store's view. Before the keeper
// published under its lock, a reading applied before a webhook but pushed after it left the
// older state retained.
func TestConcurrentSourcesOneLock(t *testing.T) {
	for round := range 10 {
		out := &lastValue{retained: map[string]string{}}
		k := newKeeper(out)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				source(t, k, rand.New(rand.NewPCG(uint64(round), uint64(g))), []string{"L-1"}, 150, false)
			}()
		}
		wg.Wait()
		sameAsStore(t, out.retained, k.view())
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

// TestRandomSourcesManyLocks: many goroutines apply random events, readings, bridge details and
// removals to many locks; afterwards retained equals the store for every topic.
func TestRandomSourcesManyLocks(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	serials := make([]string, 20)
	for i := range serials {
		serials[i] = fmt.Sprintf("L-%02d", i)
	}
	out := &lastValue{retained: map[string]string{}}
	k := newKeeper(out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			source(t, k, rand.New(rand.NewPCG(seed, uint64(g))), serials, 500, true)
		}()
	}
	wg.Wait()
	snaps := k.Snapshots() // before view, which publishes every json afresh
	view := k.view()
	sameAsStore(t, out.retained, view)
	// state.json's copy (the json last published, kept per lock) is the store's json too.
	for serial, payload := range snaps {
		if want := view["tedee/"+serial+"/json"]; string(payload) != want {
			t.Errorf("%s: snapshot %s, store %s", serial, payload, want)
		}
	}
}

// TestChangedWakesWaiters: a change closes the channel Changed returned before it; a stale event,
// which changes nothing, does not.
func TestChangedWakesWaiters(t *testing.T) {
	k := newKeeper(&lastValue{retained: map[string]string{}})
	before := k.Changed()
	ev, err := tedee.DecodeJSON([]byte(`{"event":"lock-status-changed","timestamp":"2026-11-01T12:00:00Z","data":{"deviceType":2,"serialNumber":"L-1","state":6}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.BridgeEvent("home", ev, later); err != nil {
		t.Fatal(err)
	}
	select {
	case <-before:
	default:
		t.Fatal("a change did not wake those waiting")
	}
	quiet := k.Changed()
	stale := ev
	stale.Timestamp = base.Add(-time.Minute)
	if o, _ := k.BridgeEvent("home", stale, later); o != state.Stale {
		t.Fatalf("older event: %s, want stale", o)
	}
	select {
	case <-quiet:
		t.Fatal("a stale event woke waiters")
	default:
	}
}

// TestReadModel: Locks and Bridges are what the json topics show, in a stable order, and copies:
// later changes do not reach a view already handed out.
func TestReadModel(t *testing.T) {
	k := newKeeper(&lastValue{retained: map[string]string{}})
	for _, serial := range []string{"L-2", "L-1"} {
		ev, err := tedee.DecodeJSON([]byte(`{"event":"lock-status-changed","timestamp":"2026-11-01T12:00:00Z","data":{"deviceType":2,"serialNumber":"` + serial + `","state":6}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.BridgeEvent("home", ev, later); err != nil {
			t.Fatal(err)
		}
	}
	k.Bridge("home", state.BridgeInfo{Name: "Hallway", Serial: "B-1", Connected: new(true)}, base, later)
	locks := k.Locks()
	if len(locks) != 2 || locks[0].Serial != "L-1" || *locks[0].State != "locked" || *locks[0].Bridge != "home" {
		t.Fatalf("locks: %+v", locks)
	}
	if b := k.Bridges(); len(b) != 1 || *b[0].TedeeName != "Hallway" || !*b[0].Connected {
		t.Fatalf("bridges: %+v", b)
	}
	ev, _ := tedee.DecodeJSON([]byte(`{"event":"lock-status-changed","timestamp":"2026-11-01T12:00:01Z","data":{"deviceType":2,"serialNumber":"L-1","state":2}}`))
	if _, err := k.BridgeEvent("other", ev, later); err != nil {
		t.Fatal(err)
	}
	if *locks[0].State != "locked" || *locks[0].Bridge != "home" {
		t.Errorf("a view handed out changed afterwards: %+v", locks[0])
	}
}
