package fakecloud

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type revisions struct {
	ID                   int64 `json:"id"`
	Revision             int64 `json:"revision"`
	TargetDeviceRevision int64 `json:"targetDeviceRevision"`
}

func TestPatchLockSettings(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now, OperationTime: 2 * time.Second})
	l := proLock()
	l.Settings.AutoLockDelay = 30
	s.withLocks(l)

	body, err := os.ReadFile("testdata/lock-update-request.json") // {"id":1,"revision":1,"deviceSettings":{"autoLockDelay":10}}
	if err != nil {
		t.Fatal(err)
	}
	a := s.patch(string(body)).wantStatus(t, http.StatusOK)
	checkShape(t, "lock-update.json", a)
	var got revisions
	a.result(t, &got)
	if diff := cmp.Diff(revisions{ID: 1, Revision: 2, TargetDeviceRevision: 2}, got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	after := s.cloud.Lock(l.Serial)
	want := l.Settings
	want.AutoLockDelay = 10 // and nothing else
	if diff := cmp.Diff(want, after.Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if after.DeviceRevision != 1 || after.TargetDeviceRevision != 2 {
		t.Errorf("before the lock applied them: device %d, target %d", after.DeviceRevision, after.TargetDeviceRevision)
	}
	clk.Advance(2 * time.Second)
	var model lockJSON
	s.get("/my/lock/1").result(t, &model)
	if model.DeviceRevision != 2 || model.Revision != 2 || model.DeviceSettings.AutoLockDelay != 10 {
		t.Errorf("after the lock applied them: %+v", model)
	}

	// The same revision again is stale: 409, and nothing changes.
	s.patch(`{"id":1,"revision":1,"deviceSettings":{"autoLockDelay":99}}`).wantStatus(t, http.StatusConflict)
	if s.cloud.Lock(l.Serial).Settings.AutoLockDelay != 10 {
		t.Error("a stale revision changed the settings")
	}

	// A name alone is a new revision, but nothing for the device.
	s.patch(`{"id":1,"revision":2,"name":" Hall "}`).wantStatus(t, http.StatusOK).result(t, &got)
	if diff := cmp.Diff(revisions{ID: 1, Revision: 3, TargetDeviceRevision: 2}, got); diff != "" {
		t.Errorf("name only (-want +got):\n%s", diff)
	}
	if n := s.cloud.Lock(l.Serial).Name; n != "Hall" {
		t.Errorf("name %q", n)
	}
}

func TestPatchEveryField(t *testing.T) {
	s := newServer(t, Options{}).withLocks(Lock{ID: 1, Serial: "L1", BridgeID: 2, Connected: true})
	s.patch(`{"id":1,"revision":1,"deviceSettings":{"autoLockEnabled":true,"autoLockDelay":11,"buttonLockEnabled":true,
		"buttonUnlockEnabled":true,"pullSpringEnabled":true,"pullSpringDuration":12,"autoPullSpringEnabled":true,
		"postponedLockEnabled":true,"postponedLockDelay":13,"isAsync":true,"openDoorAlertThreshold":60},
		"userSettings":{"autoUnlockEnabled":true},"timeZone":"Europe/Berlin"}`).wantStatus(t, http.StatusOK)
	want := Settings{AutoLock: true, AutoLockDelay: 11, ButtonLock: true, ButtonUnlock: true, PullSpring: true,
		PullSpringDuration: 12, AutoPull: true, PostponedLock: true, PostponedLockDelay: 13}
	if diff := cmp.Diff(want, s.cloud.Lock("L1").Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	// And back off, field names in another case (the binder is case-insensitive).
	s.patch(`{"Id":1,"Revision":2,"DeviceSettings":{"AutoLockEnabled":false,"pullspringenabled":false}}`).wantStatus(t, http.StatusOK)
	want.AutoLock, want.PullSpring = false, false
	if diff := cmp.Diff(want, s.cloud.Lock("L1").Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestPatchRejects(t *testing.T) {
	s := newServer(t, Options{}).withLocks(proLock())
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"not JSON", `{"id":1,`, http.StatusBadRequest},
		{"empty", ``, http.StatusBadRequest},
		{"no revision", `{"id":1,"name":"x"}`, http.StatusBadRequest},
		{"no id", `{"revision":1,"name":"x"}`, http.StatusBadRequest},
		{"a string for a number", `{"id":1,"revision":1,"deviceSettings":{"autoLockDelay":"10"}}`, http.StatusBadRequest},
		{"negative delay", `{"id":1,"revision":1,"deviceSettings":{"autoLockDelay":-1}}`, http.StatusBadRequest},
		{"delay too long", `{"id":1,"revision":1,"deviceSettings":{"postponedLockDelay":3601}}`, http.StatusBadRequest},
		{"empty name", `{"id":1,"revision":1,"name":"  "}`, http.StatusBadRequest},
		{"name too long", `{"id":1,"revision":1,"name":"` + strings.Repeat("n", 101) + `"}`, http.StatusBadRequest},
		{"invalid value before a stale revision", `{"id":1,"revision":7,"deviceSettings":{"autoLockDelay":-1}}`, http.StatusBadRequest},
		{"unknown lock", `{"id":99,"revision":1}`, http.StatusNotFound},
		{"too large", `{"id":1,"revision":1,"name":"` + strings.Repeat("n", maxBody) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		s.patch(tc.body).wantStatus(t, tc.want)
	}
	for ctype, want := range map[string]int{"text/plain": http.StatusUnsupportedMediaType, "": http.StatusUnsupportedMediaType,
		"application/json-patch+json": http.StatusOK, "application/json; charset=utf-8": http.StatusOK} {
		a := s.patchWithType(ctype, `{"id":1,"revision":`+strconv.FormatInt(s.cloud.Lock("111111-11111").Revision, 10)+`}`)
		if a.status != want {
			t.Errorf("Content-Type %q: %d, want %d", ctype, a.status, want)
		}
	}
	if l := s.cloud.Lock("111111-11111"); l.Revision != 3 || l.Settings != proLock().Settings || l.Name != "Room 6" {
		t.Errorf("after rejected updates: revision %d, %+v", l.Revision, l)
	}
}

func TestSettingsWaitForTheLock(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now})
	l := proLock()
	l.Connected = false
	s.withLocks(l)
	s.patch(`{"id":1,"revision":1,"deviceSettings":{"buttonLockEnabled":false}}`).wantStatus(t, http.StatusOK)
	clk.Advance(time.Minute)
	if got := s.cloud.Lock(l.Serial); got.DeviceRevision != 1 || got.TargetDeviceRevision != 2 {
		t.Errorf("a disconnected lock applied settings: %+v", got)
	}
	s.cloud.Update(l.Serial, func(l *Lock) { l.Connected = true })
	if got := s.cloud.Lock(l.Serial); got.DeviceRevision != 2 {
		t.Errorf("reconnected, device revision %d, want 2", got.DeviceRevision)
	}
}

func TestSettingsChangedElsewhereMakeARevisionStale(t *testing.T) {
	s := newServer(t, Options{}).withLocks(proLock())
	// Someone changes a setting in the Tedee app: a new revision, applied on the lock at once.
	s.cloud.Update("111111-11111", func(l *Lock) { l.Settings.AutoLockDelay = 60 })
	got := s.cloud.Lock("111111-11111")
	if got.Revision != 2 || got.DeviceRevision != 2 || got.TargetDeviceRevision != 2 {
		t.Errorf("revisions after a change in the app: %d/%d/%d", got.Revision, got.DeviceRevision, got.TargetDeviceRevision)
	}
	s.patch(`{"id":1,"revision":1,"deviceSettings":{"autoLockDelay":5}}`).wantStatus(t, http.StatusConflict)
	var sync syncJSON
	s.get("/my/lock/1/sync").result(t, &sync)
	if sync.Revision != 2 {
		t.Errorf("sync revision %d: a client cannot see the change", sync.Revision)
	}
	s.patch(`{"id":1,"revision":2,"deviceSettings":{"autoLockDelay":5}}`).wantStatus(t, http.StatusOK)
	// A state change is not a configuration change.
	s.cloud.Update("111111-11111", func(l *Lock) { l.State = 2; l.Battery = 50 })
	if r := s.cloud.Lock("111111-11111").Revision; r != 3 {
		t.Errorf("revision %d after a state change, want 3", r)
	}
}
