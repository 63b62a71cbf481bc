package fakecloud

// PATCH /my/lock {id, revision, deviceSettings?, name?}: a partial update ("if a given parameter
// is not specified, its value will not change") guarded by the configuration's revision: a
// stale one is 409. The answer is {id, revision, targetDeviceRevision}. Device settings raise
// targetDeviceRevision; the lock applies them OperationTime later, if the cloud can reach it
// (else once it can), and deviceRevision follows. userSettings and timeZone are accepted and
// ignored, as are the deviceSettings fields outside Settings. Ranges are not documented; the
// fake takes 0–3600 s for the delays and durations and a name of 1–100 characters.

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

const (
	maxSeconds = 3600
	maxName    = 100
)

type patchBody struct {
	ID             *int64         `json:"id"`
	Revision       *int64         `json:"revision"`
	Name           *string        `json:"name"`
	DeviceSettings *patchSettings `json:"deviceSettings"`
}

type patchSettings struct {
	AutoLockEnabled       *bool `json:"autoLockEnabled"`
	AutoLockDelay         *int  `json:"autoLockDelay"`
	ButtonLockEnabled     *bool `json:"buttonLockEnabled"`
	ButtonUnlockEnabled   *bool `json:"buttonUnlockEnabled"`
	PullSpringEnabled     *bool `json:"pullSpringEnabled"`
	PullSpringDuration    *int  `json:"pullSpringDuration"`
	AutoPullSpringEnabled *bool `json:"autoPullSpringEnabled"`
	PostponedLockEnabled  *bool `json:"postponedLockEnabled"`
	PostponedLockDelay    *int  `json:"postponedLockDelay"`
}

// patchLock is PATCH /my/lock.
func (c *Cloud) patchLock(a call) response {
	if errors.Is(a.bodyErr, errTooLarge) {
		return fail(http.StatusRequestEntityTooLarge, "Request body too large")
	}
	if a.bodyErr != nil {
		return fail(http.StatusBadRequest, "Could not read the request body")
	}
	// The documentation's curl sends application/json-patch+json with a plain JSON object.
	if mt, _, err := mime.ParseMediaType(a.ctype); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return fail(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	var body patchBody
	if err := json.Unmarshal(a.body, &body); err != nil {
		return fail(http.StatusBadRequest, "The request body is not a valid lock update: %v", err)
	}
	if body.ID == nil || body.Revision == nil {
		return fail(http.StatusBadRequest, "id and revision are required")
	}
	// Values are validated before the device is looked at, as a model binder does.
	var name string
	if body.Name != nil {
		name = strings.TrimSpace(*body.Name)
		if name == "" || utf8.RuneCountInString(name) > maxName {
			return fail(http.StatusBadRequest, "name must have 1 to %d characters", maxName)
		}
	}
	if body.DeviceSettings != nil {
		if err := body.DeviceSettings.check(); err != nil {
			return badRequest(err)
		}
	}
	e := c.lockByID(*body.ID)
	if e == nil {
		return notFound()
	}
	if *body.Revision != e.Revision {
		return fail(http.StatusConflict, "Revision %d is not the current revision of the device", *body.Revision)
	}
	next := e.Lock
	if body.Name != nil {
		next.Name = name
	}
	if body.DeviceSettings != nil {
		body.DeviceSettings.apply(&next.Settings)
		next.TargetDeviceRevision++
		e.applyAt = a.now.Add(c.opts.OperationTime)
	}
	next.Revision++
	e.Lock = next
	c.scheduleLocked(e.applyAt)
	return ok(http.StatusOK, map[string]int64{"id": e.ID, "revision": e.Revision, "targetDeviceRevision": e.TargetDeviceRevision})
}

// check validates the numbers given.
func (p *patchSettings) check() error {
	for _, f := range []struct {
		name string
		v    *int
	}{{"autoLockDelay", p.AutoLockDelay}, {"pullSpringDuration", p.PullSpringDuration}, {"postponedLockDelay", p.PostponedLockDelay}} {
		if f.v != nil && (*f.v < 0 || *f.v > maxSeconds) {
			return fmt.Errorf("%s must be from 0 to %d", f.name, maxSeconds)
		}
	}
	return nil
}

// apply copies the fields given into s.
func (p *patchSettings) apply(s *Settings) {
	setBool(&s.AutoLock, p.AutoLockEnabled)
	setInt(&s.AutoLockDelay, p.AutoLockDelay)
	setBool(&s.ButtonLock, p.ButtonLockEnabled)
	setBool(&s.ButtonUnlock, p.ButtonUnlockEnabled)
	setBool(&s.PullSpring, p.PullSpringEnabled)
	setInt(&s.PullSpringDuration, p.PullSpringDuration)
	setBool(&s.AutoPull, p.AutoPullSpringEnabled)
	setBool(&s.PostponedLock, p.PostponedLockEnabled)
	setInt(&s.PostponedLockDelay, p.PostponedLockDelay)
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}
