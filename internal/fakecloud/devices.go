package fakecloud

// The read endpoints: devices, locks and their sync, bridges, door sensors and keypads.

import (
	"math"
	"net/http"
	"strconv"
)

func notFound() response { return fail(http.StatusNotFound, "Device not found") }

// pathID is the call's first path value (already known to be a number).
func (a call) pathID() int64 {
	id, _ := strconv.ParseInt(a.args[0], 10, 64)
	return id
}

// pageOf returns one page of items (pages count from 1).
func pageOf[T any](items []T, page, per int) []T {
	start := (page - 1) * per
	if page < 1 || per < 1 || start >= len(items) || start < 0 {
		return []T{}
	}
	return items[start:min(len(items), start+per)]
}

// paging reads Page and ItemsPerPage; without them everything is one page, as the door-sensor
// example shows (itemsPerPage 2147483647).
func (q query) paging() (page, per int, err error) {
	if page, err = q.number("Page", 1, 1, math.MaxInt32); err != nil {
		return 0, 0, err
	}
	per, err = q.number("ItemsPerPage", math.MaxInt32, 1, math.MaxInt32)
	return page, per, err
}

// getDevices is GET /my/device: every device, without details (the key check).
func (c *Cloud) getDevices(a call) response {
	out := []deviceJSON{}
	for _, b := range c.bridges {
		out = append(out, deviceJSON{ID: b.ID, SerialNumber: b.Serial, Name: b.Name, Type: 1,
			Created: utc(bridgeCreated(), layoutCreated), Revision: 1, AccessLevel: accessLevelOwner})
	}
	for _, e := range c.locks {
		out = append(out, deviceJSON{ID: e.ID, SerialNumber: e.Serial, Name: e.Name, Type: e.Type,
			Created: utc(e.created, layoutCreated), Revision: e.Revision, AccessLevel: accessLevelOwner})
		for _, acc := range e.Accessories {
			out = append(out, deviceJSON{ID: acc.ID, SerialNumber: acc.Serial, Name: acc.Name, Type: acc.Type,
				Created: utc(e.created, layoutCreated), Revision: 1, AccessLevel: accessLevelOwner})
		}
	}
	return ok(http.StatusOK, out)
}

// getDetails is GET /my/device/details: bridges, locks and keypads with their details.
// Accessories and user settings only when asked for; no door sensors (the v37 example has
// none: they are GET /my/doorsensor's).
func (c *Cloud) getDetails(a call) response {
	inc, err := a.q.includes()
	if err != nil {
		return badRequest(err)
	}
	bridges := []bridgeJSON{}
	for _, b := range c.bridges {
		bridges = append(bridges, c.bridgeModel(b))
	}
	locks := []lockJSON{}
	for _, e := range c.locks {
		locks = append(locks, c.lockModel(e, inc))
	}
	return ok(http.StatusOK, map[string]any{"bridges": bridges, "locks": locks,
		"keypads": c.accessories(a, inc.userSettings, typeKeypad, typeKeypadPro), "gates": []any{}, "dryContacts": []any{}})
}

// accessories lists the accessories of the given types, in lock order.
func (c *Cloud) accessories(a call, userSettings bool, types ...int) []accessoryDeviceJSON {
	out := []accessoryDeviceJSON{}
	for _, e := range c.locks {
		for _, acc := range e.Accessories {
			for _, t := range types {
				if acc.Type == t {
					out = append(out, c.accessoryModel(e, acc, a.now, userSettings))
				}
			}
		}
	}
	return out
}

// getLocks is GET /my/lock (paged; 10 per 10 minutes with a personal key, checked before).
// The Filters.* parameters are not implemented: they are ignored.
func (c *Cloud) getLocks(a call) response {
	inc, err := a.q.includes()
	if err != nil {
		return badRequest(err)
	}
	page, per, err := a.q.paging()
	if err != nil {
		return badRequest(err)
	}
	out := []lockJSON{}
	for _, e := range pageOf(c.locks, page, per) {
		out = append(out, c.lockModel(e, inc))
	}
	return ok(http.StatusOK, out)
}

// getLock is GET /my/lock/{id}.
func (c *Cloud) getLock(a call) response {
	inc, err := a.q.includes()
	if err != nil {
		return badRequest(err)
	}
	e := c.lockByID(a.pathID())
	if e == nil {
		return notFound()
	}
	return ok(http.StatusOK, c.lockModel(e, inc))
}

// getSync is GET /my/lock/sync[?id=1&id=2]: the state of the locks asked for (unknown ids are
// left out), or of all.
func (c *Cloud) getSync(a call) response {
	ids := map[int64]bool{}
	for _, s := range a.q["id"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fail(http.StatusBadRequest, "The value %q is not valid for id", s)
		}
		ids[id] = true
	}
	out := []syncJSON{}
	for _, e := range c.locks {
		if len(ids) == 0 || ids[e.ID] {
			out = append(out, c.syncModel(e))
		}
	}
	return ok(http.StatusOK, out)
}

// getSyncOne is GET /my/lock/{id}/sync.
func (c *Cloud) getSyncOne(a call) response {
	e := c.lockByID(a.pathID())
	if e == nil {
		return notFound()
	}
	return ok(http.StatusOK, c.syncModel(e))
}

// getDoorSensors is GET /my/doorsensor: {page, itemsPerPage, doorSensors}.
func (c *Cloud) getDoorSensors(a call) response {
	us, err := a.q.flag("includeUserSettings")
	if err != nil {
		return badRequest(err)
	}
	page, per, err := a.q.paging()
	if err != nil {
		return badRequest(err)
	}
	all := c.accessories(a, us, typeDoorSensor)
	return ok(http.StatusOK, map[string]any{"page": page, "itemsPerPage": per, "doorSensors": pageOf(all, page, per)})
}

// getDoorSensor is GET /my/doorsensor/{id}.
func (c *Cloud) getDoorSensor(a call) response { return c.accessory(a, typeDoorSensor) }

// getKeypads is GET /my/keypad (Swagger only: a list, as GET /my/bridge).
func (c *Cloud) getKeypads(a call) response {
	us, err := a.q.flag("includeUserSettings")
	if err != nil {
		return badRequest(err)
	}
	return ok(http.StatusOK, c.accessories(a, us, typeKeypad, typeKeypadPro))
}

// getKeypad is GET /my/keypad/{id}.
func (c *Cloud) getKeypad(a call) response { return c.accessory(a, typeKeypad, typeKeypadPro) }

func (c *Cloud) accessory(a call, types ...int) response {
	us, err := a.q.flag("includeUserSettings")
	if err != nil {
		return badRequest(err)
	}
	id := a.pathID()
	for _, e := range c.locks {
		for _, acc := range e.Accessories {
			for _, t := range types {
				if acc.ID == id && acc.Type == t {
					return ok(http.StatusOK, c.accessoryModel(e, acc, a.now, us))
				}
			}
		}
	}
	return notFound()
}

// getBridges is GET /my/bridge (Swagger only: a list, as aiotedee reads it).
func (c *Cloud) getBridges(call) response {
	out := []bridgeJSON{}
	for _, b := range c.bridges {
		out = append(out, c.bridgeModel(b))
	}
	return ok(http.StatusOK, out)
}

// getBridge is GET /my/bridge/{id}.
func (c *Cloud) getBridge(a call) response {
	b := c.bridgeByID(a.pathID())
	if b == nil {
		return notFound()
	}
	return ok(http.StatusOK, c.bridgeModel(b))
}
