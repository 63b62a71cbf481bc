package fakebridge

// The webhooks the bridge sends and the callbacks it keeps.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

func (b *Bridge) sendStatusLocked(l *Lock) {
	b.sendLocked(l, "lock-status-changed", [2]string{"state", strconv.Itoa(l.State)},
		[2]string{"jammed", boolInt(l.Jammed)}, [2]string{"doorState", strconv.Itoa(l.DoorState)})
}

func (b *Bridge) sendLocked(l *Lock, event string, fields ...[2]string) {
	data := [][2]string{{"deviceType", strconv.Itoa(l.Type)}, {"deviceId", strconv.FormatInt(l.ID, 10)},
		{"serialNumber", l.Serial}}
	b.queueLocked(webhook{event: event, data: append(data, fields...)})
}

// queueLocked hands the event to every callback's sender, which delivers in order.
func (b *Bridge) queueLocked(wh webhook) {
	if b.closed {
		return
	}
	wh.at = b.opts.Now()
	for _, cb := range b.callbacks {
		ch, ok := b.senders[cb.ID]
		if !ok {
			ch = make(chan addressed, 256)
			b.senders[cb.ID] = ch
			b.wg.Add(1)
			go b.send(ch)
		}
		select {
		case ch <- addressed{webhook: wh, cb: cb}:
		default: // a receiver that stopped answering loses events, as with a real bridge
		}
	}
}

func (b *Bridge) send(ch chan addressed) {
	defer b.wg.Done()
	for a := range ch {
		req, err := request(a.cb, a.webhook)
		if err != nil {
			continue
		}
		if resp, err := b.httpClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// request builds the webhook request for a registration, in its method.
func request(cb tedeeapi.Callback, wh webhook) (*http.Request, error) {
	ts := wh.at.UTC().Format("2006-01-02T15:04:05.000Z")
	pairs := append([][2]string{{"event", wh.event}, {"timestamp", ts}}, wh.data...)
	var req *http.Request
	var err error
	switch cb.Method {
	case "GET":
		q := make([]string, len(pairs))
		for i, p := range pairs {
			q[i] = p[0] + "=" + url.QueryEscape(p[1])
		}
		req, err = http.NewRequest(http.MethodGet, cb.URL+"?"+strings.Join(q, "&"), nil)
	case "GET+NO_PARAMS":
		segs := make([]string, len(pairs))
		for i, p := range pairs {
			segs[i] = p[0] + "=" + p[1]
		}
		req, err = http.NewRequest(http.MethodGet, strings.TrimRight(cb.URL, "/")+"/"+strings.Join(segs, "/"), nil)
	default: // POST, also when no method was given
		data := map[string]any{}
		for _, p := range wh.data {
			if n, err := strconv.ParseInt(p[1], 10, 64); err == nil && p[0] != "serialNumber" {
				data[p[0]] = n
			} else {
				data[p[0]] = p[1]
			}
		}
		body, _ := json.Marshal(map[string]any{"event": wh.event, "timestamp": ts, "data": data})
		req, err = http.NewRequest(http.MethodPost, cb.URL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, err
	}
	for _, h := range cb.Headers {
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	return req, nil
}

func (b *Bridge) addCallbackLocked(cb tedeeapi.Callback) int64 {
	if cb.Method == "" {
		cb.Method = "POST"
	}
	cb.ID = b.nextID
	b.nextID++
	b.callbacks = append(b.callbacks, cb)
	return cb.ID
}

func (b *Bridge) callbackList(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		out := append([]tedeeapi.Callback{}, b.callbacks...)
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var cb tedeeapi.Callback
		if err := json.NewDecoder(r.Body).Decode(&cb); err != nil || cb.URL == "" || !validMethod(cb.Method) {
			apiError(w, http.StatusBadRequest, "Invalid param")
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"id": b.addCallbackLocked(cb)})
	case http.MethodPut:
		var cbs []tedeeapi.Callback
		if err := json.NewDecoder(r.Body).Decode(&cbs); err != nil {
			apiError(w, http.StatusBadRequest, "Invalid param")
			return
		}
		b.putAll++
		b.callbacks = nil
		ids := []int64{}
		for _, cb := range cbs {
			ids = append(ids, b.addCallbackLocked(cb))
		}
		writeJSON(w, http.StatusOK, ids)
	default:
		apiError(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

func validMethod(m string) bool { return m == "" || m == "POST" || m == "GET" || m == "GET+NO_PARAMS" }

func (b *Bridge) callbackOne(w http.ResponseWriter, r *http.Request, rawID string) {
	id, err := strconv.ParseInt(rawID, 10, 32)
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := -1
	for i, cb := range b.callbacks {
		if cb.ID == id && err == nil {
			idx = i
		}
	}
	if idx < 0 {
		apiError(w, http.StatusNotFound, "Callback not found")
		return
	}
	switch r.Method {
	case http.MethodPut:
		var cb tedeeapi.Callback
		if err := json.NewDecoder(r.Body).Decode(&cb); err != nil || cb.URL == "" || !validMethod(cb.Method) {
			apiError(w, http.StatusBadRequest, "Invalid param")
			return
		}
		if cb.Method == "" {
			cb.Method = "POST"
		}
		cb.ID = id
		b.callbacks[idx] = cb
	case http.MethodDelete:
		b.callbacks = append(b.callbacks[:idx], b.callbacks[idx+1:]...)
	default:
		apiError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// String describes the bridge, for logs.
