package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

var testPlan = &plan{
	First: map[string][]planMsg{"status": {
		{Topic: "homeassistant/lock/tedee_{serial}_lock/config", Size: 700, Retain: true},
		{Topic: "homeassistant/sensor/tedee_{serial}_battery/config", Size: 650, Retain: true},
		{Topic: "tedee/{serial}/state", Size: 6, Retain: true},
		{Topic: "tedee/{serial}/connected", Size: 4, Retain: true},
		{Topic: "tedee/{serial}/json", Size: 300, Retain: true},
		{Topic: "tedee/{serial}/event", Size: 330},
	}},
	Steady: map[string][]planMsg{
		"status": {
			{Topic: "tedee/{serial}/state", Size: 8, Retain: true},
			{Topic: "tedee/{serial}/json", Size: 300, Retain: true},
			{Topic: "tedee/{serial}/event", Size: 330},
		},
		"battery": {
			{Topic: "tedee/{serial}/battery", Size: 2, Retain: true},
			{Topic: "tedee/{serial}/event", Size: 270},
		},
		"connection": {
			{Topic: "tedee/{serial}/connected", Size: 5, Retain: true},
			{Topic: "tedee/{serial}/json", Size: 380, Retain: true},
			{Topic: "tedee/{serial}/event", Size: 270},
		},
	},
}

func startTestBaseline(t *testing.T, brokerURL string, p *plan) string {
	t.Helper()
	s := newBaselineServer(p, 1)
	if err := s.connect(brokerURL, "t2m-baseline-test", "tedee/status"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/webhook"
}

// Calibrating the baseline gives back the plan it was given: calibrate learns exactly what a
// receiver publishes, and the baseline publishes exactly its plan.
func TestCalibrateLearnsWhatTheReceiverPublishes(t *testing.T) {
	b := brokertest.Start(t)
	url := startTestBaseline(t, b.URL(), testPlan)
	got, err := calibrate(context.Background(), url, b.URL(), "tedee", "homeassistant")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, testPlan) {
		a, _ := json.Marshal(got)
		w, _ := json.Marshal(testPlan)
		t.Errorf("calibrated plan:\n%s\nwant:\n%s", a, w)
	}
	if want := "status 3 (first 6), battery 2, connection 3"; got.describe() != want {
		t.Errorf("describe = %q, want %q", got.describe(), want)
	}
	// The plan survives the file the tool hands to the baseline process.
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := got.save(path); err != nil {
		t.Fatal(err)
	}
	if back, err := loadPlan(path); err != nil || !reflect.DeepEqual(back, got) {
		t.Errorf("loadPlan = %+v, %v", back, err)
	}
}

func TestBaselineDeliversThePlanForEveryWebhook(t *testing.T) {
	b := brokertest.Start(t)
	url := startTestBaseline(t, b.URL(), testPlan)
	o := testOptions(url, b.URL(), 140)
	o.DiscoveryPrefix = "homeassistant"
	r, err := runLoad(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != 140 || r.Delivered != 140 || r.Lost != 0 || r.Duplicates != 0 || r.Unmatched != 0 {
		t.Fatalf("accepted %d, delivered %d, lost %d, dups %d, unmatched %d (%s)",
			r.Accepted, r.Delivered, r.Lost, r.Duplicates, r.Unmatched, r.FirstError)
	}
	// 7 locks × 20 webhooks: per lock 1 first (6 messages), then seq 1-19: 15 status (3),
	// 2 battery (2: seq 5, 15), 2 connection (3: seq 9, 19).
	want := 7 * (6 + 15*3 + 2*2 + 2*3)
	if r.Messages != want {
		t.Errorf("messages %d (%v), want %d", r.Messages, r.MessagesByLeaf, want)
	}
	if r.MessagesByLeaf["config"] != 14 || r.MessagesByLeaf["event"] != 140 {
		t.Errorf("by leaf %v", r.MessagesByLeaf)
	}
}

func TestEventPayloadIsPaddedToSize(t *testing.T) {
	for _, size := range []int{0, 60, 336, 1000} {
		p := eventPayload("20000000-000001", "2026-05-01T08:00:00.001Z", size)
		var v struct{ Serial, Timestamp string }
		if err := json.Unmarshal(p, &v); err != nil || v.Serial != "20000000-000001" || v.Timestamp != "2026-05-01T08:00:00.001Z" {
			t.Errorf("size %d: %s: %v", size, p, err)
		}
		if size >= 80 && len(p) != size {
			t.Errorf("size %d: got %d bytes", size, len(p))
		}
	}
}
