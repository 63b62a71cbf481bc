package main

// The demo's account: the fake Tedee Bridge and a fake Tedee Cloud API telling the same story
// (each is told what the other did), and the people who use the Front door, so that "who opened
// the door" (contract §8) shows without hardware and without a Tedee account.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakecloud"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

const (
	// demoCloudKey is the fake cloud's personal access key, shaped like a real one (the
	// configuration checks the shape); it guards nothing and is never logged.
	demoCloudKey = "demo00.ZGVtby1rZXktbm90LWEtc2VjcmV0"
	// demoOwner is the key's owner: the cloud writes that name for what its API and the Bridge
	// API did.
	demoOwner = "Owner"
	// demoVisitor is who comes with her PIN.
	demoVisitor = "Anna"
	// demoFirstVisit is how long after the service registered its callback on the bridge Anna
	// first comes: soon, so that a newcomer (and TestEmbeddedDemo) sees her without waiting.
	demoFirstVisit = 5 * time.Second
	// demoStep is the time between the steps of the story; a round is four steps. The service
	// reads the activity log after each status webhook, a door's too, until a new entry shows:
	// about six reads a round, 360 an hour, within cloud.requests_per_hour's default with room
	// for commands. (A door change that logged nothing would cost four reads: see story.)
	demoStep = 15 * time.Second
	// demoBoltTime is how long a hand or a PIN takes to move the bolt, as the fake bridge's
	// operations do.
	demoBoltTime = 1500 * time.Millisecond
)

// Tedee's activity event types (tedee-api.md §2.3) the demo writes into the cloud's log.
const (
	activityLockedButton          = 34
	activityUnlockByPin           = 61
	activityDoorOpened            = 83
	activityDoorClosed            = 84
	activityLockedByBridgeAPI     = 227
	activityUnlockedByBridgeAPI   = 229
	activityPulledByBridgeAPI     = 231
	activityPulledAutoByBridgeAPI = 235
)

// Lock states (Bridge API and Cloud API alike) the story uses.
const (
	lockSemiLocked = 3
	lockUnlocking  = 4
	lockLocking    = 5
	lockLocked     = 6
	lockUnlocked   = 2
	doorOpened     = 2
	doorClosed     = 3
)

// demoAccount is the fake bridge and the fake cloud of one Tedee account.
type demoAccount struct {
	bridge *fakebridge.Bridge
	cloud  *fakecloud.Cloud
}

// newDemoAccount returns the bridge and the cloud of fakebridge.DemoOptions and
// fakecloud.AddDemo (the same locks, with the same ids), each following the other.
func newDemoAccount() *demoAccount {
	a := &demoAccount{}
	// Neither calls its hook before it is served or moved, so both are set before any call.
	a.cloud = fakecloud.New(fakecloud.Options{Key: demoCloudKey, User: demoOwner, OnMove: a.cloudMoved})
	a.cloud.AddDemo()
	opts := fakebridge.DemoOptions(demoToken, tedeeapi.ModePlain, 1)
	opts.OnChange = a.bridgeChanged
	a.bridge = fakebridge.New(opts)
	return a
}

// bridgeChanged tells the cloud a lock's new status, as the bridge uploads it, and logs the
// Bridge API's operations under the key owner's name when they arrive (when the bolt or latch is
// there, as a lock logs them). A change the cloud made itself (cloudMoved) comes back here with
// the status the cloud already has, which changes nothing there: no loop.
func (a *demoAccount) bridgeChanged(c fakebridge.Change) {
	l := c.Lock
	a.cloud.Update(l.Serial, func(cl *fakecloud.Lock) {
		cl.State, cl.DoorState, cl.Jammed = l.State, l.DoorState, l.Jammed
	})
	if code := bridgeAPIActivity(c.Op, l.State); code != 0 {
		a.cloud.AddActivity(l.Serial, code, demoOwner, time.Now())
	}
}

// bridgeAPIActivity is the activity event a Bridge API operation logs when its step reaches
// state, or 0 if it logs none there.
func bridgeAPIActivity(op string, state int) int {
	switch {
	case op == "lock" && state == lockLocked:
		return activityLockedByBridgeAPI
	case op == "unlock" && state == lockUnlocked:
		return activityUnlockedByBridgeAPI
	case op == "pull" && state == 7: // pulled
		return activityPulledByBridgeAPI
	case op == "auto-pull" && state == 7:
		return activityPulledAutoByBridgeAPI
	}
	return 0
}

// cloudMoved moves the bridge's lock where a Cloud API operation moved it (the cloud logged the
// entry itself); the bridge sends its webhooks as for any movement. The ids are the same.
func (a *demoAccount) cloudMoved(l fakecloud.Lock) {
	a.bridge.Update(l.ID, func(b *fakebridge.Lock) { b.State, b.Jammed = l.State, l.Jammed })
}

// serveCloud serves the fake cloud on a loopback port and returns its URL and how to stop it.
func (a *demoAccount) serveCloud() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: a.cloud, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { shutdown(srv); a.cloud.Close() }, nil
}

// shutdown stops an HTTP server, waiting a little for its requests.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
	}
}

// tell runs the story until stop is closed, and returns a function that stops it and waits.
func (a *demoAccount) tell() func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { a.story(stop) })
	return func() { close(stop); wg.Wait() }
}

// story is the Front door's day, round after round, one step every demoStep: Anna unlocks it
// with her PIN, opens the door, closes it, and the lock is locked with its button. It starts
// demoFirstVisit after the service registered its callback (or 30 s, if it never does). A step
// that does not fit what the lock is doing (someone locked it from MQTT meanwhile) is skipped.
// The lock logs its door sensor's events (the app's doorStateEventLoggingEnabled), so the
// activity read that follows a door's webhook finds them at once.
func (a *demoAccount) story(stop <-chan struct{}) {
	const front = 1
	for waited := time.Duration(0); len(a.bridge.Callbacks()) == 0 && waited < 30*time.Second; waited += 200 * time.Millisecond {
		if !pause(stop, 200*time.Millisecond) {
			return
		}
	}
	steps := []func(){
		func() {
			a.turn(stop, front, func(l fakebridge.Lock) bool { return l.State == lockLocked || l.State == lockSemiLocked },
				lockUnlocking, lockUnlocked, activityUnlockByPin, demoVisitor)
		},
		func() {
			a.door(front, func(l fakebridge.Lock) bool { return l.State == lockUnlocked && l.DoorState == doorClosed },
				doorOpened, activityDoorOpened)
		},
		func() {
			a.door(front, func(l fakebridge.Lock) bool { return l.DoorState == doorOpened }, doorClosed, activityDoorClosed)
		},
		func() {
			a.turn(stop, front, func(l fakebridge.Lock) bool { return l.State == lockUnlocked && l.DoorState != doorOpened },
				lockLocking, lockLocked, activityLockedButton, "")
		},
	}
	wait := demoFirstVisit
	for i := 0; ; i++ {
		if !pause(stop, wait) {
			return
		}
		steps[i%len(steps)]()
		wait = demoStep
	}
}

// turn moves a lock by hand, a PIN or its button, if it may: through via to to, as the bridge
// reports it, then logs code for user ("" for none) when the bolt is there.
func (a *demoAccount) turn(stop <-chan struct{}, id int64, may func(fakebridge.Lock) bool, via, to, code int, user string) {
	started := false
	a.bridge.Update(id, func(l *fakebridge.Lock) {
		if started = l.Connected && may(*l); started {
			l.State = via
		}
	})
	if !started || !pause(stop, demoBoltTime) {
		return
	}
	arrived := false
	a.bridge.Update(id, func(l *fakebridge.Lock) {
		if arrived = l.State == via; arrived { // not moved by a command meanwhile
			l.State = to
		}
	})
	if arrived {
		a.cloud.AddActivity(a.bridge.Lock(id).Serial, code, user, time.Now())
	}
}

// door opens or closes a lock's door, if it may, and logs code.
func (a *demoAccount) door(id int64, may func(fakebridge.Lock) bool, to, code int) {
	moved := false
	a.bridge.Update(id, func(l *fakebridge.Lock) {
		if moved = may(*l); moved {
			l.DoorState = to
		}
	})
	if moved {
		a.cloud.AddActivity(a.bridge.Lock(id).Serial, code, "", time.Now())
	}
}

// pause waits d, and reports false if stop was closed first.
func pause(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}
