// Package cloud receives Tedee Cloud webhooks: it deduplicates them (the cloud sends one per user
// of a lock), maps the cloud's device ids to lock serials, and hands them to the core, so that
// cloud and bridge webhooks update the same topics.
package cloud

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

var (
	// ErrDuplicate means the change was already received (from another user's webhook, or a
	// redelivery); nothing is published.
	ErrDuplicate = errors.New("duplicate of a webhook already received")
	// ErrUnmapped means no lock serial is known for the device id; nothing is published under a
	// made-up name.
	ErrUnmapped = errors.New("device id not mapped to a lock serial (list it in cloud.devices, or configure the Bridge API)")
)

// Store is what the receiver needs of the core.
type Store interface {
	Apply(bridge string, ev tedee.Event, now time.Time) ([]state.Message, error)
	SerialOf(deviceID int64) (string, bool)
}

// Receiver handles decoded cloud webhooks.
type Receiver struct {
	store   Store
	devices map[int64]string // from cloud.devices
	publish func(...state.Message)
	now     func() time.Time
	seen    *recent
}

// NewReceiver returns a receiver. devices maps device ids to serials for locks no bridge reports.
func NewReceiver(store Store, devices map[int64]string, publish func(...state.Message), now func() time.Time) *Receiver {
	return &Receiver{store: store, devices: devices, publish: publish, now: now, seen: newRecent(dedupEntries, dedupWindow)}
}

const (
	// dedupWindow is how long a webhook is remembered; the cloud's copies for its users arrive
	// within seconds of each other.
	dedupWindow = 15 * time.Minute
	// dedupEntries bounds the memory: a property manager's thousands of locks change far less
	// often than this per window.
	dedupEntries = 20000
)

// HandleCloudEvent applies one cloud webhook. idempotencyKey is the Idempotency-Key header, if any.
// Errors: state.ErrUnknownEvent, ErrDuplicate, ErrUnmapped, state.ErrStale, or the core's.
func (r *Receiver) HandleCloudEvent(_ context.Context, ev tedee.CloudEvent, idempotencyKey string) error {
	if !ev.Known() {
		return state.ErrUnknownEvent
	}
	serial, ok := r.store.SerialOf(ev.DeviceID)
	if !ok {
		serial, ok = r.devices[ev.DeviceID]
	}
	if !ok {
		return ErrUnmapped
	}
	// The same change reaches us once per user: same event, device and eventTime. The id and the
	// Idempotency-Key, where the cloud sends them, identify a delivery too.
	keys := []string{"change|" + ev.Name + "|" + strconv.FormatInt(ev.DeviceID, 10) + "|" + ev.Timestamp.UTC().Format(time.RFC3339Nano)}
	if ev.ID != "" {
		keys = append(keys, "id|"+ev.ID)
	}
	if idempotencyKey != "" {
		keys = append(keys, "id|"+idempotencyKey)
	}
	now := r.now()
	if r.seen.seenOrAdd(now, keys...) {
		return ErrDuplicate
	}
	e := ev.Event
	e.Serial = serial
	msgs, err := r.store.Apply("", e, now)
	r.publish(msgs...)
	return err
}

// recent remembers keys for a while, up to a number of entries.
type recent struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	seen  map[string]time.Time
	order []string // insertion order, for eviction
}

func newRecent(max int, ttl time.Duration) *recent {
	return &recent{max: max, ttl: ttl, seen: map[string]time.Time{}}
}

// seenOrAdd reports whether any key was seen within ttl, and remembers all of them.
func (r *recent) seenOrAdd(now time.Time, keys ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	dup := false
	for _, k := range keys {
		if at, ok := r.seen[k]; ok && now.Sub(at) < r.ttl {
			dup = true
		}
	}
	for _, k := range keys {
		if _, ok := r.seen[k]; !ok {
			r.order = append(r.order, k)
		}
		r.seen[k] = now
	}
	for len(r.order) > r.max || (len(r.order) > 0 && now.Sub(r.seen[r.order[0]]) >= r.ttl) {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
	return dup
}
