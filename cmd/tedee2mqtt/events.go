package main

import (
	"context"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// webhookEvents hands the webhooks the HTTP adapter decoded to the owner of the state, holds the
// answer while the broker is far behind (pace), and tells a bridge's controller what its
// webhooks imply.
type webhookEvents struct {
	owner       *keeper.Keeper
	controllers map[string]*controller.Driver // by bridge name
	pace        func()
	now         func() time.Time
	cloud       *cloudAPI // nil without cloud.api_key
}

func (w *webhookEvents) HandleEvent(_ context.Context, bridge string, ev tedee.Event) (state.Outcome, error) {
	outcome, err := w.owner.BridgeEvent(bridge, ev, w.now())
	w.pace()
	// Even a late event means what it says: settings changed, or the cloud link did.
	if ev.Name == tedee.EventDeviceSettingsChanged {
		w.cloud.refreshDevices() // the Cloud API has the settings the bridge's event does not carry
	}
	if c, ok := w.controllers[bridge]; ok {
		switch ev.Name {
		case tedee.EventDeviceSettingsChanged:
			c.Refresh(ev.Serial) // the event carries no settings: read them
		case tedee.EventBackendConnectionChanged:
			c.CheckCallback() // the bridge may have restarted and lost its registrations
		}
	}
	return outcome, err
}

func (w *webhookEvents) HandleCloudEvent(_ context.Context, ev tedee.CloudEvent, idempotencyKey string) (state.Outcome, error) {
	outcome, err := w.owner.CloudEvent(ev, idempotencyKey, w.now())
	w.pace()
	if ev.Name == tedee.EventDeviceSettingsChanged {
		w.cloud.refreshDevices()
	}
	return outcome, err
}
