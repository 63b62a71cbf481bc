package keeper

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// TestRepublishPaced: a paced republish sends, batch by batch, what a republish at once sends;
// changes made while it waits between batches (the lock is free then) are applied and published,
// and what stays retained is the store's state.
func TestRepublishPaced(t *testing.T) {
	serials := make([]string, 45)
	for i := range serials {
		serials[i] = fmt.Sprintf("L-%02d", i)
	}
	out := &lastValue{retained: map[string]string{}}
	k := newKeeper(out)
	source(t, k, rand.New(rand.NewPCG(1, 2)), serials, 300, false)

	cleared := &lastValue{retained: map[string]string{}}
	k.out = cleared // as a broker that lost everything
	batches, total := 0, 0
	var changes sync.WaitGroup
	k.RepublishPaced(false, func(n int) bool {
		batches++
		total += n
		// A webhook arrives between batches: it must not wait for the republish to end.
		changes.Add(1)
		done := make(chan struct{})
		go func() {
			defer changes.Done()
			defer close(done)
			source(t, k, rand.New(rand.NewPCG(uint64(batches), 3)), serials, 1, false)
		}()
		<-done
		return true
	})
	changes.Wait()
	if want := 1 + (len(serials)+republishBatch-1)/republishBatch; batches != want {
		t.Errorf("%d batches, want %d", batches, want)
	}
	sameAsStore(t, cleared.retained, k.view())

	// Discovery only (Home Assistant's birth): configs, no state.
	configs := &lastValue{retained: map[string]string{}}
	k.out = configs
	k.RepublishPaced(true, func(int) bool { return true })
	if len(configs.retained) == 0 {
		t.Fatal("no discovery config republished")
	}
	for topic := range configs.retained {
		if !strings.HasPrefix(topic, "homeassistant/") {
			t.Errorf("birth republished state %s", topic)
		}
	}

	// No lock named (a restart the broker kept up with): only the bridges.
	none := &lastValue{retained: map[string]string{}}
	k.out = none
	k.RepublishLocksPaced(nil, false, func(int) bool { return true })
	for topic := range none.retained {
		if strings.Contains(topic, "L-") {
			t.Errorf("republished %s, no lock was named", topic)
		}
	}
}
