package fakecloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "smnxaz.IWA6u00VLQmA8tlfioDXcH+bSiI6u8LgTG9cv3Evh/E" // the documented example's form

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start0 is a test's starting time: a Tuesday morning, UTC, mid-hour.
func start0() time.Time { return time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC) }

// server is a fake cloud served on loopback.
type server struct {
	t     *testing.T
	cloud *Cloud
	url   string
	key   string
}

func newServer(t *testing.T, opts Options) *server {
	t.Helper()
	if opts.Key == "" {
		opts.Key = testKey
	}
	c := New(opts)
	srv := httptest.NewServer(c)
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return &server{t: t, cloud: c, url: srv.URL, key: opts.Key}
}

// envelope is Tedee's response envelope, with the result left raw.
type envelope struct {
	Result        json.RawMessage `json:"result"`
	Success       bool            `json:"success"`
	ErrorMessages []string        `json:"errorMessages"`
	StatusCode    int             `json:"statusCode"`
}

// answer is one response.
type answer struct {
	status int
	header http.Header
	env    envelope
	raw    []byte
}

// result decodes the envelope's result into v.
func (a answer) result(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.env.Result, v); err != nil {
		t.Fatalf("decode result %s: %v", a.env.Result, err)
	}
}

// get sends a GET with the server's key to /api/v37 + path.
func (s *server) get(path string) answer {
	s.t.Helper()
	return s.do(http.MethodGet, "/api/v37"+path, nil, "PersonalKey "+s.key)
}

func (s *server) post(path string) answer {
	s.t.Helper()
	return s.do(http.MethodPost, "/api/v37"+path, nil, "PersonalKey "+s.key)
}

func (s *server) patch(body string) answer {
	s.t.Helper()
	return s.do(http.MethodPatch, "/api/v37/my/lock", strings.NewReader(body), "PersonalKey "+s.key)
}

// patchWithType sends a PATCH /my/lock with that Content-Type ("" for none).
func (s *server) patchWithType(ctype, body string) answer {
	s.t.Helper()
	return s.send(http.MethodPatch, "/api/v37/my/lock", strings.NewReader(body), "PersonalKey "+s.key, ctype)
}

// do sends a request and checks what every answer must be: the envelope, with the HTTP status
// equal to its statusCode, success true exactly below 400, and errorMessages a list.
func (s *server) do(method, path string, body io.Reader, auth string) answer {
	s.t.Helper()
	ctype := ""
	if body != nil {
		ctype = "application/json"
	}
	return s.send(method, path, body, auth, ctype)
}

func (s *server) send(method, path string, body io.Reader, auth, ctype string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		s.t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
	}
	if err := json.Unmarshal(raw, &a.env); err != nil {
		s.t.Fatalf("%s %s: body %s is not an envelope: %v", method, path, raw, err)
	}
	if a.env.StatusCode != resp.StatusCode || a.env.Success != (resp.StatusCode < 400) || a.env.ErrorMessages == nil {
		s.t.Errorf("%s %s: HTTP %d with envelope %s", method, path, resp.StatusCode, raw)
	}
	if _, has := fields["result"]; has != (resp.StatusCode < 400) {
		s.t.Errorf("%s %s: HTTP %d, result present %v: %s", method, path, resp.StatusCode, has, raw)
	}
	if resp.StatusCode >= 400 && len(a.env.ErrorMessages) == 0 {
		s.t.Errorf("%s %s: HTTP %d without an error message", method, path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return a
}

// wantStatus fails unless the answer has that status.
func (a answer) wantStatus(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	return a
}

// readExample reads a documented example body from testdata.
func readExample(t *testing.T, name string) any {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// sameShape reports every difference in shape between a documented example and an answer:
// objects must have the same keys, and values the same JSON type unless either is null. Arrays
// are compared element by element with the example's first element.
func sameShape(want, got any) []string {
	var diffs []string
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		if w == nil || g == nil {
			return
		}
		switch wv := w.(type) {
		case map[string]any:
			gv, isObj := g.(map[string]any)
			if !isObj {
				diffs = append(diffs, fmt.Sprintf("%s: %T, want an object", path, g))
				return
			}
			keys := map[string]bool{}
			for k := range wv {
				keys[k] = true
			}
			for k := range gv {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				wk, inW := wv[k]
				gk, inG := gv[k]
				switch {
				case !inG:
					diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				case !inW:
					diffs = append(diffs, fmt.Sprintf("%s.%s: not in the example", path, k))
				default:
					walk(path+"."+k, wk, gk)
				}
			}
		case []any:
			gv, isArr := g.([]any)
			if !isArr {
				diffs = append(diffs, fmt.Sprintf("%s: %T, want an array", path, g))
				return
			}
			if len(wv) > 0 {
				for i, e := range gv {
					walk(fmt.Sprintf("%s[%d]", path, i), wv[0], e)
				}
			}
		default:
			if fmt.Sprintf("%T", w) != fmt.Sprintf("%T", g) {
				diffs = append(diffs, fmt.Sprintf("%s: %T %v, want %T like %v", path, g, g, w, w))
			}
		}
	}
	walk("", want, got)
	return diffs
}

// decode parses an answer's whole body.
func (a answer) decode(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.NewDecoder(bytes.NewReader(a.raw)).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkShape compares an answer's whole body with a documented example.
func checkShape(t *testing.T, example string, a answer) {
	t.Helper()
	for _, d := range sameShape(readExample(t, example), a.decode(t)) {
		t.Errorf("%s: %s", example, d)
	}
}

// proLock is a connected Lock PRO on bridge 2, as in the documented examples.
func proLock() Lock {
	return Lock{ID: 1, Serial: "111111-11111", Name: "Room 6", Type: 2, BridgeID: 2, Connected: true, State: 6,
		DoorState: 3, Battery: 18, Firmware: "1.0.0", UpdateAvailable: true,
		Settings: Settings{AutoLock: true, AutoLockDelay: 10, PullSpring: true, PullSpringDuration: 10, AutoPull: false,
			ButtonLock: true, ButtonUnlock: true, PostponedLockDelay: 10}}
}

func testBridge() Bridge {
	return Bridge{ID: 2, Serial: "111111-111112", Name: "Bridge 1", Connected: true, Firmware: "1.0.1", UpdateAvailable: true}
}

// withLocks adds the test bridge and the locks.
func (s *server) withLocks(locks ...Lock) *server {
	s.cloud.AddBridge(testBridge())
	for _, l := range locks {
		s.cloud.AddLock(l)
	}
	return s
}
