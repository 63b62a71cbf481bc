package fakecloud

import "time"

// DemoLocks returns the demo's account: the bridge and the two locks of fakebridge.DemoOptions
// (same serial numbers, names and lock ids, so the cloud and the Bridge API agree), the Lock PRO
// with a door sensor and a keypad PRO.
func DemoLocks() (Bridge, []Lock) {
	bridge := Bridge{ID: 10, Serial: "10000001-000001", Name: "Bridge-DEMO", Connected: true, Firmware: "2.2.31232"}
	sensorBattery, keypadBattery := 80, 65
	locks := []Lock{
		{ID: 1, Serial: "20000001-000001", Name: "Front door", Type: 2, BridgeID: bridge.ID, Connected: true,
			State: 6, DoorState: 3, Battery: 90, Firmware: "2.0.10724", UpdateAvailable: true,
			Settings: Settings{AutoLockDelay: 30, ButtonLock: true, ButtonUnlock: true, PullSpring: true,
				PullSpringDuration: 3, PostponedLockDelay: 5},
			Accessories: []Accessory{
				{ID: 11, Serial: "30000001-000001", Name: "Front door sensor", Type: typeDoorSensor, Battery: &sensorBattery},
				{ID: 12, Serial: "40000001-000001", Name: "Front keypad", Type: typeKeypadPro, Battery: &keypadBattery},
			}},
		{ID: 2, Serial: "20000002-000002", Name: "Back door", Type: 4, BridgeID: bridge.ID, Connected: true,
			State: 2, DoorState: 0, Battery: 55, Firmware: "2.0.10724",
			Settings: Settings{AutoLockDelay: 30, ButtonLock: true, ButtonUnlock: true, PostponedLockDelay: 5}},
	}
	return bridge, locks
}

// AddDemo adds DemoLocks to the fake, with a short history: the Front door was unlocked with
// Anna's PIN and later locked with its button, and the owner unlocked the Back door from the app.
func (c *Cloud) AddDemo() {
	bridge, locks := DemoLocks()
	c.AddBridge(bridge)
	for _, l := range locks {
		c.AddLock(l)
	}
	now := c.opts.Now()
	front := locks[0].Serial
	c.AddActivity(front, 61, "Anna", now.Add(-2*time.Hour))              // UnlockByPin
	c.AddActivity(front, 34, "", now.Add(-90*time.Minute))               // LockedButton
	c.AddActivity(locks[1].Serial, 33, c.opts.User, now.Add(-time.Hour)) // UnlockedRemote
}
