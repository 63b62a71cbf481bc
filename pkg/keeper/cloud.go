package keeper

import (
	"strconv"
	"sync"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

const (
	// dedupWindow is how long a cloud webhook is remembered; the cloud's copies for its users
	// arrive within seconds of each other.
	dedupWindow = 15 * time.Minute
	// dedupEntries bounds the memory: a property manager's thousands of locks change far less
	// often than this per window.
	dedupEntries = 20000
)

// CloudEvent applies one Tedee Cloud webhook: it drops the copies the cloud sends once per user
// of a lock, maps the cloud's device id to the lock's serial (as a bridge reported it, else from
// cloud.devices; never a made-up name), and applies it like a bridge's, so that both update the
// same topics. idempotencyKey is the Idempotency-Key header, if any.
func (k *Keeper) CloudEvent(ev tedee.CloudEvent, idempotencyKey string, now time.Time) (state.Outcome, error) {
	if !ev.KnownCloud() {
		return state.UnknownEvent, nil
	}
	serial, ok := k.serialOf(ev.DeviceID)
	if !ok {
		return state.Unmapped, nil
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
	if k.seen.seenOrAdd(now, keys...) {
		return state.Duplicate, nil
	}
	e := ev.Event
	e.Serial = serial
	return k.apply("", e, now)
}

// serialOf maps a cloud device id to a serial: as a bridge reported it, else from cloud.devices.
func (k *Keeper) serialOf(id int64) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if serial, ok := k.store.SerialOf(id); ok {
		return serial, true
	}
	serial, ok := k.devices[id]
	return serial, ok
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
