// Package fakebridge is a fake Tedee Bridge for tests and demos: it implements the documented
// Bridge API v1.0 (bridge and lock details, lock/unlock/pull, callback registration) with its
// authentication in both token modes, moves locks through their intermediate states with
// realistic delays, and sends webhooks to the registered callbacks with each of the three
// methods (POST, GET, GET+NO_PARAMS) and their configured headers. Faults can be injected into lock
// operations (busy, slow, answer lost after or before executing), and every execution is
// recorded, so tests can prove a command ran exactly once whatever the network did.
package fakebridge

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// Lock is a simulated lock.
type Lock struct {
	ID                 int64
	Name               string
	Type               int // 2 Lock PRO, 4 Lock GO
	Serial             string
	Firmware           string
	State              int
	Jammed             bool
	DoorState          int // 0 not paired … 4 uncalibrated
	Battery            int
	Charging           bool
	Connected          bool
	PullSpringEnabled  bool
	AutoPullSpring     bool
	PullSpringDuration int // seconds
}

// Options configure the fake bridge.
type Options struct {
	Token     string
	TokenMode string // tedeeapi.ModeEncrypted (default) or tedeeapi.ModePlain
	Name      string
	Serial    string
	Firmware  string
	Locks     []Lock
	// TimeScale multiplies every movement delay: 1 is about real time (a lock moves for about
	// 1.5 s), tests use less.
	TimeScale float64
	// KeyWindow is how far an encrypted key's time may be from the bridge's clock (the real
	// window is not documented). Default 5 minutes.
	KeyWindow time.Duration
	Now       func() time.Time
	// OnChange, if set, is told each change of a lock's status (state, jammed, door state: what a
	// lock-status-changed webhook reports), whether an operation or Update made it; see Change.
	// Calls are made one at a time, in order, without the bridge's lock held, so OnChange may
	// call the bridge (Update too: that change is told after the current call returns).
	OnChange func(Change)
}

// Request is one API request the bridge received.
type Request struct {
	Method, Path string
	Start, End   time.Time
	Status       int
}

// Fault is a misbehaviour of the bridge or the network on a lock operation.
type Fault int

const (
	// FaultNone: the operation is executed and answered at once.
	FaultNone Fault = iota
	// FaultBusy: answered 409 Busy without executing, as the bridge does when it is busy.
	FaultBusy
	// FaultSlow: executed and answered after the fault's delay (a bridge slow to reach the lock).
	FaultSlow
	// FaultLateAnswer: executed at once, but the answer is held until the client gives up (or,
	// with a delay, until it passes): the client's timeout struck after the lock moved.
	FaultLateAnswer
	// FaultDropAfterExecute: executed, then the connection is closed without an answer.
	FaultDropAfterExecute
	// FaultDropBeforeExecute: the request is read, then the connection is closed without an
	// answer and without executing (a bridge that crashed on it).
	FaultDropBeforeExecute
)

type injected struct {
	fault Fault
	count int
	delay time.Duration
}

// Execution is one lock operation the bridge carried out (the lock started moving).
type Execution struct {
	LockID int64
	Op     string // lock, unlock or pull
	At     time.Time
}

// Bridge is the fake. Serve it with net/http (it is an http.Handler).
type Bridge struct {
	opts Options

	mu         sync.Mutex
	locks      map[int64]*Lock
	order      []int64
	callbacks  []tedeeapi.Callback
	nextID     int64
	usedKeys   map[string]bool
	requests   []Request
	arrivals   []Request // as they arrive, before they are answered
	inFlight   int
	overlaps   int
	putAll     int
	connected  bool
	senders    map[int64]chan addressed
	wg         sync.WaitGroup
	closed     bool
	httpClient *http.Client
	faults     map[int64]*injected
	partial    Partial
	executions []Execution
	changes    []Change // OnChange calls not yet made, in order
	telling    bool     // a goroutine is making the OnChange calls
}

type webhook struct {
	event string
	data  [][2]string // ordered key/value pairs, as the bridge flattens them
	at    time.Time
}

// addressed is an event bound to the registration as it was when the event happened.
type addressed struct {
	webhook
	cb tedeeapi.Callback
}

// New returns a fake bridge with the given locks.
func New(opts Options) *Bridge {
	if opts.TokenMode == "" {
		opts.TokenMode = tedeeapi.ModeEncrypted
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.KeyWindow <= 0 {
		opts.KeyWindow = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Bridge{opts: opts, locks: map[int64]*Lock{}, usedKeys: map[string]bool{}, nextID: 1,
		connected: true, senders: map[int64]chan addressed{}, httpClient: &http.Client{Timeout: 5 * time.Second},
		faults: map[int64]*injected{}}
	for _, l := range opts.Locks {
		l := l
		b.locks[l.ID] = &l
		b.order = append(b.order, l.ID)
	}
	return b
}

// Close stops sending webhooks and waits for the senders; no OnChange call starts after it.
func (b *Bridge) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for id, ch := range b.senders {
		close(ch)
		delete(b.senders, id)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// InjectFault makes the next count lock operations (POST /lock/{id}/lock, unlock or pull) on lock
// id misbehave as f says; delay is used by FaultSlow and FaultLateAnswer. It replaces any fault
// still pending for that lock.
func (b *Bridge) InjectFault(id int64, f Fault, count int, delay time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[id] = &injected{fault: f, count: count, delay: delay}
}

// takeFaultLocked returns the fault for the next operation on lock id (b.mu held).
func (b *Bridge) takeFaultLocked(id int64) (Fault, time.Duration) {
	f, ok := b.faults[id]
	if !ok || f.count <= 0 {
		return FaultNone, 0
	}
	f.count--
	return f.fault, f.delay
}

// Executions returns the lock operations carried out so far, in order.
func (b *Bridge) Executions() []Execution {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Execution(nil), b.executions...)
}

// Requests returns the API requests received so far.
func (b *Bridge) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

// Arrivals returns the API requests received so far as they arrived (Method, Path and Start
// only), including those still being served: a request held by a fault appears here at once.
func (b *Bridge) Arrivals() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.arrivals...)
}

// Overlaps returns how many requests arrived while another was being served.
func (b *Bridge) Overlaps() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overlaps
}

// ReplaceAllCalls returns how many times PUT /callback (which replaces every registration) was
// called.
func (b *Bridge) ReplaceAllCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.putAll
}

// Callbacks returns the registered callbacks.
func (b *Bridge) Callbacks() []tedeeapi.Callback {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]tedeeapi.Callback(nil), b.callbacks...)
}

// AddCallback registers a callback as another integration would.
func (b *Bridge) AddCallback(cb tedeeapi.Callback) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addCallbackLocked(cb)
}

// DropCallbacks forgets every registration, as the bridge does when its API configuration is
// reset in the app.
func (b *Bridge) DropCallbacks() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.callbacks = nil
}

// Lock returns a copy of a lock.
func (b *Bridge) Lock(id int64) Lock {
	b.mu.Lock()
	defer b.mu.Unlock()
	return *b.locks[id]
}

// Update changes a lock as if it happened on the device (a key turned, a battery drained) and
// sends the matching webhooks.
func (b *Bridge) Update(id int64, change func(*Lock)) {
	defer b.tellChanges() // after the lock is released
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.locks[id]
	before := *l
	change(l)
	if l.State != before.State || l.Jammed != before.Jammed || l.DoorState != before.DoorState {
		b.changedLocked(l, "")
		b.sendStatusLocked(l)
	}
	if l.Battery != before.Battery {
		b.sendLocked(l, "device-battery-level-changed", [2]string{"batteryLevel", strconv.Itoa(l.Battery)})
	}
	if l.Connected != before.Connected {
		b.sendLocked(l, "device-connection-changed", [2]string{"isConnected", boolInt(l.Connected)})
	}
	if l.Charging != before.Charging {
		event := "device-battery-stop-charging"
		if l.Charging {
			event = "device-battery-start-charging"
		}
		b.sendLocked(l, event)
	}
}

// SetCloudConnected changes the bridge's cloud link and sends backend-connection-changed.
func (b *Bridge) SetCloudConnected(connected bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connected = connected
	b.queueLocked(webhook{event: "backend-connection-changed", data: [][2]string{{"isConnected", boolInt(connected)}}})
}

func boolInt(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	b.mu.Lock()
	b.inFlight++
	b.arrivals = append(b.arrivals, Request{Method: r.Method, Path: r.URL.Path, Start: start})
	if b.inFlight > 1 {
		b.overlaps++
	}
	b.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	b.serve(rec, r)
	b.mu.Lock()
	b.inFlight--
	b.requests = append(b.requests, Request{Method: r.Method, Path: r.URL.Path, Start: start, End: time.Now(), Status: rec.status})
	b.mu.Unlock()
}

// statusRecorder notes the status answered; 0 means no answer reached the client.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to drop it).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// noAnswer records that the client got no answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Server", "Tedee")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func apiError(w http.ResponseWriter, status int, desc string) {
	writeJSON(w, status, map[string]string{"error-description": desc})
}

func (b *Bridge) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/v1.0")
	if !ok {
		apiError(w, http.StatusNotFound, "Not found")
		return
	}
	if !b.authorized(r) {
		apiError(w, http.StatusUnauthorized, "Invalid token")
		return
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodPut) && len(r.Header.Values("Content-Length")) == 0 {
		// "Content-Length is required for all POST and PUT requests."
		apiError(w, http.StatusLengthRequired, "Content-Length required")
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && path == "/bridge":
		b.mu.Lock()
		writeJSON(w, http.StatusOK, b.partial.bridge(tedeeapi.BridgeDetails{Name: b.opts.Name, SerialNumber: b.opts.Serial,
			CurrentTime: b.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z"), SSID: "TedeeWiFi",
			IsConnected: tedeeapi.NewFlag(b.connected), Version: b.opts.Firmware, WifiVersion: "35.2.2.4"}))
		b.mu.Unlock()
	case r.Method == http.MethodGet && path == "/lock":
		b.mu.Lock()
		out := make([]any, 0, len(b.order))
		for _, id := range b.order {
			out = append(out, b.partial.lock(details(b.locks[id])))
		}
		b.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case len(parts) == 2 && parts[0] == "lock" && r.Method == http.MethodGet:
		b.withLock(w, parts[1], func(l *Lock) { writeJSON(w, http.StatusOK, b.partial.lock(details(l))) })
	case len(parts) == 3 && parts[0] == "lock" && r.Method == http.MethodPost:
		b.operateWithFault(w, r, parts[1], parts[2])
	case path == "/callback":
		b.callbackList(w, r)
	case len(parts) == 2 && parts[0] == "callback":
		b.callbackOne(w, r, parts[1])
	default:
		apiError(w, http.StatusNotFound, "Not found")
	}
}

// authorized checks api_token (header or query) in the configured mode. An encrypted key is
// accepted once, and only if its time is within KeyWindow of the bridge's clock.
func (b *Bridge) authorized(r *http.Request) bool {
	key := r.Header.Get("api_token")
	if key == "" {
		key = r.URL.Query().Get("api_token")
	}
	if b.opts.TokenMode == tedeeapi.ModePlain {
		return subtle.ConstantTimeCompare([]byte(key), []byte(b.opts.Token)) == 1
	}
	if len(key) <= 64 {
		return false
	}
	ms, err := strconv.ParseInt(key[64:], 10, 64)
	if err != nil {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(tedeeapi.EncryptedKey(b.opts.Token, ms))) != 1 {
		return false
	}
	skew := b.opts.Now().Sub(time.UnixMilli(ms))
	if skew > b.opts.KeyWindow || skew < -b.opts.KeyWindow {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.usedKeys[key] {
		return false // "every request (with a given api_key) can be processed only once"
	}
	b.usedKeys[key] = true
	return true
}

func details(l *Lock) tedeeapi.LockDetails {
	return tedeeapi.LockDetails{ID: l.ID, Name: l.Name, Type: l.Type, SerialNumber: l.Serial,
		IsConnected: tedeeapi.NewFlag(l.Connected), RSSI: new(-45), DeviceRevision: 18, Version: l.Firmware,
		State: new(l.State), Jammed: tedeeapi.NewFlag(l.Jammed), DoorState: new(l.DoorState), BatteryLevel: new(l.Battery),
		IsCharging: tedeeapi.NewFlag(l.Charging),
		DeviceSettings: tedeeapi.DeviceSettings{PullSpringEnabled: tedeeapi.NewFlag(l.PullSpringEnabled),
			PullSpringDuration: new(l.PullSpringDuration), AutoPullSpringEnabled: tedeeapi.NewFlag(l.AutoPullSpring),
			ButtonLockEnabled: tedeeapi.NewFlag(true), ButtonUnlockEnabled: tedeeapi.NewFlag(true)}}
}

func (b *Bridge) withLock(w http.ResponseWriter, rawID string, f func(*Lock)) {
	id, err := strconv.ParseInt(rawID, 10, 32)
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.locks[id]
	if err != nil || !ok {
		apiError(w, http.StatusNotFound, "Device not found")
		return
	}
	f(l)
}

// operateWithFault runs a lock operation through the fault injected for that lock, if any.
func bleError(w http.ResponseWriter, code int) {
	writeJSON(w, http.StatusNotAcceptable, map[string]any{"error-code": code, "error-description": "BLE API error"})
}

// BLE result codes the fake uses.
const (
	bleBusy          = 0x03
	bleNotCalibrated = 0x05
	bleNotConfigured = 0x08
	bleInvalidState  = 0x02
)

// operate starts a lock operation (b.mu held) and answers at once, as the bridge does: the
// movement is reported by webhooks and seen in GET /lock.
func (b *Bridge) operate(w http.ResponseWriter, r *http.Request, l *Lock, op string) {
	// Parameters are checked before the lock is asked anything.
	mode := r.URL.Query().Get("mode")
	if h := r.Header.Get("mode"); h != "" {
		mode = h // the spec's place for it
	}
	if mode == "" {
		mode = "0"
	}
	if op == "unlock" && mode != "0" && mode != "2" && mode != "3" && mode != "4" {
		apiError(w, http.StatusForbidden, "Invalid param")
		return
	}
	if !l.Connected {
		apiError(w, http.StatusMethodNotAllowed, "Device is disconnected")
		return
	}
	switch l.State {
	case 0, 1, 9, 18:
		bleError(w, bleNotCalibrated)
		return
	case 4, 5, 7, 8, 255:
		bleError(w, bleBusy)
		return
	}
	switch op {
	case "lock":
		if l.State != 2 && l.State != 3 {
			bleError(w, bleInvalidState)
			return
		}
		b.moveLocked(l, []step{{5, 0, "lock"}, {6, 1500 * time.Millisecond, "lock"}})
	case "unlock":
		switch {
		case l.State == 2 && mode == "4":
			if !l.PullSpringEnabled {
				bleError(w, bleNotConfigured)
				return
			}
			b.moveLocked(l, b.pullSteps(l, "pull"))
		case l.State == 6 || l.State == 3:
			steps := []step{{4, 0, "unlock"}, {2, 1500 * time.Millisecond, "unlock"}}
			if l.AutoPullSpring && l.PullSpringEnabled && mode != "3" {
				steps = append(steps, b.pullSteps(l, "auto-pull")...)
			}
			b.moveLocked(l, steps)
		default:
			bleError(w, bleInvalidState)
			return
		}
	case "pull":
		if !l.PullSpringEnabled {
			bleError(w, bleNotConfigured)
			return
		}
		if l.State != 2 {
			bleError(w, bleInvalidState)
			return
		}
		b.moveLocked(l, b.pullSteps(l, "pull"))
	default:
		apiError(w, http.StatusNotFound, "Not found")
		return
	}
	b.executions = append(b.executions, Execution{LockID: l.ID, Op: op, At: time.Now()})
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

type step struct {
	state int
	after time.Duration // delay before this state, scaled by TimeScale
	op    string        // the movement it belongs to (Change.Op)
}

func (b *Bridge) pullSteps(l *Lock, op string) []step {
	d := time.Duration(l.PullSpringDuration) * time.Second
	if d <= 0 {
		d = 2 * time.Second
	}
	return []step{{8, 300 * time.Millisecond, op}, {7, 500 * time.Millisecond, op}, {2, d, op}}
}

// moveLocked puts the lock in the first state now and the others after their delays, sending a
// lock-status-changed webhook for each (b.mu held). Each step is timed from the one before it,
// so that the steps happen in order however short a TimeScale makes them.
func (b *Bridge) moveLocked(l *Lock, steps []step) {
	if len(steps) == 0 {
		return
	}
	s, rest := steps[0], steps[1:]
	if s.after == 0 {
		l.State = s.state
		b.changedLocked(l, s.op)
		b.sendStatusLocked(l)
		b.moveLocked(l, rest)
		return
	}
	time.AfterFunc(time.Duration(float64(s.after)*b.opts.TimeScale), func() {
		defer b.tellChanges() // after the lock is released
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.closed {
			return
		}
		b.moveLocked(l, append([]step{{s.state, 0, s.op}}, rest...))
	})
}

func (b *Bridge) String() string {
	return fmt.Sprintf("fake Tedee Bridge %s (%s, %d locks)", b.opts.Name, b.opts.Serial, len(b.locks))
}
