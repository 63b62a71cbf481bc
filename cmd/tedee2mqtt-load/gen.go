package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// kind is the kind of webhook a generated event is. The mix follows what a real bridge sends:
// lock status changes dominate, with the odd battery and connection report in between.
type kind uint8

const (
	kindStatus kind = iota
	kindBattery
	kindConnection
	numKinds
)

var kindNames = [numKinds]string{"status", "battery", "connection"}

func (k kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// kindOf gives the kind of a lock's seq-th webhook: the first is always a status change (so the
// first sight of every lock looks the same), then 8 in 10 are status changes, 1 a battery level,
// 1 a connection change.
func kindOf(seq int) kind {
	if seq == 0 {
		return kindStatus
	}
	switch seq % 10 {
	case 5:
		return kindBattery
	case 9:
		return kindConnection
	}
	return kindStatus
}

// Delivery formats a bridge can be configured with.
const (
	formatPost = "post" // POST, JSON body
	formatGet  = "get"  // GET, query string
	formatPath = "path" // GET+NO_PARAMS, path segments
)

// Headers the load tool adds to every webhook. The service ignores them; the baseline server uses
// them instead of decoding the event, so both receive byte-identical requests.
const (
	headerSerial    = "X-Load-Serial"
	headerTimestamp = "X-Load-Timestamp"
	headerKind      = "X-Load-Kind"
	headerFirst     = "X-Load-First"
)

// tsLayout is how Tedee bridges write times (RFC 3339, milliseconds, Z), and how tedee2mqtt writes
// them back in the event payload.
const tsLayout = "2006-01-02T15:04:05.000Z"

// tsStep separates a lock's consecutive events. The event payload carries milliseconds, so one
// millisecond keeps every (serial, timestamp) pair unique; strictly increasing times per lock mean
// the service never drops one as out of order.
const tsStep = time.Millisecond

// maxSpan bounds how far past base a lock's events may go: tedee2mqtt treats times more than
// 10 minutes ahead of its clock as "now" for ordering, which could make a later event look stale.
const maxSpan = 9 * time.Minute

// generator produces the webhooks of one run. Webhook i goes to lock i%locks as that lock's
// (i/locks)-th event, stamped base + seq*tsStep.
type generator struct {
	locks   int
	base    time.Time // truncated to the millisecond
	format  string
	serials []string
	index   map[string]int // serial -> lock
}

// serialFor makes Tedee-shaped serials (8 digits, dash, 6 digits); prefix keeps separate sets
// (the run, the calibration) apart.
func serialFor(prefix, lock int) string { return fmt.Sprintf("%08d-%06d", prefix, lock) }

func newGenerator(locks, count, serialPrefix int, base time.Time, format string) (*generator, error) {
	if locks < 1 || locks > 999999 {
		return nil, fmt.Errorf("locks must be 1-999999 (got %d)", locks)
	}
	switch format {
	case formatPost, formatGet, formatPath:
	default:
		return nil, fmt.Errorf("format must be %s, %s or %s (got %q)", formatPost, formatGet, formatPath, format)
	}
	perLock := (count + locks - 1) / locks
	if span := time.Duration(perLock) * tsStep; span > maxSpan {
		return nil, fmt.Errorf("%d webhooks per lock would span %s of event time (at most %s): use more locks",
			perLock, span, maxSpan)
	}
	g := &generator{locks: locks, base: base.UTC().Truncate(time.Millisecond), format: format,
		serials: make([]string, locks), index: make(map[string]int, locks)}
	for i := range g.serials {
		g.serials[i] = serialFor(serialPrefix, i)
		g.index[g.serials[i]] = i
	}
	return g, nil
}

// hook identifies one generated webhook.
type hook struct {
	lock, seq int
}

func (g *generator) at(i int) hook { return hook{lock: i % g.locks, seq: i / g.locks} }

// indexOf is the inverse of at.
func (g *generator) indexOf(lock, seq int) int { return seq*g.locks + lock }

func (g *generator) timestamp(seq int) time.Time { return g.base.Add(time.Duration(seq) * tsStep) }

// seqOf returns the seq a timestamp belongs to, or -1 if it is not one of ours.
func (g *generator) seqOf(ts time.Time) int {
	d := ts.Sub(g.base)
	if d < 0 || d%tsStep != 0 {
		return -1
	}
	return int(d / tsStep)
}

// statusCycle walks a lock through a day: locked, unlocking, unlocked, locking. None of these
// changes what Home Assistant discovery says about the lock, so after the first sight only state
// is published, as for a real lock.
var statusCycle = [...]int{6, 4, 2, 5}

// fields returns the event name and the data fields of a webhook, in the order bridges send them.
func (g *generator) fields(w hook) (name string, data [][2]string) {
	serial := g.serials[w.lock]
	common := [][2]string{
		{"deviceType", "2"},
		{"deviceId", strconv.Itoa(100000 + w.lock)},
		{"serialNumber", serial},
	}
	switch kindOf(w.seq) {
	case kindBattery:
		return "device-battery-level-changed", append(common, [2]string{"batteryLevel", strconv.Itoa(100 - w.seq%60)})
	case kindConnection:
		connected := "1"
		if w.seq%20 == 9 {
			connected = "0"
		}
		return "device-connection-changed", append(common, [2]string{"isConnected", connected})
	}
	state := statusCycle[w.seq%len(statusCycle)]
	door := "3" // closed
	if state == 2 {
		door = "2" // open while unlocked
	}
	return "lock-status-changed", append(common,
		[2]string{"state", strconv.Itoa(state)}, [2]string{"jammed", "0"}, [2]string{"doorState", door},
		// Real bridges add these undocumented fields; tedee2mqtt passes them through in "data".
		[2]string{"source", "18"}, [2]string{"user_id", "0"})
}

// request builds the HTTP request for a webhook against url (the service's /webhook/<bridge>).
func (g *generator) request(url string, w hook) (*http.Request, error) {
	name, data := g.fields(w)
	ts := g.timestamp(w.seq).Format(tsLayout)
	var req *http.Request
	var err error
	switch g.format {
	case formatPost:
		var b strings.Builder
		b.Grow(256)
		b.WriteString(`{"event":"`)
		b.WriteString(name)
		b.WriteString(`","timestamp":"`)
		b.WriteString(ts)
		b.WriteString(`","data":{`)
		for i, kv := range data {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.WriteString(kv[0])
			b.WriteString(`":`)
			if kv[0] == "serialNumber" {
				b.WriteString(strconv.Quote(kv[1]))
			} else {
				b.WriteString(kv[1])
			}
		}
		b.WriteString("}}")
		req, err = http.NewRequest(http.MethodPost, url, strings.NewReader(b.String()))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	case formatGet, formatPath:
		sep, first := "/", "/"
		if g.format == formatGet {
			sep, first = "&", "?"
		}
		var b strings.Builder
		b.WriteString(url)
		b.WriteString(first + "event=" + name + sep + "timestamp=" + ts)
		for _, kv := range data {
			b.WriteString(sep + kv[0] + "=" + kv[1])
		}
		req, err = http.NewRequest(http.MethodGet, b.String(), nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set(headerSerial, g.serials[w.lock])
	req.Header.Set(headerTimestamp, ts)
	req.Header.Set(headerKind, kindOf(w.seq).String())
	if w.seq == 0 {
		req.Header.Set(headerFirst, "1")
	}
	return req, nil
}

// bridgeNames names n bridges for the generated configuration: "load-000", "load-001", … (valid
// bridge names, sorted as numbered). n = 0 gives none: the default bridge at /webhook.
func bridgeNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("load-%03d", i)
	}
	return names
}

// webhookURL is where lock's webhooks go: base/<bridge> with the locks spread round-robin over
// the bridges, or base itself without bridges (the default bridge).
func webhookURL(base string, bridges []string, lock int) string {
	if len(bridges) == 0 {
		return base
	}
	return strings.TrimSuffix(base, "/") + "/" + bridges[lock%len(bridges)]
}
