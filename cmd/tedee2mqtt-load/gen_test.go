package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// Every generated webhook, in every format, must be one tedee2mqtt accepts as the event the load
// tool thinks it sent: the right lock, kind and time.
func TestGeneratedWebhooksDecode(t *testing.T) {
	base := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	for _, format := range []string{formatPost, formatGet, formatPath} {
		gen, err := newGenerator(7, 200, 20000000, base, format)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[kind]int{}
		for i := 0; i < 200; i++ {
			w := gen.at(i)
			if gen.indexOf(w.lock, w.seq) != i {
				t.Fatalf("indexOf(at(%d)) = %d", i, gen.indexOf(w.lock, w.seq))
			}
			req, err := gen.request("http://127.0.0.1:1/webhook", w)
			if err != nil {
				t.Fatal(err)
			}
			var ev tedee.Event
			switch format {
			case formatPost:
				body, _ := io.ReadAll(req.Body)
				ev, err = tedee.DecodeJSON(body)
			case formatGet:
				ev, err = tedee.DecodeQuery(req.URL.RawQuery)
			case formatPath:
				ev, err = tedee.DecodePath(strings.TrimPrefix(req.URL.EscapedPath(), "/webhook"))
			}
			if err != nil {
				t.Fatalf("%s webhook %d does not decode: %v", format, i, err)
			}
			k := kindOf(w.seq)
			kinds[k]++
			wantName := map[kind]string{kindStatus: tedee.EventLockStatusChanged,
				kindBattery: tedee.EventBatteryLevelChanged, kindConnection: tedee.EventDeviceConnectionChanged}[k]
			if ev.Name != wantName || ev.Serial != gen.serials[w.lock] || !ev.Timestamp.Equal(gen.timestamp(w.seq)) {
				t.Errorf("%s webhook %d decodes to %s %s %v, want %s %s %v", format, i,
					ev.Name, ev.Serial, ev.Timestamp, wantName, gen.serials[w.lock], gen.timestamp(w.seq))
			}
			if got := req.Header.Get(headerTimestamp); got != ev.Timestamp.Format(tsLayout) {
				t.Errorf("header timestamp %s, event %s", got, ev.Timestamp.Format(tsLayout))
			}
			if gen.seqOf(ev.Timestamp) != w.seq {
				t.Errorf("seqOf(%v) = %d, want %d", ev.Timestamp, gen.seqOf(ev.Timestamp), w.seq)
			}
			if first := req.Header.Get(headerFirst) == "1"; first != (w.seq == 0) {
				t.Errorf("webhook %d (seq %d): first header %v", i, w.seq, first)
			}
			if k == kindStatus && ev.State.Word() == "pulling" {
				t.Errorf("status cycle must not change discovery (pulling adds 'open')")
			}
		}
		// Mostly status changes, some battery and connection events.
		if kinds[kindStatus] < 150 || kinds[kindBattery] < 14 || kinds[kindConnection] < 14 {
			t.Errorf("%s: kind mix %v", format, kinds)
		}
	}
}

func TestGeneratorRefusesTimesTheServiceWouldTreatAsFuture(t *testing.T) {
	// 600,000 webhooks to one lock would span 10 minutes of event time.
	if _, err := newGenerator(1, 600000, 1, time.Now(), formatPost); err == nil {
		t.Error("no error for a span beyond maxSpan")
	}
	if _, err := newGenerator(100, 600000, 1, time.Now(), formatPost); err != nil {
		t.Errorf("6000 per lock: %v", err)
	}
	if _, err := newGenerator(1, 1, 1, time.Now(), "put"); err == nil {
		t.Error("no error for an unknown format")
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/webhook", "tcp://127.0.0.1:1883", "http://localhost:1/", "tcp://[::1]:1883"} {
		if err := loopbackURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://192.168.1.2:8080/webhook", "tcp://example.com:1883", "http://0.0.0.0:8080/"} {
		if err := loopbackURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
