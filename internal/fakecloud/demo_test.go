package fakecloud

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

func TestDemoMatchesTheFakeBridge(t *testing.T) {
	bridge, locks := DemoLocks()
	opts := fakebridge.DemoOptions("token", tedeeapi.ModePlain, 1)
	if bridge.Serial != opts.Serial || bridge.Name != opts.Name || bridge.Firmware != opts.Firmware {
		t.Errorf("bridge %+v, fake bridge %s %s %s", bridge, opts.Serial, opts.Name, opts.Firmware)
	}
	if len(locks) != len(opts.Locks) {
		t.Fatalf("%d locks, the fake bridge has %d", len(locks), len(opts.Locks))
	}
	for i, l := range locks {
		b := opts.Locks[i]
		if l.ID != b.ID || l.Serial != b.Serial || l.Name != b.Name || l.Type != b.Type || l.State != b.State ||
			l.DoorState != b.DoorState || l.Battery != b.Battery || l.Firmware != b.Firmware ||
			l.Settings.PullSpring != b.PullSpringEnabled || l.Settings.PullSpringDuration != b.PullSpringDuration {
			t.Errorf("lock %d: %+v, fake bridge %+v", i, l, b)
		}
	}
}

func TestAddDemo(t *testing.T) {
	s := newServer(t, Options{User: "Sam"})
	s.cloud.AddDemo()
	var details struct {
		Bridges []bridgeJSON
		Locks   []lockJSON
		Keypads []accessoryDeviceJSON
	}
	s.get("/my/device/details?IncludeAccessories=true").wantStatus(t, http.StatusOK).result(t, &details)
	if len(details.Bridges) != 1 || len(details.Locks) != 2 || len(details.Keypads) != 1 || details.Locks[0].DeviceState == nil ||
		details.Locks[0].Accessories == nil || len(*details.Locks[0].Accessories) != 2 {
		t.Errorf("demo details %+v", details)
	}
	var sensors struct{ DoorSensors []accessoryDeviceJSON }
	s.get("/my/doorsensor").result(t, &sensors)
	if len(sensors.DoorSensors) != 1 || sensors.DoorSensors[0].DeviceState.BatteryLevel == nil {
		t.Errorf("demo door sensors %+v", sensors)
	}
	front := s.activity(1, "")
	if len(front) != 2 || front[1].Username == nil || *front[1].Username != "Anna" || front[1].Event != 61 {
		t.Errorf("front door history %+v", front)
	}
	if back := s.activity(2, ""); len(back) != 1 || back[0].Username == nil || *back[0].Username != "Sam" {
		t.Errorf("back door history %+v", back)
	}
}

// TestConcurrentUse runs requests, operations and updates at once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	var mu sync.Mutex
	moved := 0
	s := newServer(t, Options{OperationTime: 20 * time.Millisecond, OnMove: func(Lock) {
		mu.Lock()
		moved++
		mu.Unlock()
	}})
	s.cloud.AddDemo()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				switch (i + j) % 4 {
				case 0:
					s.post("/my/lock/2/operation/lock")
				case 1:
					s.post("/my/lock/2/operation/unlock")
				case 2:
					s.get("/my/lock/sync")
				case 3:
					s.cloud.Update("20000001-000001", func(l *Lock) { l.Battery-- })
					s.cloud.AddActivity("20000001-000001", 35, "", time.Now())
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if moved == 0 {
		t.Error("no operation moved a lock")
	}
}
