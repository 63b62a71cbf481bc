package fakecloud

// The HTTP side: the version, the key, the limits and the scope are checked in that order, then
// the route's handler runs. Handlers run under the fake's lock and return what to answer; the
// answer is written after the lock is released, so a slow client holds up nobody.

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	version = "v37"
	// maxBody bounds a PATCH body; a lock update is a few hundred bytes.
	maxBody = 64 << 10
)

// Scopes of a personal access key.
const (
	ScopeDeviceRead      = "Device.Read"
	ScopeDeviceReadWrite = "Device.ReadWrite"
	ScopeActivityRead    = "DeviceActivity.Read"
	ScopeLockOperate     = "Lock.Operate"
)

var errTooLarge = errors.New("request body too large")

// response is what a handler answers: the envelope's result and status, or its error messages.
type response struct {
	status     int
	result     any
	errors     []string
	retryAfter int // seconds; 0: no Retry-After
	allow      string
}

func ok(status int, result any) response { return response{status: status, result: result} }

func fail(status int, format string, args ...any) response {
	return response{status: status, errors: []string{fmt.Sprintf(format, args...)}}
}

// call is one request as a handler sees it.
type call struct {
	now     time.Time
	q       query
	body    []byte
	bodyErr error
	ctype   string   // the request's Content-Type
	args    []string // the path's {…} segments, in order
}

// ServeHTTP serves /api/v37/....
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var bodyErr error
	if r.Method == http.MethodPatch {
		body, bodyErr = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if bodyErr == nil && len(body) > maxBody {
			bodyErr = errTooLarge
		}
	}
	c.mu.Lock()
	now := c.opts.Now() // under the lock, so requests are handled in the order of their times
	resp := c.handle(r, call{now: now, body: body, bodyErr: bodyErr, ctype: r.Header.Get("Content-Type")})
	c.corr++
	corr := c.corr
	c.requests = append(c.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: resp.status, At: now})
	if len(c.requests) > maxRequests {
		c.requests = append([]Request(nil), c.requests[len(c.requests)-maxRequests:]...)
	}
	c.mu.Unlock()
	c.write(w, resp, corr)
	c.notify()
}

func (c *Cloud) write(w http.ResponseWriter, resp response, corr uint64) {
	env := map[string]any{"success": resp.status < 400, "errorMessages": resp.errors, "statusCode": resp.status}
	if resp.errors == nil {
		env["errorMessages"] = []string{}
	}
	// The one documented failure body has no result; successes always have one.
	if resp.status < 400 {
		env["result"] = resp.result
	}
	out, err := json.Marshal(env)
	if err != nil {
		out = []byte(`{"success":false,"errorMessages":["internal error"],"statusCode":500}`)
		resp.status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	h.Set("X-Correlation-ID", fmt.Sprintf("fakecloud-%08d", corr))
	h.Set("API-Supported-Versions", strings.TrimPrefix(version, "v"))
	if resp.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(resp.retryAfter))
	}
	if resp.allow != "" {
		h.Set("Allow", resp.allow)
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(out)
}

// handle answers a request (c.mu held).
func (c *Cloud) handle(r *http.Request, a call) response {
	if a.now.Before(c.limited) {
		return tooMany(c.limited.Sub(a.now))
	}
	// Path names are case-insensitive; the only values in paths are numbers.
	rest, found := strings.CutPrefix(strings.ToLower(strings.TrimSuffix(r.URL.Path, "/")), "/api/")
	if !found {
		return fail(http.StatusNotFound, "Not found")
	}
	segs := strings.Split(rest, "/")
	if segs[0] != version {
		return fail(http.StatusNotFound, "API version %q is not supported; use %s", segs[0], version)
	}
	if !c.authorized(r) {
		return fail(http.StatusUnauthorized, "Unauthorized: send Authorization: PersonalKey <personal access key>")
	}
	if wait := c.limits.countHour(a.now, c.opts.RequestsPerHour); wait > 0 {
		return tooMany(wait)
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return fail(http.StatusBadRequest, "Invalid query string")
	}
	a.q = q
	c.advanceLocked(a.now)
	rt, args, allow := c.match(r.Method, segs[1:])
	switch {
	case rt == nil && allow == "":
		return fail(http.StatusNotFound, "Not found")
	case rt == nil:
		resp := fail(http.StatusMethodNotAllowed, "Method %s not allowed", r.Method)
		resp.allow = allow
		return resp
	case !c.hasScope(rt.scope):
		return fail(http.StatusForbidden, "Forbidden: the personal access key lacks the scope %s", rt.scope)
	case rt.lockList:
		if wait := c.limits.takeLockList(a.now); wait > 0 {
			return tooMany(wait)
		}
	}
	a.args = args
	return rt.serve(a)
}

func tooMany(wait time.Duration) response {
	resp := fail(http.StatusTooManyRequests, "Too many requests: the API rate limit was exceeded")
	resp.retryAfter = retryAfter(wait)
	return resp
}

// authorized checks the personal access key. The scheme is case-insensitive as in HTTP; the
// key is compared in constant time and never repeated in an answer.
func (c *Cloud) authorized(r *http.Request) bool {
	scheme, key, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "PersonalKey") || c.opts.Key == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(key), []byte(c.opts.Key)) == 1
}

func (c *Cloud) hasScope(need string) bool {
	if c.opts.Scopes == nil {
		return true
	}
	for _, s := range c.opts.Scopes {
		if strings.EqualFold(s, need) || (need == ScopeDeviceRead && strings.EqualFold(s, ScopeDeviceReadWrite)) {
			return true
		}
	}
	return false
}

// route is one endpoint: a pattern of lower-case segments where {…} stands for a value.
type route struct {
	method, pattern, scope string
	lockList               bool // counts against the GET /my/lock limit
	serve                  func(call) response
}

func (c *Cloud) routes() []route {
	return []route{
		{method: http.MethodGet, pattern: "my/device", scope: ScopeDeviceRead, serve: c.getDevices},
		{method: http.MethodGet, pattern: "my/device/details", scope: ScopeDeviceRead, serve: c.getDetails},
		{method: http.MethodGet, pattern: "my/device/operation/{operationId}", scope: ScopeDeviceRead, serve: c.getOperation},
		{method: http.MethodGet, pattern: "my/lock", scope: ScopeDeviceRead, lockList: true, serve: c.getLocks},
		{method: http.MethodPatch, pattern: "my/lock", scope: ScopeDeviceReadWrite, serve: c.patchLock},
		{method: http.MethodGet, pattern: "my/lock/sync", scope: ScopeDeviceRead, serve: c.getSync},
		{method: http.MethodGet, pattern: "my/lock/{id}", scope: ScopeDeviceRead, serve: c.getLock},
		{method: http.MethodGet, pattern: "my/lock/{id}/sync", scope: ScopeDeviceRead, serve: c.getSyncOne},
		{method: http.MethodPost, pattern: "my/lock/{id}/operation/lock", scope: ScopeLockOperate, serve: c.operate(opLock)},
		{method: http.MethodPost, pattern: "my/lock/{id}/operation/unlock", scope: ScopeLockOperate, serve: c.operate(opUnlock)},
		{method: http.MethodPost, pattern: "my/lock/{id}/operation/pull", scope: ScopeLockOperate, serve: c.operate(opPull)},
		{method: http.MethodGet, pattern: "my/deviceactivity", scope: ScopeActivityRead, serve: c.getActivity},
		{method: http.MethodGet, pattern: "my/doorsensor", scope: ScopeDeviceRead, serve: c.getDoorSensors},
		{method: http.MethodGet, pattern: "my/doorsensor/{id}", scope: ScopeDeviceRead, serve: c.getDoorSensor},
		{method: http.MethodGet, pattern: "my/bridge", scope: ScopeDeviceRead, serve: c.getBridges},
		{method: http.MethodGet, pattern: "my/bridge/{id}", scope: ScopeDeviceRead, serve: c.getBridge},
		{method: http.MethodGet, pattern: "my/keypad", scope: ScopeDeviceRead, serve: c.getKeypads},
		{method: http.MethodGet, pattern: "my/keypad/{id}", scope: ScopeDeviceRead, serve: c.getKeypad},
	}
}

// match finds the route for a method and path. Without one, allow lists the methods the path
// has (405), or is empty (404). A literal segment wins over {…}; {id} matches only a number.
func (c *Cloud) match(method string, segs []string) (*route, []string, string) {
	var allow []string
	for _, rt := range c.table {
		args, matched := matchPattern(rt.pattern, segs)
		if !matched {
			continue
		}
		if rt.method == method {
			return &rt, args, ""
		}
		allow = append(allow, rt.method)
	}
	return nil, nil, strings.Join(allow, ", ")
}

func matchPattern(pattern string, segs []string) ([]string, bool) {
	parts := strings.Split(pattern, "/")
	if len(parts) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, "{"): // ids and operation ids are numbers
			if _, err := strconv.ParseInt(segs[i], 10, 64); err != nil {
				return nil, false
			}
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

// query is a query string with its names in lower case (names are case-insensitive).
type query url.Values

func parseQuery(raw string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	q := query{}
	for k, vs := range v {
		q[strings.ToLower(k)] = append(q[strings.ToLower(k)], vs...)
	}
	return q, nil
}

func (q query) get(name string) string {
	if vs := q[strings.ToLower(name)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// flag reads a boolean parameter; absent is false.
func (q query) flag(name string) (bool, error) {
	s := q.get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(s))
	if err != nil {
		return false, fmt.Errorf("the value %q is not valid for %s", s, name)
	}
	return b, nil
}

// number reads an integer parameter within [lo, hi]; absent is def.
func (q query) number(name string, def, lo, hi int) (int, error) {
	s := q.get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// includes reads IncludeAccessories and IncludeUserSettings.
func (q query) includes() (include, error) {
	acc, err := q.flag("IncludeAccessories")
	if err != nil {
		return include{}, err
	}
	us, err := q.flag("IncludeUserSettings")
	return include{accessories: acc, userSettings: us}, err
}

func badRequest(err error) response { return fail(http.StatusBadRequest, "%s", err.Error()) }
