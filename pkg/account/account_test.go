package account

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakecloud"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

const testKey = "test00.dGVzdC1rZXktbm90LWEtc2VjcmV0"

// recorder keeps every message published, in order.
type recorder struct {
	mu   sync.Mutex
	msgs []state.Message
}

// Restate records a republish as it records a change: the order between them is the outbox's.
func (r *recorder) Restate(msgs ...state.Message) { r.Publish(msgs...) }

func (r *recorder) Publish(msgs ...state.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msgs...)
}

// find returns the payloads published on topic so far.
func (r *recorder) find(topic string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if m.Topic == topic {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

// waitFor waits until topic has a payload containing want.
func (r *recorder) waitFor(t *testing.T, topic, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range r.find(topic) {
			if strings.Contains(p, want) {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never carried %q; got %q", topic, want, r.find(topic))
	return ""
}

type setup struct {
	cloud   *fakecloud.Cloud
	api     *tedeecloud.Client
	owner   *keeper.Keeper
	account *Account
	out     *recorder
}

// start runs an account against a fake cloud holding the demo account, with the real keeper and
// store, and fast follow-ups.
func start(t *testing.T, perHour int, cloudOpts fakecloud.Options) *setup {
	t.Helper()
	cloudOpts.Key = testKey
	if cloudOpts.OperationTime == 0 {
		cloudOpts.OperationTime = 300 * time.Millisecond
	}
	fc := fakecloud.New(cloudOpts)
	t.Cleanup(fc.Close)
	fc.AddDemo()
	srv := httptest.NewServer(fc)
	t.Cleanup(srv.Close)
	api, err := tedeecloud.New(tedeecloud.Options{URL: srv.URL, Key: testKey, RequestsPerHour: perHour})
	if err != nil {
		t.Fatal(err)
	}
	s := &setup{cloud: fc, api: api, out: &recorder{}}
	var acct *Account
	s.owner = keeper.New(state.New("tedee", nil), s.out, keeper.Options{OnStateChange: func(serial string) { acct.StateChanged(serial) }})
	acct = New(api, s.owner, Options{ActivityDelays: []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond},
		PollInterval: time.Hour, CommandTimeout: 10 * time.Second})
	s.account = acct
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = acct.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

const front, back = "20000001-000001", "20000002-000002"

func TestDeviceList(t *testing.T) {
	s := start(t, 600, fakecloud.Options{})
	s.out.waitFor(t, "tedee/"+front+"/update", `{"installed":"2.0.10724","latest":null,"update_available":true}`)
	s.out.waitFor(t, "tedee/"+front+"/door_sensor_battery", "80")
	s.out.waitFor(t, "tedee/"+front+"/keypad_battery", "65")
	s.out.waitFor(t, "tedee/"+front+"/settings", `"pull_spring":true,"pull_spring_duration":3`)
	s.out.waitFor(t, "tedee/"+back+"/update", `"update_available":false`)
	// Cloud-only here (no bridge): the locks' state comes from the cloud.
	s.out.waitFor(t, "tedee/"+front+"/state", "locked")
	s.out.waitFor(t, "tedee/"+back+"/state", "unlocked")
	if h := s.account.Health(); h.Locks != 2 || h.Error != "" || h.DevicesRead.IsZero() {
		t.Errorf("health = %+v", h)
	}
	// The history from before the start is not replayed as if it had just happened.
	time.Sleep(300 * time.Millisecond)
	if got := s.out.find("tedee/" + front + "/activity"); len(got) != 0 {
		t.Errorf("replayed history: %v", got)
	}
}

// A bridge's webhook says the lock moved; the activity log, which reaches the cloud a little
// later, says who: the service publishes it once it shows up.
func TestWhoOpenedTheDoor(t *testing.T) {
	s := start(t, 600, fakecloud.Options{ActivityLag: 400 * time.Millisecond})
	s.out.waitFor(t, "tedee/"+front+"/update", "installed")
	now := time.Now()
	s.cloud.Update(front, func(l *fakecloud.Lock) { l.State = 2 })
	s.cloud.AddActivity(front, 61, "Anna", now)
	unlocked := tedee.LockState(2)
	if _, err := s.owner.BridgeEvent("home", tedee.Event{Name: tedee.EventLockStatusChanged, Serial: front, DeviceID: 1,
		DeviceType: 2, State: &unlocked, Timestamp: now}, now); err != nil {
		t.Fatal(err)
	}
	got := s.out.waitFor(t, "tedee/"+front+"/activity", `"user":"Anna"`)
	if !strings.Contains(got, `"event":"unlocked","source":"pin"`) || !strings.Contains(got, `"code":61`) {
		t.Errorf("activity = %s", got)
	}
	s.out.waitFor(t, "tedee/"+front+"/last_user", "Anna")
	s.out.waitFor(t, "tedee/"+front+"/last_source", "pin")
	// Published once, however many reads it took.
	time.Sleep(time.Second)
	if n := len(s.out.find("tedee/" + front + "/activity")); n != 1 {
		t.Errorf("activity published %d times", n)
	}
}

// A burst of state changes stays within cloud.requests_per_hour: what does not fit is skipped
// (and counted), and Tedee never answers 429.
func TestBurstStaysWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of state changes and follow-ups")
	}
	const budget = 40
	s := start(t, budget, fakecloud.Options{})
	s.out.waitFor(t, "tedee/"+front+"/update", "installed")
	for i := range 300 {
		serial := front
		if i%2 == 1 {
			serial = back
		}
		s.account.StateChanged(serial)
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	reqs := s.cloud.Requests()
	if len(reqs) > budget {
		t.Errorf("%d requests sent, budget %d", len(reqs), budget)
	}
	for _, r := range reqs {
		if r.Status == 429 {
			t.Errorf("Tedee answered 429 to %s %s", r.Method, r.Path)
		}
	}
	st := s.api.Stats()
	if st.Skipped == 0 {
		t.Errorf("nothing skipped: %+v (requests %d)", st, len(reqs))
	}
	// The reserve is left for commands: a command still goes through.
	state, err := s.account.Execute(context.Background(), back, "lock", time.Time{})
	if err != nil || state != "locked" {
		t.Errorf("command after the burst: %q, %v", state, err)
	}
}

func TestCloudCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("cloud operations take their time")
	}
	s := start(t, 600, fakecloud.Options{})
	s.out.waitFor(t, "tedee/"+front+"/state", "locked")
	ctx := context.Background()
	st, err := s.account.Execute(ctx, front, "open", time.Time{})
	if err != nil || (st != "unlocked" && st != "pulled" && st != "pulling") {
		t.Fatalf("open: %q, %v", st, err)
	}
	posts := 0
	for _, r := range s.cloud.Requests() {
		if r.Method == "POST" {
			posts++
		}
	}
	if posts != 2 { // unlock, then pull: each sent once
		t.Errorf("%d operations sent, want 2", posts)
	}
	if st, err := s.account.Execute(ctx, front, "lock", time.Time{}); err != nil || st != "locked" {
		t.Errorf("lock: %q, %v", st, err)
	}
	if got := s.cloud.Lock(front).State; got != 6 {
		t.Errorf("the fake lock is in state %d", got)
	}
	// A lock the cloud cannot reach: the operation fails, and the answer says what the cloud reports.
	s.cloud.Update(back, func(l *fakecloud.Lock) { l.Connected = false })
	if _, err := s.account.Execute(ctx, back, "lock", time.Time{}); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Errorf("unreachable lock: %v", err)
	}
	// Expired before it could start: nothing sent.
	before := len(s.cloud.Requests())
	if _, err := s.account.Execute(ctx, front, "unlock", time.Now().Add(-time.Second)); err == nil {
		t.Error("expired command ran")
	}
	if len(s.cloud.Requests()) != before {
		t.Error("an expired command sent a request")
	}
}

func TestSettingsWrite(t *testing.T) {
	s := start(t, 600, fakecloud.Options{})
	s.out.waitFor(t, "tedee/"+front+"/settings", "auto_lock")
	h := s.account.NewSettings(context.Background(), "tedee", s.out.Publish)
	h.Handle("tedee/"+front+"/settings/set", []byte(`{"auto_lock":true,"auto_lock_delay":45,"transaction":"t1"}`), false)
	got := s.out.waitFor(t, "tedee/"+front+"/settings/set/result", `"transaction":"t1"`)
	if !strings.Contains(got, `"ok":true`) || !strings.Contains(got, `"auto_lock":true,"auto_lock_delay":45`) {
		t.Errorf("result = %s", got)
	}
	if st := s.cloud.Lock(front).Settings; !st.AutoLock || st.AutoLockDelay != 45 {
		t.Errorf("fake lock settings = %+v", st)
	}
	s.out.waitFor(t, "tedee/"+front+"/settings", `"auto_lock":true,"auto_lock_delay":45`)

	for payload, want := range map[string]string{
		`{"auto_lock":"yes"}`:        "not a settings object",
		`{"colour":"red"}`:           "not a settings object",
		`{}`:                         "no setting to write",
		`{"pull_spring_duration":0}`: "pull_spring_duration: must be",
	} {
		h.Handle("tedee/"+back+"/settings/set", []byte(payload), false)
		s.out.waitFor(t, "tedee/"+back+"/settings/set/result", want)
	}
	h.Handle("tedee/"+back+"/settings/set", []byte(`{"auto_lock":true}`), true)
	s.out.waitFor(t, "tedee/"+back+"/settings/set/result", "retained settings write ignored")
	if s.cloud.Lock(back).Settings.AutoLock {
		t.Error("a refused write reached the cloud")
	}
}

func TestUnauthorizedKeyIsReported(t *testing.T) {
	fc := fakecloud.New(fakecloud.Options{Key: "other0.b3RoZXIta2V5LXRoYXQtaXMtbm90LW91cnM"})
	t.Cleanup(fc.Close)
	srv := httptest.NewServer(fc)
	t.Cleanup(srv.Close)
	api, err := tedeecloud.New(tedeecloud.Options{URL: srv.URL, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	acct := New(api, keeper.New(state.New("tedee", nil), &recorder{}, keeper.Options{}), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = acct.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for acct.Health().Error == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	h := acct.Health()
	if !strings.Contains(h.Error, "personal-access-keys") || strings.Contains(h.Error, testKey) {
		t.Errorf("health error = %q", h.Error)
	}
	if n := len(fc.Requests()); n != 1 {
		t.Errorf("%d requests with a refused key, want 1 (then wait an hour)", n)
	}
}
