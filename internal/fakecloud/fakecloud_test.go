package fakecloud

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"bearer scheme", "Bearer " + testKey, http.StatusUnauthorized},
		{"wrong key", "PersonalKey " + testKey + "x", http.StatusUnauthorized},
		{"key prefix only", "PersonalKey smnxaz", http.StatusUnauthorized},
		{"no key", "PersonalKey", http.StatusUnauthorized},
		{"two spaces", "PersonalKey  " + testKey, http.StatusUnauthorized},
		{"right key", "PersonalKey " + testKey, http.StatusOK},
		{"scheme in other case", "personalkey " + testKey, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.do(http.MethodGet, "/api/v37/my/device", nil, tc.auth)
			a.wantStatus(t, tc.want)
			if strings.Contains(string(a.raw), "IWA6u00") || strings.Contains(a.header.Get("Www-Authenticate"), "IWA6u00") {
				t.Errorf("the answer repeats the key: %s", a.raw)
			}
		})
	}
}

func TestNoKeyConfiguredAcceptsNothing(t *testing.T) {
	c := New(Options{})
	defer c.Close()
	req, err := http.NewRequest(http.MethodGet, "/api/v37/my/device", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "PersonalKey ")
	if c.authorized(req) {
		t.Error("a fake without a key accepted an empty one")
	}
}

func TestVersionAndPaths(t *testing.T) {
	s := newServer(t, Options{}).withLocks(proLock())
	auth := "PersonalKey " + testKey
	for _, tc := range []struct {
		method, path string
		want         int
		message      string
	}{
		{http.MethodGet, "/api/v1.36/my/device", http.StatusNotFound, "v1.36"},
		{http.MethodGet, "/api/v1.37/my/device", http.StatusNotFound, "not supported"},
		{http.MethodGet, "/my/device", http.StatusNotFound, ""},
		{http.MethodGet, "/API/V37/MY/DEVICE/DETAILS", http.StatusOK, ""},
		{http.MethodGet, "/api/v37/My/Lock/1/Sync", http.StatusOK, ""},
		{http.MethodGet, "/api/v37/my/lock/1/", http.StatusOK, ""},
		{http.MethodGet, "/api/v37/my/nothing", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v37/my/lock/abc", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v37/my/lock/99", http.StatusNotFound, "not found"},
		{http.MethodPost, "/api/v37/my/lock/1/operation/open", http.StatusNotFound, ""},
		{http.MethodDelete, "/api/v37/my/lock", http.StatusMethodNotAllowed, "DELETE"},
		{http.MethodGet, "/api/v37/my/lock/1/operation/lock", http.StatusMethodNotAllowed, ""},
	} {
		a := s.do(tc.method, tc.path, nil, auth)
		if a.status != tc.want || !strings.Contains(strings.ToLower(strings.Join(a.env.ErrorMessages, " ")), strings.ToLower(tc.message)) {
			t.Errorf("%s %s: %d %v, want %d mentioning %q", tc.method, tc.path, a.status, a.env.ErrorMessages, tc.want, tc.message)
		}
	}
	a := s.do(http.MethodDelete, "/api/v37/my/lock", nil, auth)
	if got := a.header.Get("Allow"); got != "GET, PATCH" {
		t.Errorf("Allow %q, want GET, PATCH", got)
	}
	// The version is checked before the key: an old client learns what is wrong.
	s.do(http.MethodGet, "/api/v1.32/my/lock", nil, "").wantStatus(t, http.StatusNotFound)
}

func TestScopes(t *testing.T) {
	calls := []struct {
		name, method, path, body string
		scope                    string
	}{
		{"device", http.MethodGet, "/my/device", "", ScopeDeviceRead},
		{"details", http.MethodGet, "/my/device/details", "", ScopeDeviceRead},
		{"locks", http.MethodGet, "/my/lock", "", ScopeDeviceRead},
		{"sync", http.MethodGet, "/my/lock/sync", "", ScopeDeviceRead},
		{"door sensors", http.MethodGet, "/my/doorsensor", "", ScopeDeviceRead},
		{"activity", http.MethodGet, "/my/deviceactivity?deviceId=1", "", ScopeActivityRead},
		{"lock", http.MethodPost, "/my/lock/1/operation/lock", "", ScopeLockOperate},
		{"settings", http.MethodPatch, "/my/lock", `{"id":1,"revision":1,"name":"Hall"}`, ScopeDeviceReadWrite},
	}
	for _, tc := range []struct {
		name   string
		scopes []string
		allows map[string]bool // by required scope
	}{
		{"all", nil, map[string]bool{ScopeDeviceRead: true, ScopeActivityRead: true, ScopeLockOperate: true, ScopeDeviceReadWrite: true}},
		{"read-only", []string{"Device.Read", "DeviceActivity.Read"}, map[string]bool{ScopeDeviceRead: true, ScopeActivityRead: true}},
		{"read-write includes read", []string{"Device.ReadWrite"}, map[string]bool{ScopeDeviceRead: true, ScopeDeviceReadWrite: true}},
		{"operate only", []string{"Lock.Operate"}, map[string]bool{ScopeLockOperate: true}},
		{"names in other case", []string{"device.read"}, map[string]bool{ScopeDeviceRead: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{Scopes: tc.scopes}).withLocks(Lock{ID: 1, Serial: "L1", BridgeID: 2, Connected: true, State: 2})
			for _, call := range calls {
				var a answer
				if call.body != "" {
					a = s.do(call.method, "/api/v37"+call.path, strings.NewReader(call.body), "PersonalKey "+testKey)
				} else {
					a = s.do(call.method, "/api/v37"+call.path, nil, "PersonalKey "+testKey)
				}
				if forbidden := a.status == http.StatusForbidden; forbidden == tc.allows[call.scope] {
					t.Errorf("%s with %v: %d %s", call.name, tc.scopes, a.status, a.raw)
				}
				if a.status == http.StatusForbidden && !strings.Contains(a.env.ErrorMessages[0], call.scope) {
					t.Errorf("%s: 403 does not name the scope %s: %v", call.name, call.scope, a.env.ErrorMessages)
				}
			}
		})
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	s.get("/my/lock/sync?id=1&ID=2")
	clk.Advance(time.Second)
	s.do(http.MethodGet, "/api/v37/my/device", nil, "")
	want := []Request{
		{Method: "GET", Path: "/api/v37/my/lock/sync", Query: "id=1&ID=2", Status: 200, At: start0()},
		{Method: "GET", Path: "/api/v37/my/device", Status: 401, At: start0().Add(time.Second)},
	}
	got := s.cloud.Requests()
	if len(got) != len(want) {
		t.Fatalf("requests %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHeaders(t *testing.T) {
	s := newServer(t, Options{})
	a := s.get("/my/device").wantStatus(t, http.StatusOK)
	b := s.get("/my/device")
	if a.header.Get("X-Correlation-ID") == "" || a.header.Get("X-Correlation-ID") == b.header.Get("X-Correlation-ID") {
		t.Errorf("correlation ids %q, %q: want distinct ids", a.header.Get("X-Correlation-ID"), b.header.Get("X-Correlation-ID"))
	}
	if got := a.header.Get("API-Supported-Versions"); got != "37" {
		t.Errorf("API-Supported-Versions %q", got)
	}
}
