package fakebridge

// Faults injected into lock operations, and the HTTP plumbing they need.

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"
)

func (b *Bridge) operateWithFault(w http.ResponseWriter, r *http.Request, rawID, op string) {
	var fault Fault
	var delay time.Duration
	if id, err := strconv.ParseInt(rawID, 10, 32); err == nil {
		b.mu.Lock()
		fault, delay = b.takeFaultLocked(id)
		b.mu.Unlock()
	}
	switch fault {
	case FaultBusy:
		apiError(w, http.StatusConflict, "Busy")
		return
	case FaultDropBeforeExecute:
		drop(w)
		return
	case FaultSlow:
		if !wait(r.Context(), delay) {
			noAnswer(w)
			return // the client gave up before the bridge got to it: nothing happens
		}
	}
	out := &buffered{header: http.Header{}, status: http.StatusOK}
	b.withLock(out, rawID, func(l *Lock) { b.operate(out, r, l, op) })
	b.tellChanges() // the movement's first state, now that the lock is released
	switch fault {
	case FaultLateAnswer:
		if delay <= 0 {
			delay = time.Hour // until the client gives up
		}
		if !wait(r.Context(), delay) {
			noAnswer(w)
			return
		}
	case FaultDropAfterExecute:
		drop(w)
		return
	}
	out.sendTo(w)
}

// bleError answers 406 as the bridge does when the lock refuses: code is the lock's BLE result.
func noAnswer(w http.ResponseWriter) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.status = 0
	}
}

// drop closes the connection without answering.
func drop(w http.ResponseWriter) {
	noAnswer(w)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// buffered holds an answer so that a fault can decide whether and when it is sent.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header         { return b.header }
func (b *buffered) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *buffered) WriteHeader(code int)        { b.status = code }

func (b *buffered) sendTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
