package webhook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

const (
	fuzzSecret      = "fuzz-bearer-secret"
	fuzzCloudSecret = "fuzz-cloud-path-secret-0123"
	fuzzMaxBody     = 4096
)

// fuzzMethods are the methods FuzzHandler chooses from: the two webhooks use, and the others a
// client may send.
var fuzzMethods = []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete,
	http.MethodHead, http.MethodOptions, http.MethodPatch}

// fuzzStatuses are the only answers a webhook request may get from the server. Never 500: with a
// handler that does not fail, a 500 could only be a bug.
var fuzzStatuses = []int{http.StatusNoContent, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound,
	http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable}

// fuzzRecorder is an EventHandler and CloudHandler that records what reaches it and, like the
// core, refuses events it does not know.
type fuzzRecorder struct {
	mu     sync.Mutex
	bridge []string
	events []tedee.Event
	cloud  []tedee.CloudEvent
}

func (r *fuzzRecorder) HandleEvent(_ context.Context, bridge string, ev tedee.Event) (state.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bridge = append(r.bridge, bridge)
	r.events = append(r.events, ev)
	if !ev.Known() {
		return state.UnknownEvent, nil
	}
	return state.Applied, nil
}

func (r *fuzzRecorder) HandleCloudEvent(_ context.Context, ev tedee.CloudEvent, _ string) (state.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cloud = append(r.cloud, ev)
	if !ev.KnownCloud() {
		return state.UnknownEvent, nil
	}
	return state.Applied, nil
}

func (r *fuzzRecorder) take() (bridges []string, events []tedee.Event, cloud []tedee.CloudEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bridges, events, cloud = r.bridge, r.events, r.cloud
	r.bridge, r.events, r.cloud = nil, nil, nil
	return bridges, events, cloud
}

// fuzzServer is one configuration of the server under FuzzHandler.
type fuzzServer struct {
	name    string
	srv     *Server
	rec     *fuzzRecorder
	obs     *panicCounter
	secret  bool
	bridges []string
}

func newFuzzServer(f *testing.F, name string, opts Options) *fuzzServer {
	rec, obs := &fuzzRecorder{}, &panicCounter{}
	opts.Listen, opts.MaxBodyBytes, opts.Observer = "127.0.0.1:0", fuzzMaxBody, obs
	opts.Cloud, opts.CloudPathSecret = rec, fuzzCloudSecret
	opts.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	srv, err := New(opts, rec, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.ln.Close() }) // never served: requests go to the handler in-process
	bridges := opts.Bridges
	if len(bridges) == 0 {
		bridges = []string{DefaultBridge}
	}
	return &fuzzServer{name: name, srv: srv, rec: rec, obs: obs, secret: opts.Secret != "", bridges: bridges}
}

// FuzzHandler drives the real echo handler with fuzzed method, path, query, body and
// Authorization header, against a server with named bridges and no secret and one with a secret
// and the default bridge, both with the cloud route. Whatever the input: the answer is one of
// fuzzStatuses, an error answer is a JSON object with a non-empty "error", nothing panics, and
// an event reaches the handler only when answered 204, with a serial that is safe as a topic
// segment.
func FuzzHandler(f *testing.F) {
	servers := []*fuzzServer{
		newFuzzServer(f, "bridges", Options{Bridges: []string{"home", "office"}}),
		newFuzzServer(f, "secret", Options{Secret: fuzzSecret}),
	}
	seedHandler(f)
	f.Fuzz(func(t *testing.T, method uint8, path, query string, body []byte, auth string) {
		for _, s := range servers {
			// Each server reads a request of its own.
			req := fuzzRequest(fuzzMethods[int(method)%len(fuzzMethods)], path, query, body, auth)
			if req == nil {
				return // not HTTP: net/http answers 400 before any handler runs
			}
			checkHandler(t, s, req)
		}
	})
}

// fuzzRequest builds the request as net/http's server would read it off the wire, or nil when
// it would not parse.
func fuzzRequest(method, path, query string, body []byte, auth string) *http.Request {
	var raw bytes.Buffer
	target := path
	if query != "" {
		target += "?" + query
	}
	raw.WriteString(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
	if auth != "" {
		raw.WriteString("Authorization: " + auth + "\r\n")
	}
	raw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	raw.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return nil
	}
	req.RemoteAddr = "127.0.0.1:40000"
	return req
}

func checkHandler(t *testing.T, s *fuzzServer, req *http.Request) {
	t.Helper()
	w := httptest.NewRecorder()
	s.srv.http.Handler.ServeHTTP(w, req)
	status, body := w.Code, w.Body.Bytes()
	bridges, events, cloud := s.rec.take()
	where := func() string {
		return s.name + ": " + req.Method + " " + strconv.Quote(req.RequestURI) + " → " + strconv.Itoa(status) + " " + strconv.Quote(string(body))
	}
	if n := s.obs.panics.Load(); n != 0 {
		t.Fatalf("%s: %d panics recovered", where(), n)
	}
	s.obs.take()

	// Health, readiness and metrics are not webhooks: any 200 will do.
	route := echo.GetPath(req)
	if req.Method == http.MethodGet && (route == "/healthz" || route == "/readyz" || route == "/metrics") {
		if status != http.StatusOK {
			t.Fatalf("%s: want 200", where())
		}
		return
	}
	if !slices.Contains(fuzzStatuses, status) {
		t.Fatalf("%s: status not in %v", where(), fuzzStatuses)
	}
	if status != http.StatusNoContent {
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: error body is not a JSON object: %v", where(), err)
		}
		if msg, _ := e["error"].(string); msg == "" {
			t.Fatalf("%s: no \"error\" in the answer", where())
		}
	}

	if len(events)+len(cloud) > 1 || (len(events)+len(cloud) == 1 && status != http.StatusNoContent) {
		t.Fatalf("%s: %d events and %d cloud events reached the handler", where(), len(events), len(cloud))
	}
	scheme, token, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	if s.secret && len(events) > 0 && (!strings.EqualFold(scheme, "Bearer") || token != fuzzSecret) { // RFC 7235: any case
		t.Fatalf("%s: an event reached the handler without the secret", where())
	}
	for i, ev := range events {
		if !slices.Contains(s.bridges, bridges[i]) {
			t.Fatalf("%s: event attributed to bridge %q", where(), bridges[i])
		}
		switch {
		case ev.Name == tedee.EventBackendConnectionChanged:
		case !ev.Known():
			// The core refuses it (ErrUnknownEvent) and publishes nothing; it names no serial.
			if ev.Serial != "" {
				t.Fatalf("%s: unknown event %q with serial %q", where(), ev.Name, ev.Serial)
			}
		case !tedee.ValidSerial(ev.Serial):
			t.Fatalf("%s: event %q with unsafe serial %q reached the handler", where(), ev.Name, ev.Serial)
		}
	}
	for _, ev := range cloud {
		if !strings.HasPrefix(route, cloudPrefix+"/") || ev.Serial != "" || (ev.KnownCloud() && ev.DeviceID <= 0) {
			t.Fatalf("%s: cloud event %+v", where(), ev)
		}
	}
}

// seedHandler adds every bridge fixture in its three formats, to both a named bridge and the
// default one, every cloud fixture, and a few hostile shapes.
func seedHandler(f *testing.F) {
	const post, get = 0, 1
	auth := "Bearer " + fuzzSecret
	files, err := filepath.Glob(filepath.Join("..", "tedee", "testdata", "bridge", "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no bridge fixtures: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		fixture := strings.TrimRight(string(b), "\n")
		for _, prefix := range []string{"/webhook/home", "/webhook"} {
			switch filepath.Ext(file) {
			case ".json":
				f.Add(uint8(post), prefix, "", []byte(fixture), auth)
			case ".get":
				f.Add(uint8(get), prefix, strings.TrimPrefix(fixture, "?"), []byte(nil), auth)
			case ".noparams":
				f.Add(uint8(get), prefix+fixture, "", []byte(nil), auth)
			}
		}
	}
	clouds, err := filepath.Glob(filepath.Join("..", "tedee", "testdata", "cloud", "*.json"))
	if err != nil || len(clouds) == 0 {
		f.Fatalf("no cloud fixtures: %v", err)
	}
	for _, file := range clouds {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(post), "/webhook/cloud/"+fuzzCloudSecret, "", b, "")
	}
	lock := `{"event":"lock-status-changed","timestamp":"2023-07-25T14:41:48.825Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"S-1","state":6,"jammed":0}}`
	for _, s := range []struct {
		method      uint8
		path, query string
		body        string
	}{
		{post, "/webhook/home", "", strings.Replace(lock, "S-1", `a\u002fb`, 1)},
		{post, "/webhook/home", "", strings.Replace(lock, `"state":6`, `"state":1e400`, 1)},
		{post, "/webhook/home", "", strings.Replace(lock, `"deviceId":1`, `"deviceId":1180591620717411303424`, 1)},
		{post, "/webhook/home", "", strings.Repeat("[", 3000) + strings.Repeat("]", 3000)},
		{post, "/webhook/home", "", "{\"event\":\"\xff\xfe\",\"timestamp\":\"2023-07-25T14:41:48.825Z\"}"},
		{post, "/webhook/home", "", lock + "\x00"},
		{post, "/webhook/home/", "", lock},
		{post, "/webhook/cloud", "", lock},
		{post, "/webhook/cloud/", "", lock},
		{get, "/webhook/home/../healthz", "", ""},
		{get, "/webhook/%2e%2e/home", "event=lock-status-changed&timestamp=2023-07-25T14:41:48.825Z&serialNumber=S%2F1&state=6", ""},
		{get, "/webhook//home//event=device-connection-changed//timestamp=2023-07-25T14:41:48.825Z//serialNumber=S-1//isConnected=1", "", ""},
		{get, "/webhook/home/event=lock-status-changed/timestamp=2023-07-25T14:41:48.825Z/serialNumber=S%00/state=6", "", ""},
		{get, "/webhook/h%C3%B6me", "event=x&timestamp=y", ""},
		{get, "/webhook", "event=lock-status-changed&event=x&timestamp=2023-07-25T14:41:48.825Z", ""},
		{get, "/webhook/cloud/" + fuzzCloudSecret, "", ""},
		{get, "/healthz", "", ""},
	} {
		f.Add(s.method, s.path, s.query, []byte(s.body), auth)
	}
}
