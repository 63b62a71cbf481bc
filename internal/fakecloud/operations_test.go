package fakecloud

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// moves records OnMove calls.
type moves struct {
	mu    sync.Mutex
	locks []Lock
}

func (m *moves) record(l Lock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locks = append(m.locks, l)
}

func (m *moves) states() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for _, l := range m.locks {
		out = append(out, l.State)
	}
	return out
}

type operationStatus struct {
	DeviceID    int64  `json:"deviceId"`
	OperationID string `json:"operationId"`
	Result      *int   `json:"result"`
	Status      string `json:"status"`
	Type        int    `json:"type"`
}

func (s *server) operation(id string) operationStatus {
	s.t.Helper()
	var op operationStatus
	s.get("/my/device/operation/"+id).wantStatus(s.t, http.StatusOK).result(s.t, &op)
	return op
}

func (s *server) activity(deviceID int64, query string) []activityJSON {
	s.t.Helper()
	var out []activityJSON
	s.get("/my/deviceactivity?deviceId="+strconv.FormatInt(deviceID, 10)+query).wantStatus(s.t, http.StatusOK).result(s.t, &out)
	return out
}

func TestOperationLifecycle(t *testing.T) {
	clk := newClock(start0())
	var moved moves
	s := newServer(t, Options{Now: clk.Now, User: "Anna", OperationTime: 2 * time.Second, OnMove: moved.record})
	l := proLock()
	l.State = 2
	s.withLocks(l)
	clk.Advance(5 * time.Second)

	a := s.post("/my/lock/1/operation/lock").wantStatus(t, http.StatusAccepted)
	checkShape(t, "operation-accepted.json", a)
	var accepted struct{ OperationID, LastStateChangedDate string }
	a.result(t, &accepted)
	if want := strconv.FormatInt(start0().Add(5*time.Second).UnixMilli(), 10); accepted.OperationID != want {
		t.Errorf("operationId %q, want the epoch ms of the POST, %s", accepted.OperationID, want)
	}
	if accepted.LastStateChangedDate != "2026-03-10T09:30:00.000Z" {
		t.Errorf("lastStateChangedDate %q, want the change before the operation", accepted.LastStateChangedDate)
	}

	// At once: pending, the lock locking.
	op := s.operation(accepted.OperationID)
	if op.Status != "PENDING" || op.Result != nil || op.Type != opLock || op.DeviceID != 1 {
		t.Errorf("right after the POST: %+v", op)
	}
	var sync syncJSON
	s.get("/my/lock/1/sync").result(t, &sync)
	if sync.DeviceState.State != 5 || sync.DeviceState.LastStateChangedDate != "2026-03-10T09:30:05.000Z" {
		t.Errorf("while locking: %+v", sync.DeviceState)
	}
	clk.Advance(1999 * time.Millisecond)
	if op := s.operation(accepted.OperationID); op.Status != "PENDING" || s.cloud.Lock(l.Serial).State != 5 {
		t.Errorf("before OperationTime: %+v, state %d", op, s.cloud.Lock(l.Serial).State)
	}
	if got := s.activity(1, ""); len(got) != 0 {
		t.Errorf("activity before the lock arrived: %+v", got)
	}

	// After OperationTime: completed with 0, locked, and the owner's entry in the log.
	clk.Advance(time.Millisecond)
	a = s.get("/my/device/operation/" + accepted.OperationID)
	checkShape(t, "operation.json", a)
	a.result(t, &op)
	if op.Status != "COMPLETED" || op.Result == nil || *op.Result != ResultOK {
		t.Errorf("after OperationTime: %+v", op)
	}
	if st := s.cloud.Lock(l.Serial).State; st != 6 {
		t.Errorf("state %d, want 6 locked", st)
	}
	got := s.activity(1, "")
	if len(got) != 1 || got[0].Event != codeLockedRemote || got[0].Username == nil || *got[0].Username != "Anna" ||
		got[0].UserID == nil || *got[0].UserID != 1 || got[0].Date != "2026-03-10T09:30:07.000" {
		t.Errorf("activity %+v", got)
	}
	if diff := cmp.Diff([]int{5, 6}, moved.states()); diff != "" {
		t.Errorf("OnMove states (-want +got):\n%s", diff)
	}
	s.get("/my/device/operation/1").wantStatus(t, http.StatusNotFound)
}

func TestOperationPreconditions(t *testing.T) {
	const (
		none      = -1
		unpaired  = "unpaired"
		offline   = "offline"
		discon    = "disconnected"
		noSpring  = "no pull spring"
		autoPull  = "auto-pull"
		reachable = ""
	)
	for _, tc := range []struct {
		name       string
		state      int
		how        string
		path       string
		result     int
		states     []int // the states the lock moved through
		codes      []int // the activity entries, oldest first
		finalState int
	}{
		{"lock from unlocked", 2, reachable, "lock", ResultOK, []int{5, 6}, []int{32}, 6},
		{"lock from semi-locked", 3, reachable, "lock", ResultOK, []int{5, 6}, []int{32}, 6},
		{"lock from locked", 6, reachable, "lock", ResultInvalidState, nil, nil, 6},
		{"lock while unlocking", 4, reachable, "lock", ResultInvalidState, nil, nil, 4},
		{"lock from unknown", 9, reachable, "lock", ResultInvalidState, nil, nil, 9},
		{"unlock from locked", 6, reachable, "unlock", ResultOK, []int{4, 2}, []int{33}, 2},
		{"unlock from semi-locked", 3, reachable, "unlock?mode=0", ResultOK, []int{4, 2}, []int{33}, 2},
		{"unlock from unlocked", 2, reachable, "unlock", ResultInvalidState, nil, nil, 2},
		{"unlock from unknown", 9, reachable, "unlock", ResultInvalidState, nil, nil, 9},
		{"force unlock from unknown", 9, reachable, "unlock?mode=2", ResultOK, []int{4, 2}, []int{67}, 2},
		{"force unlock from locked", 6, reachable, "unlock?MODE=2", ResultOK, []int{4, 2}, []int{67}, 2},
		{"force unlock while updating", 18, reachable, "unlock?mode=2", ResultInvalidState, nil, nil, 18},
		{"unlock with auto-pull", 6, autoPull, "unlock", ResultOK, []int{4, 2, 8, 7, 2}, []int{33, 55}, 2},
		{"unlock without auto-pull (mode 3)", 6, autoPull, "unlock?mode=3", ResultOK, []int{4, 2}, []int{33}, 2},
		{"unlock or pull (mode 4) from locked", 6, reachable, "unlock?mode=4", ResultOK, []int{4, 2}, []int{33}, 2},
		{"unlock or pull (mode 4) from unlocked", 2, reachable, "unlock?mode=4", ResultOK, []int{8, 7, 2}, []int{51}, 2},
		{"mode 4 from unlocked without pull spring", 2, noSpring, "unlock?mode=4", ResultOK, nil, nil, 2},
		{"pull from unlocked", 2, reachable, "pull", ResultOK, []int{8, 7, 2}, []int{51}, 2},
		{"pull from locked", 6, reachable, "pull", ResultInvalidState, nil, nil, 6},
		{"pull without pull spring: nothing, successfully", 2, noSpring, "pull", ResultOK, nil, nil, 2},
		{"lock when uncalibrated: nothing, successfully", 0, reachable, "lock", ResultOK, nil, nil, 0},
		{"lock while calibrating", 1, reachable, "lock", ResultInvalidState, nil, nil, 1},
		{"lock a disconnected lock", 2, discon, "lock", ResultUnreachable, nil, nil, 2},
		{"lock behind an offline bridge", 2, offline, "lock", ResultUnreachable, nil, nil, 2},
		{"lock an unpaired lock", 2, unpaired, "lock", ResultUnreachable, nil, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(start0())
			var moved moves
			s := newServer(t, Options{Now: clk.Now, OnMove: moved.record})
			l := proLock()
			l.State = tc.state
			switch tc.how {
			case unpaired:
				l.BridgeID = 0
			case discon:
				l.Connected = false
			case noSpring:
				l.Settings.PullSpring = false
			case autoPull:
				l.Settings.AutoPull = true
			}
			s.withLocks(l)
			if tc.how == offline {
				b := testBridge()
				b.Connected = false
				s.cloud.AddBridge(b)
			}
			var accepted struct{ OperationID string }
			s.post("/my/lock/1/operation/"+tc.path).wantStatus(t, http.StatusAccepted).result(t, &accepted)
			clk.Advance(time.Second) // the default OperationTime
			op := s.operation(accepted.OperationID)
			if op.Status != "COMPLETED" || op.Result == nil || *op.Result != tc.result {
				t.Errorf("operation %+v, want COMPLETED with %d", op, tc.result)
			}
			if diff := cmp.Diff(tc.states, moved.states()); diff != "" {
				t.Errorf("states moved through (-want +got):\n%s", diff)
			}
			if st := s.cloud.Lock(l.Serial).State; st != tc.finalState {
				t.Errorf("final state %d, want %d", st, tc.finalState)
			}
			var codes []int
			for _, e := range s.activity(1, "") {
				codes = append([]int{e.Event}, codes...)
			}
			if diff := cmp.Diff(tc.codes, codes); diff != "" {
				t.Errorf("activity codes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOperationRequests(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now})
	l := proLock()
	l.State = 2
	s.withLocks(l)
	for _, mode := range []string{"1", "5", "-1", "x"} {
		s.post("/my/lock/1/operation/unlock?mode="+mode).wantStatus(t, http.StatusBadRequest)
	}
	s.post("/my/lock/99/operation/lock").wantStatus(t, http.StatusNotFound)
	s.post("/my/lock/1/operation/lock?mode=7").wantStatus(t, http.StatusAccepted) // mode is the unlock's

	// Operations in the same millisecond get distinct, increasing ids, each with its own fate:
	// the second found the lock already locking.
	var ids []string
	for range 3 {
		var acc struct{ OperationID string }
		s.post("/my/lock/1/operation/lock").wantStatus(t, http.StatusAccepted).result(t, &acc)
		ids = append(ids, acc.OperationID)
	}
	if !slices.IsSortedFunc(ids, cmpNumbers) || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("operation ids %v", ids)
	}
	clk.Advance(time.Second)
	if op := s.operation(ids[0]); *op.Result != ResultInvalidState {
		t.Errorf("a lock while locking: %+v", op)
	}
}

func cmpNumbers(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func TestOperationsAreBounded(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now, RequestsPerHour: 10_000})
	l := proLock()
	l.State = 6
	s.withLocks(l)
	var first struct{ OperationID string }
	s.post("/my/lock/1/operation/lock").result(t, &first)
	for range maxOperations {
		s.post("/my/lock/1/operation/lock")
	}
	s.get("/my/device/operation/"+first.OperationID).wantStatus(t, http.StatusNotFound)
	if n := len(s.cloud.ops); n != maxOperations {
		t.Errorf("%d operations kept", n)
	}
}

func TestOnMoveWithTheRealClock(t *testing.T) {
	calls := make(chan Lock, 10)
	var s *server
	s = newServer(t, Options{OperationTime: 50 * time.Millisecond, OnMove: func(l Lock) {
		_ = s.cloud.Lock(l.Serial) // OnMove may ask the fake: it is called without its lock held
		calls <- l
	}})
	l := proLock()
	l.State = 2
	s.withLocks(l)
	s.post("/my/lock/1/operation/lock").wantStatus(t, http.StatusAccepted)
	var got []int
	for len(got) < 2 {
		select {
		case l := <-calls:
			got = append(got, l.State)
		case <-time.After(5 * time.Second):
			t.Fatalf("OnMove calls %v, then nothing: the timer did not move the lock", got)
		}
	}
	if diff := cmp.Diff([]int{5, 6}, got); diff != "" {
		t.Errorf("OnMove (-want +got):\n%s", diff)
	}
	if st := s.cloud.Lock(l.Serial).State; st != 6 {
		t.Errorf("state %d", st)
	}
}

func TestNoOnMoveAfterClose(t *testing.T) {
	calls := make(chan Lock, 10)
	s := newServer(t, Options{OperationTime: 30 * time.Millisecond, OnMove: func(l Lock) { calls <- l }})
	l := proLock()
	l.State = 2
	s.withLocks(l)
	s.post("/my/lock/1/operation/lock").wantStatus(t, http.StatusAccepted)
	<-calls // locking
	s.cloud.Close()
	select {
	case l := <-calls:
		t.Errorf("OnMove after Close: %+v", l)
	case <-time.After(100 * time.Millisecond):
	}
}
