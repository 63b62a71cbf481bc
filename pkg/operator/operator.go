// Package operator is the operator API over MQTT (contract §7, the zigbee2mqtt convention): the
// retained <base>/bridge/info (version, start time, configuration summary, every Tedee Bridge's
// health) and <base>/bridge/devices (every lock and bridge), requests on
// <base>/bridge/request/<op> answered on <base>/bridge/response/<op> with their transaction, and
// <base>/<serial>/get to read one lock again. It follows the state through its owner's changes,
// never by reading MQTT back.
package operator

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// Owner is what the operator API needs of the owner of the state.
type Owner interface {
	Changed() <-chan struct{}
	Locks() []state.LockJSON
	Bridges() []state.BridgeJSON
	Remove(serial string)
	Catalog() uint64 // changes whenever the devices list would
}

// Bridge is what it needs of a Tedee Bridge's controller.
type Bridge interface {
	Bridge() string
	Health() controller.Health
	Sync(ctx context.Context) error
	EnsureCallback(ctx context.Context) error
	Owns(serial string) bool
	Refresh(serial string)
}

// Options configure the operator API.
type Options struct {
	Base      string // the base topic, e.g. "tedee"
	Version   string
	Commit    string
	Started   time.Time
	Config    any // a summary of the configuration, without secrets
	Bridges   []Bridge
	Owner     Owner
	Publish   func(...state.Message)
	Connected func() bool // the broker connection
	// HealthEvery is how often the info topic is refreshed for health that changes without a
	// change of state (a sync, a failed callback check). Default 30 s.
	HealthEvery time.Duration
	// Cloud, when set, returns the Tedee Cloud API's health for the info topic.
	Cloud func() any
}

// Operator serves the operator API. Run publishes; Handle answers requests.
type Operator struct {
	opts Options
	log  *zap.Logger
	ctx  context.Context // the service's lifetime: requests stop with it
	// last holds the payloads last published on info and devices, so that unchanged ones are
	// not published again.
	last map[string]string
	// catalog is the owner's Catalog when the devices list was last built (Run's goroutine only).
	catalog    uint64
	catalogued bool
}

// New returns the operator API; requests it runs stop when ctx ends.
func New(ctx context.Context, opts Options, log *zap.Logger) *Operator {
	if opts.HealthEvery <= 0 {
		opts.HealthEvery = 30 * time.Second
	}
	return &Operator{opts: opts, log: log, ctx: ctx, last: map[string]string{}}
}

// Info is the payload of <base>/bridge/info.
type Info struct {
	Version   string              `json:"version"`
	Commit    string              `json:"commit"`
	StartedAt time.Time           `json:"started_at"`
	Broker    bool                `json:"broker_connected"`
	Config    any                 `json:"config"`
	Bridges   []controller.Health `json:"bridges"`
	Cloud     any                 `json:"cloud_api,omitempty"` // the Tedee Cloud API's health, with cloud.api_key
}

// Device is one element of <base>/bridge/devices.
type Device struct {
	Type        string   `json:"type"` // lock or bridge
	Serial      *string  `json:"serial"`
	ID          int64    `json:"id,omitempty"`
	Name        *string  `json:"name"`
	Model       *string  `json:"model,omitempty"`
	Firmware    *string  `json:"firmware"`
	Bridge      *string  `json:"bridge,omitempty"` // the tedee2mqtt name of a lock's bridge
	Accessories []string `json:"accessories"`      // keypads, door sensors paired with it
}

// Run publishes info and devices at start, at every change of state, and every HealthEvery,
// until ctx is done.
func (o *Operator) Run(ctx context.Context) error {
	tick := time.NewTicker(o.opts.HealthEvery)
	defer tick.Stop()
	for {
		changed := o.opts.Owner.Changed()
		o.publishInfo()
		o.publishDevices()
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			// Changes come in bursts (a sync, a flood of webhooks): one publication for a burst.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
		case <-tick.C:
		}
	}
}

func (o *Operator) info() Info {
	info := Info{Version: o.opts.Version, Commit: o.opts.Commit, StartedAt: o.opts.Started.UTC(),
		Config: o.opts.Config, Bridges: []controller.Health{}}
	if o.opts.Connected != nil {
		info.Broker = o.opts.Connected()
	}
	for _, b := range o.opts.Bridges {
		info.Bridges = append(info.Bridges, b.Health())
	}
	if o.opts.Cloud != nil {
		info.Cloud = o.opts.Cloud()
	}
	return info
}

func (o *Operator) devices() []Device {
	out := []Device{}
	for _, b := range o.opts.Owner.Bridges() {
		name := b.Name
		out = append(out, Device{Type: "bridge", Serial: b.Serial, Name: cmpOr(b.TedeeName, &name), Firmware: b.Firmware,
			Accessories: []string{}})
	}
	for _, l := range o.opts.Owner.Locks() {
		serial := l.Serial
		out = append(out, Device{Type: "lock", Serial: &serial, ID: l.ID, Name: l.Name, Model: l.Model,
			Firmware: l.Firmware, Bridge: l.Bridge, Accessories: append([]string{}, l.Accessories...)})
	}
	return out
}

func cmpOr(a, b *string) *string {
	if a != nil {
		return a
	}
	return b
}

func (o *Operator) publishInfo() {
	info := o.info()
	o.publishRetained("info", info)
	o.publishDiagnostics(info.Bridges)
}

// publishDiagnostics publishes each bridge's health as the retained topics its Home Assistant
// diagnostic entities read (<base>/<bridge serial>/api, last_sync, callback, clock_skew_ms,
// firmware), once its serial is known: before the first sync it has no stable topic segment.
func (o *Operator) publishDiagnostics(health []controller.Health) {
	serials := map[string]string{}
	for _, b := range o.opts.Owner.Bridges() {
		if b.Serial != nil {
			serials[b.Name] = *b.Serial
		}
	}
	for _, h := range health {
		serial, ok := serials[h.Bridge]
		if !ok {
			continue
		}
		put := func(leaf, payload string) {
			topic := o.opts.Base + "/" + serial + "/" + leaf
			if o.last[topic] == payload {
				return
			}
			o.last[topic] = payload
			o.opts.Publish(state.Message{Topic: topic, Payload: []byte(payload), Retain: true})
		}
		put("api", strconv.FormatBool(h.API))
		put("callback", h.Callback)
		if h.LastSync != nil {
			put("last_sync", h.LastSync.UTC().Format(time.RFC3339))
		}
		if h.ClockSkewMs != nil {
			put("clock_skew_ms", strconv.FormatInt(*h.ClockSkewMs, 10))
		}
		if h.Firmware != "" {
			put("firmware", h.Firmware)
		}
	}
}

// publishDevices publishes the devices list when it may have changed: building it from every
// lock's view after each burst of changes was a tenth of the service's CPU with 1,000 locks, for
// a list that changes when a lock is added, removed or renamed.
func (o *Operator) publishDevices() {
	catalog := o.opts.Owner.Catalog()
	if o.catalogued && catalog == o.catalog {
		return
	}
	o.catalog, o.catalogued = catalog, true
	o.publishRetained("devices", o.devices())
}

// publishRetained publishes v on <base>/bridge/<leaf> when it differs from what was published.
// The info topic's health times change at every sync, which is what it is for.
func (o *Operator) publishRetained(leaf string, v any) {
	payload, err := json.Marshal(v)
	if err != nil {
		o.log.Error("encode operator topic", zap.String("leaf", leaf), zap.Error(err))
		return
	}
	if o.last[leaf] == string(payload) {
		return
	}
	o.last[leaf] = string(payload)
	o.opts.Publish(state.Message{Topic: o.opts.Base + "/bridge/" + leaf, Payload: payload, Retain: true})
}
