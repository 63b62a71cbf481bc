package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// fakeService stands in for tedee2mqtt: for every webhook it publishes the event message
// tedee/<serial>/event with the serial and timestamp, except that, counting requests as they
// arrive, every failEvery-th is answered 500 without publishing, every publishFailEvery-th is
// answered 500 after publishing, and every dropEvery-th of the others is answered 204 without
// publishing — a message lost. It records which webhooks it treated how.
type fakeService struct {
	client                                 paho.Client
	dropEvery, failEvery, publishFailEvery int

	mu                                        sync.Mutex
	n                                         int
	dropped, failed, publishFailed, published []string // "serial timestamp"
}

func newFakeService(t *testing.T, brokerURL string) *fakeService {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID(fmt.Sprintf("fake-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("fake service: connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &fakeService{client: c}
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	serial, ts := r.Header.Get(headerSerial), r.Header.Get(headerTimestamp)
	id := serial + " " + ts
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	every := func(k int) bool { return k > 0 && n%k == 0 }
	record := func(list *[]string) {
		f.mu.Lock()
		*list = append(*list, id)
		f.mu.Unlock()
	}
	switch {
	case every(f.failEvery):
		record(&f.failed)
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	case every(f.dropEvery):
		record(&f.dropped)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	payload := fmt.Sprintf(`{"event":"x","timestamp":%q,"bridge":"default","serial":%q}`, ts, serial)
	if tok := f.client.Publish("tedee/"+serial+"/event", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		http.Error(w, "publish failed", http.StatusInternalServerError)
		return
	}
	if every(f.publishFailEvery) {
		record(&f.publishFailed)
		http.Error(w, "failing after publishing", http.StatusBadGateway)
		return
	}
	record(&f.published)
	w.WriteHeader(http.StatusNoContent)
}

var testBase = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

func testOptions(url, brokerURL string, count int) loadOptions {
	return loadOptions{URL: url, BrokerURL: brokerURL, BaseTopic: "tedee", Locks: 7, Count: count,
		Concurrency: 4, Duration: 20 * time.Second, Grace: 300 * time.Millisecond, Format: formatPost,
		SerialPrefix: 20000000, Base: testBase}
}

// ids renders webhook indexes the way fakeService records them.
func ids(t *testing.T, o loadOptions, idx []int) []string {
	t.Helper()
	gen, err := newGenerator(o.Locks, o.Count, o.SerialPrefix, o.Base, o.Format)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(idx))
	for i, x := range idx {
		w := gen.at(x)
		out[i] = gen.serials[w.lock] + " " + gen.timestamp(w.seq).Format(tsLayout)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestCountsExactlyTheDroppedMessagesAsLost(t *testing.T) {
	b := brokertest.Start(t)
	fake := newFakeService(t, b.URL())
	fake.dropEvery = 10
	srv := httptest.NewServer(fake)
	defer srv.Close()

	o := testOptions(srv.URL+"/webhook", b.URL(), 300)
	r, err := runLoad(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 300 || r.Accepted != 300 || r.Rejected+r.Transport != 0 {
		t.Errorf("sent %d, accepted %d, errors %d; want 300, 300, 0 (%s)", r.Sent, r.Accepted, r.Rejected+r.Transport, r.FirstError)
	}
	if r.Lost != 30 || r.Delivered != 270 {
		t.Errorf("lost %d, delivered %d; want 30, 270", r.Lost, r.Delivered)
	}
	if got, want := ids(t, o, r.LostIDs), sorted(fake.dropped); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reported lost:\n%v\nwant exactly the dropped:\n%v", got, want)
	}
	if r.Duplicates != 0 || r.Unmatched != 0 || r.Unaccepted != 0 {
		t.Errorf("duplicates %d, unmatched %d, unaccepted %d; want none", r.Duplicates, r.Unmatched, r.Unaccepted)
	}
	if r.Latency.count() != 270 || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
		t.Errorf("%d latencies, p50 %v p99 %v max %v", r.Latency.count(), r.P50, r.P99, r.Max)
	}
	if r.Messages != 270 || r.MessagesByLeaf["event"] != 270 {
		t.Errorf("messages %d (%v), want 270 events", r.Messages, r.MessagesByLeaf)
	}
	if r.AcceptedPerSec() <= 0 || r.DeliveredPerSec() <= 0 {
		t.Errorf("rates %v %v", r.AcceptedPerSec(), r.DeliveredPerSec())
	}
}

func TestCountsErrorsApartFromLoss(t *testing.T) {
	b := brokertest.Start(t)
	fake := newFakeService(t, b.URL())
	fake.failEvery, fake.publishFailEvery, fake.dropEvery = 7, 11, 10
	srv := httptest.NewServer(fake)
	defer srv.Close()

	o := testOptions(srv.URL+"/webhook", b.URL(), 154)
	r, err := runLoad(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// By arrival: every 7th of 154 fails (22); of the rest every 10th is dropped (13: not 70, 140);
	// of the rest every 11th is published, then answered 502 (11: not 77, 110, 154).
	if len(fake.failed) != 22 || len(fake.dropped) != 13 || len(fake.publishFailed) != 11 {
		t.Fatalf("fake failed %d, dropped %d, failed after publishing %d; want 22, 13, 11",
			len(fake.failed), len(fake.dropped), len(fake.publishFailed))
	}
	if r.Sent != 154 || r.Rejected != 33 || r.Statuses[500] != 22 || r.Statuses[502] != 11 || r.Transport != 0 {
		t.Errorf("sent %d, rejected %d (statuses %v), transport %d; want 154, 33 (22×500, 11×502), 0",
			r.Sent, r.Rejected, r.Statuses, r.Transport)
	}
	if r.Accepted != 121 {
		t.Errorf("accepted %d, want 121", r.Accepted)
	}
	if got, want := ids(t, o, r.LostIDs), sorted(fake.dropped); r.Lost != 13 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lost %d %v, want exactly the 13 dropped %v", r.Lost, got, want)
	}
	if r.Unaccepted != 11 {
		t.Errorf("events of rejected webhooks %d, want 11", r.Unaccepted)
	}
	if r.Delivered != 108 || len(fake.published) != 108 {
		t.Errorf("delivered %d, published %d, want 108", r.Delivered, len(fake.published))
	}
}

func TestCountsTransportErrors(t *testing.T) {
	b := brokertest.Start(t)
	addr, err := freeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions("http://"+addr+"/webhook", b.URL(), 20)
	r, err := runLoad(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Transport != 20 || r.Accepted != 0 || r.Lost != 0 || r.FirstError == "" {
		t.Errorf("transport %d, accepted %d, lost %d, first error %q; want 20, 0, 0 and an error",
			r.Transport, r.Accepted, r.Lost, r.FirstError)
	}
}

func TestStopsSendingAtTheTimeLimit(t *testing.T) {
	b := brokertest.Start(t)
	fake := newFakeService(t, b.URL())
	srv := httptest.NewServer(fake)
	defer srv.Close()

	o := testOptions(srv.URL+"/webhook", b.URL(), 1000)
	o.Rate, o.Duration = 100, 300*time.Millisecond // 1000 at 100/s would take 10 s
	start := time.Now()
	r, err := runLoad(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("run took %v with a 300ms limit", d)
	}
	// About 30 sent; the bounds allow for a slow machine but not for ignoring the limit.
	if r.Sent < 1 || r.Sent > 60 || r.Lost != 0 || r.Delivered != r.Accepted {
		t.Errorf("sent %d, accepted %d, delivered %d, lost %d", r.Sent, r.Accepted, r.Delivered, r.Lost)
	}
}

// A broker that served earlier runs replays their retained messages to the subscriber: they are
// counted apart, and the run starts only once the replay is over, so it cannot delay (and be
// timed as latency of) the first webhooks.
func TestRetainedReplaysAreNotCounted(t *testing.T) {
	b := brokertest.Start(t)
	old := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("old-run"))
	if tok := old.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for i := 0; i < 500; i++ {
		old.Publish(fmt.Sprintf("tedee/OLD-%d/state", i), 1, true, "locked")
	}
	if tok := old.Publish("tedee/OLD-last/state", 1, true, "locked"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	old.Disconnect(100)

	fake := newFakeService(t, b.URL())
	srv := httptest.NewServer(fake)
	defer srv.Close()
	r, err := runLoad(context.Background(), testOptions(srv.URL+"/webhook", b.URL(), 20))
	if err != nil {
		t.Fatal(err)
	}
	if r.Replays != 501 || r.Messages != 20 || r.Delivered != 20 || r.Unmatched != 0 {
		t.Errorf("replays %d, messages %d, delivered %d, unmatched %d; want 501, 20, 20, 0",
			r.Replays, r.Messages, r.Delivered, r.Unmatched)
	}
}
