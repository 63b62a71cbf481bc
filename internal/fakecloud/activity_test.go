package fakecloud

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestActivityShape(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	s.cloud.AddActivity("111111-11111", 32, "Test", start0().Add(-time.Minute))
	s.cloud.AddActivity("111111-11111", 33, "Test", start0().Add(-2*time.Minute))
	checkShape(t, "deviceactivity.json", s.get("/my/deviceactivity?deviceId=1"))
}

func TestActivityOrderAndPages(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	serial := "111111-11111"
	base := start0().Add(-time.Hour)
	// Added out of order, two in the same millisecond, one without a user (a button press).
	idC := s.cloud.AddActivity(serial, 34, "", base.Add(3*time.Second+123456*time.Nanosecond))
	idA := s.cloud.AddActivity(serial, 61, "Anna", base.Add(time.Second))
	idB := s.cloud.AddActivity(serial, 33, "Owner", base.Add(2*time.Second))
	idB2 := s.cloud.AddActivity(serial, 84, "", base.Add(2*time.Second+400*time.Microsecond))
	if s.cloud.AddActivity("nope", 32, "x", base) != 0 {
		t.Error("an entry for an unknown lock")
	}

	got := s.activity(1, "")
	want := []activityJSON{
		{ID: idC, DeviceID: 1, Event: 34, Date: "2026-03-10T08:30:03.000"},
		{ID: idB2, DeviceID: 1, Event: 84, Date: "2026-03-10T08:30:02.000"},
		{ID: idB, DeviceID: 1, UserID: new(int64(1)), Username: new("Owner"), Event: 33, Date: "2026-03-10T08:30:02.000"},
		{ID: idA, DeviceID: 1, UserID: new(int64(2)), Username: new("Anna"), Event: 61, Date: "2026-03-10T08:30:01.000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newest first (-want +got):\n%s", diff)
	}
	// elements pages; lastElemDate is strictly older, so the page border's millisecond is
	// skipped (the documented behaviour a client must cope with).
	if got := s.activity(1, "&elements=2"); len(got) != 2 || got[1].ID != idB2 {
		t.Errorf("elements=2: %+v", got)
	}
	for _, date := range []string{"2026-03-10T08:30:02.000", "2026-03-10T08:30:02", "2026-03-10T08:30:02Z",
		"2026-03-10T09:30:02.000+01:00"} {
		got := s.activity(1, "&Elements=2&LastElemDate="+url.QueryEscape(date))
		if diff := cmp.Diff(want[3:], got); diff != "" {
			t.Errorf("lastElemDate %s (-want +got):\n%s", date, diff)
		}
	}
	// Names are case-insensitive.
	if got := s.activity(1, "&ELEMENTS=1"); len(got) != 1 {
		t.Errorf("ELEMENTS=1: %d entries", len(got))
	}
	var viaOtherCase []activityJSON
	s.get("/my/deviceactivity?DeviceId=1").wantStatus(t, http.StatusOK).result(t, &viaOtherCase)
	if len(viaOtherCase) != 4 {
		t.Errorf("DeviceId=1: %d entries", len(viaOtherCase))
	}
}

func TestActivityRequests(t *testing.T) {
	s := newServer(t, Options{}).withLocks(proLock())
	for _, q := range []string{"", "?deviceId=x", "?deviceId=1&elements=0", "?deviceId=1&elements=201",
		"?deviceId=1&elements=ten", "?deviceId=1&lastElemDate=yesterday"} {
		s.get("/my/deviceactivity"+q).wantStatus(t, http.StatusBadRequest)
	}
	s.get("/my/deviceactivity?deviceId=99").wantStatus(t, http.StatusNotFound)
	if got := s.activity(2, ""); len(got) != 0 { // the bridge: a device, without a log
		t.Errorf("bridge activity %+v", got)
	}
	s.get("/my/deviceactivity?deviceId=1&elements=200").wantStatus(t, http.StatusOK)
}

func TestActivityDefaultPageAndBound(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now}).withLocks(proLock())
	var first int64
	for i := range maxActivity + 5 {
		id := s.cloud.AddActivity("111111-11111", 32, "Owner", start0().Add(time.Duration(i-2000)*time.Second))
		if i == 5 {
			first = id // the oldest kept
		}
	}
	page := s.activity(1, "")
	if len(page) != maxElements {
		t.Fatalf("%d entries without elements, want %d", len(page), maxElements)
	}
	var all []activityJSON
	for len(page) > 0 {
		all = append(all, page...)
		page = s.activity(1, "&lastElemDate="+url.QueryEscape(page[len(page)-1].Date))
	}
	if len(all) != maxActivity || all[len(all)-1].ID != first {
		t.Errorf("%d entries kept, the oldest %d; want %d, the oldest %d", len(all), all[len(all)-1].ID, maxActivity, first)
	}
}

func TestActivityLag(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now, ActivityLag: 5 * time.Second}).withLocks(proLock())
	s.cloud.AddActivity("111111-11111", 35, "", start0())
	// An entry from before an outage arrives late, with its own date.
	s.cloud.AddActivity("111111-11111", 61, "Anna", start0().Add(-time.Hour))
	if got := s.activity(1, ""); len(got) != 1 || got[0].Event != 61 {
		t.Errorf("at once: %+v, want only the old entry", got)
	}
	clk.Advance(4999 * time.Millisecond)
	if got := s.activity(1, ""); len(got) != 1 {
		t.Errorf("before the lag passed: %+v", got)
	}
	clk.Advance(time.Millisecond)
	if got := s.activity(1, ""); len(got) != 2 || got[0].Event != 35 {
		t.Errorf("after the lag: %+v", got)
	}
}

func TestActivityLagOfOperations(t *testing.T) {
	clk := newClock(start0())
	s := newServer(t, Options{Now: clk.Now, ActivityLag: 3 * time.Second})
	l := proLock()
	l.State = 2
	s.withLocks(l)
	s.post("/my/lock/1/operation/pull").wantStatus(t, http.StatusAccepted)
	clk.Advance(time.Second) // completed; pulled at 0.5 s
	if got := s.activity(1, ""); len(got) != 0 {
		t.Errorf("visible before the lag: %+v", got)
	}
	clk.Advance(2500 * time.Millisecond)
	if got := s.activity(1, ""); len(got) != 1 || got[0].Event != codePulledRemote || got[0].Date != "2026-03-10T09:30:00.500" {
		t.Errorf("after the lag: %+v", got)
	}
}
