package account

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// Settings writes arrive on <base>/<serial>/settings/set as JSON with any of the settings keys
// (and an optional transaction), go to the Cloud API (PATCH with the revision just read; on a
// conflict read again and retry once), and are answered on <base>/<serial>/settings/set/result
// with the settings as the cloud reports them afterwards.

// maxSettingsBytes bounds a settings write.
const maxSettingsBytes = 1024

// SettingsResult is the payload of <base>/<serial>/settings/set/result.
type SettingsResult struct {
	OK          bool            `json:"ok"`
	Error       string          `json:"error,omitempty"`
	Transaction string          `json:"transaction,omitempty"`
	Settings    *state.Settings `json:"settings,omitempty"` // as the Tedee Cloud reports them after the write
}

// settingsWrite is a parsed write.
type settingsWrite struct {
	state.Settings
	Transaction string `json:"transaction,omitempty"`
}

// Settings handles writes of <base>/+/settings/set for one account.
type Settings struct {
	a       *Account
	base    string
	publish func(...state.Message)
	ctx     context.Context
	running sync.Map // serial → struct{}: one write per lock at a time
}

// NewSettings returns the handler of settings writes; publish must not block.
func (a *Account) NewSettings(ctx context.Context, base string, publish func(...state.Message)) *Settings {
	return &Settings{a: a, base: base, publish: publish, ctx: ctx}
}

// Filter is the topic filter to subscribe the handler to.
func (h *Settings) Filter() string { return h.base + "/+/settings/set" }

// Handle takes one message; the write runs in the background.
func (h *Settings) Handle(topic string, payload []byte, retained bool) {
	serial, ok := strings.CutPrefix(topic, h.base+"/")
	serial, ok2 := strings.CutSuffix(serial, "/settings/set")
	if !ok || !ok2 || !tedee.ValidSerial(serial) || len(payload) == 0 {
		return
	}
	h.publish(state.Message{Topic: topic, Retain: true}) // never left for a replay
	if retained {
		h.answer(serial, SettingsResult{Error: "retained settings write ignored: publish it without the retain flag"})
		return
	}
	w, err := parseSettings(payload)
	if err != nil {
		h.answer(serial, SettingsResult{Transaction: w.Transaction, Error: err.Error()})
		return
	}
	if _, busy := h.running.LoadOrStore(serial, struct{}{}); busy {
		h.answer(serial, SettingsResult{Transaction: w.Transaction, Error: "busy: a settings write for this lock is running; send it again once it is answered"})
		return
	}
	go func() {
		defer h.running.Delete(serial)
		st, err := h.a.WriteSettings(h.ctx, serial, w.Settings)
		res := SettingsResult{OK: err == nil, Transaction: w.Transaction, Settings: st}
		if err != nil {
			res.Error = err.Error()
			h.a.log.Warn("settings write failed", zap.String("serial", serial), zap.Error(err))
		} else {
			h.a.log.Info("settings written", zap.String("serial", serial))
		}
		h.answer(serial, res)
	}()
}

func (h *Settings) answer(serial string, res SettingsResult) {
	payload, _ := json.Marshal(res)
	h.publish(state.Message{Topic: h.base + "/" + serial + "/settings/set/result", Payload: payload})
}

// parseSettings reads a write: known keys only, of the right types, at least one, within range.
func parseSettings(payload []byte) (settingsWrite, error) {
	var w settingsWrite
	if len(payload) > maxSettingsBytes {
		return w, fmt.Errorf("more than %d bytes", maxSettingsBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return settingsWrite{}, fmt.Errorf("not a settings object (%v): send JSON with any of auto_lock, auto_lock_delay, button_lock, button_unlock, pull_spring, pull_spring_duration, auto_pull, postponed_lock, postponed_lock_delay", err)
	}
	if len(w.Transaction) > 64 {
		w.Transaction = ""
		return w, errors.New("transaction longer than 64 characters")
	}
	if len(w.Keys()) == 0 {
		return w, errors.New("no setting to write")
	}
	for _, r := range []struct {
		key      string
		v        *int
		min, max int
	}{{"auto_lock_delay", w.AutoLockDelay, 1, 86400}, {"pull_spring_duration", w.PullSpringDuration, 1, 60},
		{"postponed_lock_delay", w.PostponedLockDelay, 1, 3600}} {
		if r.v != nil && (*r.v < r.min || *r.v > r.max) {
			return w, fmt.Errorf("%s: must be %d–%d seconds (got %d)", r.key, r.min, r.max, *r.v)
		}
	}
	return w, nil
}

// WriteSettings writes settings through the Cloud API and returns them as the cloud reports them
// afterwards (also applied to the state).
func (a *Account) WriteSettings(ctx context.Context, serial string, s state.Settings) (*state.Settings, error) {
	id, ok := a.idOf(serial)
	if !ok {
		return nil, errors.New("the lock is not in the Tedee Cloud account's device list")
	}
	ctx = tedeecloud.WithPriority(ctx, tedeecloud.Interactive)
	ds := tedeecloud.DeviceSettings{AutoLockEnabled: s.AutoLock, AutoLockDelay: s.AutoLockDelay,
		ButtonLockEnabled: s.ButtonLock, ButtonUnlockEnabled: s.ButtonUnlock, PullSpringEnabled: s.PullSpring,
		PullSpringDuration: s.PullSpringDuration, AutoPullSpringEnabled: s.AutoPull,
		PostponedLockEnabled: s.PostponedLock, PostponedLockDelay: s.PostponedLockDelay}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var l tedeecloud.Lock
		if l, err = a.api.Lock(ctx, id); err != nil {
			return nil, fmt.Errorf("read the lock's settings revision: %w", err)
		}
		if _, err = a.api.UpdateSettings(ctx, id, l.Revision, ds); !errors.Is(err, tedeecloud.ErrConflict) {
			break // done, or failed for another reason than someone else's write
		}
	}
	if err != nil {
		return nil, fmt.Errorf("write the settings: %w", err)
	}
	l, err := a.api.Lock(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("the settings were written, but reading them back failed: %w", err)
	}
	d := device(l, nil, nil, false)
	if err := a.owner.CloudDevice(d, a.opts.Now()); err != nil {
		return nil, fmt.Errorf("apply the settings read back: %w", err)
	}
	a.mu.Lock()
	a.revision[id] = l.Revision
	a.mu.Unlock()
	return d.Settings, nil
}
