package tedeeapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// TestPartialAnswers: fields a bridge leaves out stay nil, flags are read as 0/1 or true/false,
// and one lock that cannot be read does not stop the others.
func TestPartialAnswers(t *testing.T) {
	fb, url := start(t, fakebridge.Options{Locks: []fakebridge.Lock{
		{ID: 1, Serial: "L-1", Type: 2, State: 6, Battery: 80, Connected: true},
		{ID: 2, Serial: "L-2", Type: 4, State: 2, Battery: 50, Connected: true},
		{ID: 3, Serial: "L-3", Type: 4, State: 2, Battery: 40},
	}})
	c := client(url, tedeeapi.ModeEncrypted, time.Millisecond)
	ctx := context.Background()
	fb.SetPartial(fakebridge.Partial{OmitLockFields: []string{"batteryLevel", "isCharging"}, OmitBridgeFields: []string{"isConnected"},
		BooleanFlags: true, MalformedLock: 2})
	locks, bad, err := c.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) != 2 || len(bad) != 1 || bad[0].Index != 1 {
		t.Fatalf("locks %+v, bad %v: want L-1 and L-3, element 1 unreadable", locks, bad)
	}
	l := locks[0]
	if l.BatteryLevel != nil || l.IsCharging != nil {
		t.Errorf("fields left out were invented: battery %v, charging %v", l.BatteryLevel, l.IsCharging)
	}
	if l.IsConnected == nil || !bool(*l.IsConnected) || l.State == nil || *l.State != 6 {
		t.Errorf("L-1 read as %+v", l)
	}
	if c := locks[1].IsConnected; c == nil || bool(*c) {
		t.Errorf("L-3 connected %v, want false from a JSON false", c)
	}
	b, err := c.Bridge(ctx)
	if err != nil || b.IsConnected != nil {
		t.Errorf("bridge without isConnected: %+v, %v", b, err)
	}
}

func TestFlagSpellings(t *testing.T) {
	for in, want := range map[string]bool{"0": false, "1": true, "true": true, "false": false} {
		var f tedeeapi.Flag
		if err := f.UnmarshalJSON([]byte(in)); err != nil || bool(f) != want {
			t.Errorf("%s: %v, %v", in, f, err)
		}
	}
	for _, in := range []string{"2", `"1"`, "null", "yes"} {
		var f tedeeapi.Flag
		if err := f.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("%s accepted as a flag", in)
		}
	}
}
