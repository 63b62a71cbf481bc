package tedeecloud

import (
	"testing"
	"time"
)

func TestReserveFor(t *testing.T) {
	for _, tc := range []struct{ perHour, want int }{
		{600, 60}, {700, 70}, {101, 11}, {100, 10}, {50, 5}, {20, 5}, {10, 5}, {6, 3}, {2, 1}, {1, 0},
	} {
		if got := reserveFor(tc.perHour); got != tc.want {
			t.Errorf("reserveFor(%d) = %d, want %d", tc.perHour, got, tc.want)
		}
	}
}

// TestRingBounded: the ring never holds more than the budget, grows only with use, and keeps the
// order across its wrap-around.
func TestRingBounded(t *testing.T) {
	b := newBudget(40)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	for range 10 {
		if err := b.admit(now, Background); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
	if n := len(b.sent.times); n != 16 {
		t.Errorf("after 10 requests the ring has room for %d, want 16 (it grows with use)", n)
	}
	// Let the window slide many times over: at one request a minute 60 fit in an hour, but the
	// budget (35 for background) refuses the rest, and the ring stays at 40 at most.
	sent := 10
	for range 1000 {
		if b.admit(now, Background) == nil {
			sent++
		}
		now = now.Add(time.Minute)
		if n := len(b.sent.times); n > 40 {
			t.Fatalf("ring of %d for a budget of 40", n)
		}
	}
	st := b.stats(now)
	if st.UsedLastHour > 35 || st.Sent != int64(sent) || st.Sent+st.Skipped != 1010 {
		t.Errorf("stats = %+v, sent %d", st, sent)
	}
	// The window is in order: the oldest is at the head.
	for i := 1; i < b.sent.n; i++ {
		prev := b.sent.times[(b.sent.head+i-1)%len(b.sent.times)]
		cur := b.sent.times[(b.sent.head+i)%len(b.sent.times)]
		if cur.Before(prev) {
			t.Fatalf("ring out of order at %d: %v after %v", i, cur, prev)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2021-04-26T06:02:04.197Z", time.Date(2021, 4, 26, 6, 2, 4, 197e6, time.UTC)},
		{"2021-04-26T08:02:04.197+02:00", time.Date(2021, 4, 26, 6, 2, 4, 197e6, time.UTC)},
		{"2022-03-23T15:35:26.0400127", time.Date(2022, 3, 23, 15, 35, 26, 40012700, time.UTC)},
		{"2022-06-28T17:18:38.962", time.Date(2022, 6, 28, 17, 18, 38, 962e6, time.UTC)},
		{"2024-12-10T08:24:15", time.Date(2024, 12, 10, 8, 24, 15, 0, time.UTC)},
	} {
		got, err := ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in UTC", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "yesterday", "2022-03-23", "2022-03-23 15:35:26"} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, got)
		}
	}
}
