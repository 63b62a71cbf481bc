package tedeecloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

func TestOperate(t *testing.T) {
	for _, tc := range []struct {
		op    tedeecloud.Operation
		mode  tedeecloud.UnlockMode
		path  string
		query string
	}{
		{tedeecloud.OpLock, tedeecloud.UnlockForce, "/api/v37/my/lock/1/operation/lock", ""}, // mode only for unlock
		{tedeecloud.OpUnlock, tedeecloud.UnlockNormal, "/api/v37/my/lock/1/operation/unlock", "mode=0"},
		{tedeecloud.OpUnlock, tedeecloud.UnlockOrPull, "/api/v37/my/lock/1/operation/unlock", "mode=4"},
		{tedeecloud.OpPull, tedeecloud.UnlockWithoutPull, "/api/v37/my/lock/1/operation/pull", ""},
	} {
		t.Run(string(tc.op)+"/"+tc.query, func(t *testing.T) {
			srv := newServer(t, file(t, "operation-started.json", http.StatusAccepted))
			got, err := newClient(t, srv.URL, 0, nil).Operate(context.Background(), 1, tc.op, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, srv, "POST", tc.path, tc.query)
			if body := srv.requests()[0].Body; body != "" {
				t.Errorf("body = %q, want none: everything goes in the path", body)
			}
			want := tedeecloud.Started{OperationID: "1577833200000", LastStateChanged: utc("2021-04-26T05:53:57.423Z")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Operate() diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOperateRefusesBadArguments(t *testing.T) {
	srv := newServer(t, file(t, "operation-started.json", http.StatusAccepted))
	c := newClient(t, srv.URL, 0, nil)
	if _, err := c.Operate(context.Background(), 1, "open", 0); err == nil {
		t.Error(`Operate("open") succeeded`)
	}
	if _, err := c.Operate(context.Background(), 1, tedeecloud.OpUnlock, 1); err == nil {
		t.Error("Operate(unlock, mode 1) succeeded")
	}
	if n := srv.count(); n != 0 {
		t.Errorf("server saw %d requests for refused arguments, want 0", n)
	}
}

// TestOperateSentOnce: whatever the answer, the client never repeats an operation.
func TestOperateSentOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		lost    bool // the error must say the answer was lost (the lock may have moved)
	}{
		{"500", answer(500, ""), false},
		{"503 with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
		}, false},
		{"connection cut", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, true},
		{"202 not JSON", answer(202, "accepted"), true},
		{"202 without an operation id", answer(202, `{"result":{},"success":true,"errorMessages":[],"statusCode":202}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.handler)
			_, err := newClient(t, srv.URL, 0, nil).Operate(context.Background(), 1, tedeecloud.OpUnlock, 0)
			if err == nil {
				t.Fatal("Operate() succeeded")
			}
			if n := srv.count(); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1", n)
			}
			if got := errors.Is(err, tedeecloud.ErrAnswerLost); got != tc.lost {
				t.Errorf("errors.Is(%v, ErrAnswerLost) = %v, want %v", err, got, tc.lost)
			}
		})
	}
}

func TestOperation(t *testing.T) {
	srv := newServer(t, file(t, "operation-status.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).Operation(context.Background(), "1619078520230")
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, srv, "GET", "/api/v37/my/device/operation/1619078520230", "")
	want := tedeecloud.OperationStatus{DeviceID: 1, OperationID: "1619078520230", Status: "COMPLETED", Result: ptr(0), Type: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Operation() diff (-want +got):\n%s", diff)
	}
	if !got.Completed() || !got.Succeeded() {
		t.Errorf("Completed() = %v, Succeeded() = %v, want both", got.Completed(), got.Succeeded())
	}
}

func TestOperationStatusWords(t *testing.T) {
	for _, tc := range []struct {
		body                 string
		completed, succeeded bool
	}{
		{`{"deviceId":1,"operationId":1619078520230,"status":"PENDING","type":0}`, false, false},
		{`{"deviceId":1,"operationId":"1","status":"COMPLETED","result":3,"type":0}`, true, false},
		{`{"deviceId":1,"operationId":"1","status":"completed","result":0,"type":2}`, true, true},
		{`{"deviceId":1,"operationId":"1","status":"COMPLETED","result":null,"type":2}`, true, false},
	} {
		var s tedeecloud.OperationStatus
		if err := json.Unmarshal([]byte(tc.body), &s); err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if s.OperationID == "" || s.Completed() != tc.completed || s.Succeeded() != tc.succeeded {
			t.Errorf("%s: id %q, Completed() = %v, Succeeded() = %v; want %v, %v", tc.body, s.OperationID,
				s.Completed(), s.Succeeded(), tc.completed, tc.succeeded)
		}
	}
}

func TestOperationEscapesTheID(t *testing.T) {
	srv := newServer(t, file(t, "operation-status.json", http.StatusOK))
	c := newClient(t, srv.URL, 0, nil)
	if _, err := c.Operation(context.Background(), ""); err == nil {
		t.Error(`Operation("") succeeded`)
	}
	c.Operation(context.Background(), "1/../../lock")
	reqs := srv.requests()
	if len(reqs) != 1 || reqs[0].EscapedPath != "/api/v37/my/device/operation/1%2F..%2F..%2Flock" {
		t.Errorf("requests = %+v, want the id as one escaped path element", reqs)
	}
}

func TestUpdateSettings(t *testing.T) {
	srv := newServer(t, file(t, "lock-update-response.json", http.StatusOK))
	got, err := newClient(t, srv.URL, 0, nil).UpdateSettings(context.Background(), 1, 1,
		tedeecloud.DeviceSettings{AutoLockDelay: ptr(10)})
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, srv, "PATCH", "/api/v37/my/lock", "")
	r := srv.requests()[0]
	if !strings.HasPrefix(r.ContentType, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", r.ContentType)
	}
	// Only what is set is sent: the documented request, exactly.
	var gotBody, wantBody any
	if err := json.Unmarshal([]byte(r.Body), &gotBody); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	json.Unmarshal(testdata(t, "lock-update-request.json"), &wantBody)
	if diff := cmp.Diff(wantBody, gotBody); diff != "" {
		t.Errorf("PATCH body diff (-want +got):\n%s", diff)
	}
	if want := (tedeecloud.Updated{ID: 1, Revision: 2, TargetDeviceRevision: 2}); got != want {
		t.Errorf("UpdateSettings() = %+v, want %+v", got, want)
	}
}

// TestUpdateSettingsFalseIsSent: omitempty leaves out unset pointers, never a false or a 0.
func TestUpdateSettingsFalseIsSent(t *testing.T) {
	srv := newServer(t, file(t, "lock-update-response.json", http.StatusOK))
	_, err := newClient(t, srv.URL, 0, nil).UpdateSettings(context.Background(), 4, 9,
		tedeecloud.DeviceSettings{PullSpringEnabled: ptr(false), PostponedLockDelay: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":4,"revision":9,"deviceSettings":{"pullSpringEnabled":false,"postponedLockDelay":0}}`
	if got := srv.requests()[0].Body; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestUpdateSettingsConflict(t *testing.T) {
	srv := newServer(t, answer(409, `{"success":false,"errorMessages":["Revision is outdated."],"statusCode":409}`))
	_, err := newClient(t, srv.URL, 0, nil).UpdateSettings(context.Background(), 1, 1, tedeecloud.DeviceSettings{AutoLockEnabled: ptr(true)})
	if !errors.Is(err, tedeecloud.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	var apiErr *tedeecloud.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 409 || apiErr.Method != "PATCH" || apiErr.Path != "/my/lock" ||
		!cmp.Equal(apiErr.Messages, []string{"Revision is outdated."}) {
		t.Errorf("APIError = %+v", apiErr)
	}
	if srv.count() != 1 {
		t.Errorf("server saw %d requests, want 1: the client does not retry", srv.count())
	}
}

// TestOperateNotSentIsNotLost: when no connection could be made, the error does not claim the
// operation might have arrived.
func TestOperateNotSentIsNotLost(t *testing.T) {
	srv := newServer(t, answer(202, ""))
	srv.Close()
	_, err := newClient(t, srv.URL, 0, nil).Operate(context.Background(), 1, tedeecloud.OpLock, 0)
	if err == nil || errors.Is(err, tedeecloud.ErrAnswerLost) {
		t.Errorf("err = %v, want a failure that is not ErrAnswerLost", err)
	}
}
