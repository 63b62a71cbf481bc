package tedee

import (
	"slices"
	"testing"
)

// documentedActivity is tedee-cloud-api.md §3, transcribed row by row for this test (not copied
// from activity.go): per event word and source, the codes the table puts there. moves is the
// doc's "all codes in the first table move the bolt or latch".
var documentedActivity = []struct {
	event, source string
	moves         bool
	codes         []int
}{
	// First table: event ↓ / source →.
	{"locked", "app", true, []int{32}},
	{"locked", "button", true, []int{34, 56}},
	{"locked", "auto", true, []int{36}},
	{"locked", "manual", true, []int{38}},
	{"locked", "homekit", true, []int{59}},
	{"locked", "pin", true, []int{65}},
	{"locked", "keypad", true, []int{66}},
	{"locked", "matter", true, []int{90}},
	{"locked", "access_link", true, []int{226}},
	{"locked", "bridge_api", true, []int{227}},
	{"unlocked", "app", true, []int{33}},
	{"unlocked", "button", true, []int{35}},
	{"unlocked", "auto", true, []int{37}},
	{"unlocked", "manual", true, []int{39}},
	{"unlocked", "homekit", true, []int{57}},
	{"unlocked", "pin", true, []int{61}},
	{"unlocked", "fingerprint", true, []int{77}},
	{"unlocked", "matter", true, []int{88}},
	{"unlocked", "access_link", true, []int{228}},
	{"unlocked", "bridge_api", true, []int{229}},
	// "unlocked (forced)": the same word, the source says how.
	{"unlocked", "app", true, []int{67}},
	{"unlocked", "pin", true, []int{68}},
	{"unlocked", "fingerprint", true, []int{78}},
	{"unlocked", "matter", true, []int{93}},
	{"pulled", "app", true, []int{51, 55}},
	{"pulled", "auto", true, []int{52, 87}},
	{"pulled", "manual", true, []int{53}},
	{"pulled", "homekit", true, []int{60}},
	{"pulled", "pin", true, []int{63, 76}},
	{"pulled", "fingerprint", true, []int{80, 81}},
	{"pulled", "matter", true, []int{91, 92}},
	{"pulled", "access_link", true, []int{230, 234}},
	{"pulled", "bridge_api", true, []int{231, 235}},
	{"partially_opened", "app", true, []int{54}},
	{"partially_opened", "button", true, []int{48}},
	{"partially_opened", "auto", true, []int{49}},
	{"partially_opened", "manual", true, []int{47}},
	{"partially_opened", "homekit", true, []int{58}},
	{"partially_opened", "pin", true, []int{64}},
	{"partially_opened", "fingerprint", true, []int{79}},
	{"partially_opened", "matter", true, []int{89}},
	{"partially_opened", "access_link", true, []int{232}},
	{"partially_opened", "bridge_api", true, []int{233}},
	// Second table: nothing moves.
	{"jammed", "", false, []int{40}},
	{"wrong_pin", "pin", false, []int{62}},
	{"unauthorized_pin", "pin", false, []int{75}},
	{"door_opened", "door_sensor", false, []int{83}},
	{"door_closed", "door_sensor", false, []int{84}},
	{"door_sensor_uncalibrated", "door_sensor", false, []int{85}},
	{"door_open_too_long", "door_sensor", false, []int{86}},
	{"power_off", "", false, []int{41}},
	{"power_on", "", false, []int{42}},
	{"calibrated", "", false, []int{43}},
	{"uncalibrated", "", false, []int{74}},
	{"charging_started", "", false, []int{46}},
	{"charging_stopped", "", false, []int{50}},
	{"firmware_updated", "bridge", false, []int{224}},
	{"firmware_updated", "app", false, []int{225}},
}

// TestDescribeActivityDocumented checks every documented code, one by one, against the doc.
func TestDescribeActivityDocumented(t *testing.T) {
	seen := map[int]bool{}
	for _, row := range documentedActivity {
		for _, code := range row.codes {
			if seen[code] {
				t.Fatalf("code %d transcribed twice", code)
			}
			seen[code] = true
			want := Activity{Event: row.event, Source: row.source, Moves: row.moves}
			got, ok := DescribeActivity(code)
			if !ok || got != want {
				t.Errorf("DescribeActivity(%d) = %+v, %v; want %+v, true", code, got, ok, want)
			}
		}
	}
	if len(seen) != len(activities) {
		t.Errorf("the doc lists %d codes, the table %d", len(seen), len(activities))
	}
}

// TestDescribeActivityOthers: a gate's codes are not a lock's; every code the doc does not list
// (its "other" row: 44, 45, 69–73, 82, 94–223, …, and anything outside) is unknown.
func TestDescribeActivityOthers(t *testing.T) {
	for _, code := range []int{10000, 10001} {
		if a, ok := DescribeActivity(code); ok {
			t.Errorf("DescribeActivity(%d) = %+v, true; want a gate's code refused", code, a)
		}
	}
	documented := map[int]bool{10000: true, 10001: true}
	for _, row := range documentedActivity {
		for _, code := range row.codes {
			documented[code] = true
		}
	}
	codes := []int{-1, -32, 1 << 30} // and every code from 0 to 10099, below
	for code := range 10100 {
		codes = append(codes, code)
	}
	for _, code := range codes {
		if documented[code] {
			continue
		}
		if a, ok := DescribeActivity(code); !ok || a != (Activity{Event: "unknown"}) {
			t.Errorf("DescribeActivity(%d) = %+v, %v; want unknown with no source, not moving", code, a, ok)
		}
	}
}

// TestActivityEvents: ActivityEvents holds every word DescribeActivity returns, and nothing else,
// once each (Home Assistant refuses an event type it was not told of).
func TestActivityEvents(t *testing.T) {
	returned := map[string]bool{}
	for code := -10; code < 10100; code++ {
		if a, ok := DescribeActivity(code); ok {
			returned[a.Event] = true
			if !slices.Contains(ActivityEvents, a.Event) {
				t.Errorf("code %d: event %q is not in ActivityEvents", code, a.Event)
			}
		}
	}
	for i, e := range ActivityEvents {
		if !returned[e] {
			t.Errorf("ActivityEvents lists %q, which no code returns", e)
		}
		if slices.Index(ActivityEvents, e) != i {
			t.Errorf("ActivityEvents lists %q twice", e)
		}
	}
}
