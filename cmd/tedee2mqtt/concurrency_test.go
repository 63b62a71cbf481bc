package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// TestConcurrentWebhooks: 50 clients, one per lock, each send 20 battery levels in order at the
// same time: all 1,000 are answered 204, each lock's battery is never published going back, and
// the retained battery of every lock is its last level.
func TestConcurrentWebhooks(t *testing.T) {
	const locks, perLock = 50, 20
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "tedee/+/battery")
	svc := startService(t, b.URL(), "")
	serial := func(lock int) string { return fmt.Sprintf("CONC-%02d", lock) }
	level := func(lock, i int) int { return lock + i } // i = 1…perLock: increasing, last lock+perLock
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, locks*perLock)
	for lock := range locks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: waitTimeout, Transport: &http.Transport{MaxConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for i := 1; i <= perLock; i++ {
				body := fmt.Sprintf(`{"event":"device-battery-level-changed","timestamp":%q,"data":{"deviceType":2,"deviceId":%d,"serialNumber":%q,"batteryLevel":%d}}`,
					base.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z"), 1000+lock, serial(lock), level(lock, i))
				resp, err := client.Post(svc.base+"/webhook", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- fmt.Sprintf("%s #%d: %v", serial(lock), i, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					errs <- fmt.Sprintf("%s #%d: %d %s", serial(lock), i, resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	t.Logf("%d webhooks from %d clients answered in %s", locks*perLock, locks, time.Since(began).Round(time.Millisecond))

	want := map[string]string{}
	for lock := range locks {
		want["tedee/"+serial(lock)+"/battery"] = strconv.Itoa(level(lock, perLock))
	}
	rec.WaitUntil(t, waitTimeout, "every lock's last battery level", func(msgs []brokertest.Message) bool {
		last := map[string]string{}
		for _, m := range msgs {
			last[m.Topic] = m.Payload
		}
		for topic, payload := range want {
			if last[topic] != payload {
				return false
			}
		}
		return true
	})
	// Never published going back: each lock's levels only rise.
	prev := map[string]int{}
	for _, m := range rec.Messages() {
		n, err := strconv.Atoi(m.Payload)
		if err != nil {
			t.Errorf("%s = %q", m.Topic, m.Payload)
			continue
		}
		if n < prev[m.Topic] {
			t.Errorf("%s published %d after %d", m.Topic, n, prev[m.Topic])
		}
		prev[m.Topic] = n
	}
	retained := brokertest.Retained(t, b.URL(), "tedee/+/battery")
	for topic, payload := range want {
		if retained[topic] != payload {
			t.Errorf("retained %s = %q, want %q", topic, retained[topic], payload)
		}
	}
	if len(retained) != locks {
		t.Errorf("%d retained battery topics, want %d", len(retained), locks)
	}
}
