package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

const (
	// hostileTimeout bounds every hostile request: each must be answered promptly.
	hostileTimeout = 3 * time.Second
	// The service's http.Server timeouts (pkg/webhook), with slack for the race detector.
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	timeoutSlack      = 3 * time.Second
	hostileCloud      = "hostile-cloud-path-secret-0123"
)

// contractTopics are every topic the service may publish (the README's topic table and Home
// Assistant discovery), with serials and object ids that are safe topic segments.
var contractTopics = []*regexp.Regexp{
	regexp.MustCompile(`^tedee/status$`),
	regexp.MustCompile(`^tedee/[A-Za-z0-9_-]{1,64}/(state|battery|connected|charging|jammed|door|json|event|set/result|rssi|firmware)$`),
	// The operator API (contract §7) and a bridge's API diagnostics.
	regexp.MustCompile(`^tedee/bridge/(info|devices|response/[a-z_/]+)$`),
	regexp.MustCompile(`^tedee/[A-Za-z0-9_-]{1,64}/(api|last_sync|callback|clock_skew_ms)$`),
	regexp.MustCompile(`^homeassistant/[a-z_]+/[A-Za-z0-9_-]+/config$`),
}

// hostileRequest is one request written on its own connection exactly as given.
type hostileRequest struct {
	name string
	raw  []byte
	// also is a status allowed besides 2xx, 4xx and 503: net/http itself answers a transfer
	// coding it does not implement with 501, before any handler runs.
	also int
}

// build writes a request. Unless given in header, it adds Host, Connection: close, the bearer
// token (auth) and Content-Length (when there is a body); chunked sends the body chunked instead.
func build(method, target string, body []byte, auth, chunked bool, header ...string) []byte {
	var b bytes.Buffer
	b.WriteString(method + " " + target + " HTTP/1.1\r\n")
	has := func(name string) bool {
		for i := 0; i+1 < len(header); i += 2 {
			if strings.EqualFold(header[i], name) {
				return true
			}
		}
		return false
	}
	if !has("Host") {
		b.WriteString("Host: 127.0.0.1\r\n")
	}
	b.WriteString("Connection: close\r\n")
	if auth && !has("Authorization") {
		b.WriteString("Authorization: Bearer " + testSecret + "\r\n")
	}
	for i := 0; i+1 < len(header); i += 2 {
		b.WriteString(header[i] + ": " + header[i+1] + "\r\n")
	}
	switch {
	case chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 4096)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	case body != nil && !has("Content-Length"):
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// exchange writes raw on a new connection and reads the answer, all within timeout.
func exchange(addr string, raw []byte, timeout time.Duration) (int, string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, "", err
	}
	// Written beside the read: the server may answer (413, 431) before taking the whole request.
	go func() { _, _ = conn.Write(raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(body), nil
}

// jsonObject writes a JSON object with the given raw values, keys in the given order.
func jsonObject(keys []string, values map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(k) + ":" + values[k])
	}
	b.WriteByte('}')
	return b.String()
}

// fields splits a fixture's JSON into its top-level and data fields, raw, in a stable order.
func fields(t *testing.T, body string) (top map[string]string, topKeys []string, data map[string]string, dataKeys []string) {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(raw["data"], &d); err != nil {
		t.Fatal(err)
	}
	top, data = map[string]string{}, map[string]string{}
	for k, v := range raw {
		top[k] = string(v)
		topKeys = append(topKeys, k)
	}
	for k, v := range d {
		data[k] = string(v)
		dataKeys = append(dataKeys, k)
	}
	slices.Sort(topKeys)
	slices.Sort(dataKeys)
	return top, topKeys, data, dataKeys
}

// badValues replace each field in turn: wrong types, invalid UTF-8, huge and odd numbers.
var badValues = []string{`null`, `true`, `"x"`, `""`, `[]`, `{}`, `[1]`, `1.5`, `-1`, `1e400`, `-1e400`, `1e-400`,
	`1180591620717411303424`, `-1180591620717411303424`, `"1180591620717411303424"`, "\"\xff\xfe\"", "\"a\xc0\xafb\"",
	`"\ud800"`, `"a\u0000b"`}

// hostileRequests are the crafted requests: at least one of each kind the issue lists.
func hostileRequests(t *testing.T) []hostileRequest {
	var reqs []hostileRequest
	add := func(name string, raw []byte) { reqs = append(reqs, hostileRequest{name: name, raw: raw}) }
	post := func(name, target, body string, header ...string) {
		add(name, build("POST", target, []byte(body), true, false, header...))
	}
	get := func(name, target string, header ...string) {
		add(name, build("GET", target, nil, true, false, header...))
	}

	// Wrong types, invalid UTF-8 and huge numbers in every field of every bridge event (POST).
	for _, ev := range eventOrder {
		top, topKeys, data, dataKeys := fields(t, fixture(t, ev+".json", "H-1"))
		for _, bad := range badValues {
			for _, k := range topKeys {
				values := maps.Clone(top)
				values[k] = bad
				post(fmt.Sprintf("POST %s %s=%q", ev, k, bad), "/webhook/home", jsonObject(topKeys, values))
			}
			for _, k := range dataKeys {
				values := maps.Clone(data)
				values[k] = bad
				all := maps.Clone(top)
				all["data"] = jsonObject(dataKeys, values)
				post(fmt.Sprintf("POST %s data.%s=%q", ev, k, bad), "/webhook/home", jsonObject(topKeys, all))
			}
		}
		// Invalid UTF-8 in a key, and a key that is all NULs.
		all := maps.Clone(top)
		all["data"] = strings.Replace(top["data"], "{", "{\"\xff\xfe\":1,\"\x00\x00\":2,", 1)
		post("POST "+ev+" invalid UTF-8 keys", "/webhook/home", jsonObject(topKeys, all))
	}

	// Invalid UTF-8 and odd values in every field of the GET and GET+NO_PARAMS formats.
	for _, ev := range []string{"lock-status-changed", "device-battery-level-changed", "device-connection-changed"} {
		query := strings.TrimPrefix(fixture(t, ev+".get", "H-2"), "?")
		path := fixture(t, ev+".noparams", "H-3")
		for _, bad := range []string{"%FF%FE", "\xff\xfe", "%C0%AF", "%2F", "%00", "%", "1180591620717411303424", "1e400", "%E2%88%95"} {
			for _, pair := range strings.Split(query, "&") {
				key, _, _ := strings.Cut(pair, "=")
				get(fmt.Sprintf("GET %s %s=%q", ev, key, bad), "/webhook/home?"+strings.Replace(query, pair, key+"="+bad, 1))
			}
			for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
				key, _, _ := strings.Cut(seg, "=")
				get(fmt.Sprintf("GET+NO_PARAMS %s %s=%q", ev, key, bad), "/webhook/home"+strings.Replace(path, seg, key+"="+bad, 1))
			}
		}
	}

	// Deep nesting, at the top, in data, and in a cloud webhook.
	lock := fixture(t, "lock-status-changed.json", "H-4")
	deepArray := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObject := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	post("10,000 nested arrays", "/webhook/home", deepArray)
	post("10,000 nested objects", "/webhook/home", deepObject)
	post("10,001 nested arrays", "/webhook/home", "["+deepArray+"]")
	post("10,000 nested arrays in data", "/webhook/home", strings.Replace(lock, `"data": {`, `"data": {"deep":`+deepArray+`,`, 1))
	post("10,000 nested arrays as the event", "/webhook/home", strings.Replace(lock, `"lock-status-changed"`, deepArray, 1))
	post("10,000 unclosed arrays", "/webhook/home", strings.Repeat("[", 10000))
	post("100,000 nested arrays (too large)", "/webhook/home", strings.Repeat("[", 100000)+strings.Repeat("]", 100000))
	post("cloud: 10,000 nested objects in data", "/webhook/cloud/"+hostileCloud,
		`{"event":"lock-status-changed","timestamp":"2022-11-09T14:15:30.244Z","data":{"deviceId":1,"eventTime":"2022-11-09T14:15:28.327Z","state":6,"x":`+deepObject+`}}`)
	post("cloud: invalid UTF-8", "/webhook/cloud/"+hostileCloud,
		"{\"event\":\"lock-status-changed\xff\",\"timestamp\":\"2022-11-09T14:15:30.244Z\xfe\",\"data\":{\"deviceId\":1,\"eventTime\":\"\xff\",\"state\":6}}")
	post("cloud: huge device id", "/webhook/cloud/"+hostileCloud,
		`{"event":"lock-status-changed","timestamp":"2022-11-09T14:15:30.244Z","data":{"deviceId":1180591620717411303424,"eventTime":"2022-11-09T14:15:28.327Z","state":6}}`)

	// Odd timestamps.
	for _, ts := range []string{"99999-12-31T23:59:59Z", "0000-00-00T00:00:00Z", "2023-07-25T14:41:48.825+99:99",
		"2023-07-25T14:41:48." + strings.Repeat("9", 5000) + "Z", "-2023-07-25T14:41:48Z", "9223372036854775807"} {
		post("timestamp "+ts[:min(len(ts), 40)], "/webhook/home", strings.Replace(lock, "2023-07-25T14:41:48.825Z", ts, 1))
	}

	// Many parameters and path segments.
	get("10,000 query parameters", "/webhook/home?"+strings.Repeat("&", 10000))
	get("10,000 named query parameters", "/webhook/home?"+strings.Repeat("a&", 10000))
	get("10,000 repeated events", "/webhook/home?"+strings.Repeat("event=x&", 10000))
	get("10,000 empty path segments", "/webhook/home"+strings.Repeat("/", 10000))
	get("10,000 path segments", "/webhook/home"+strings.Repeat("/a", 10000))
	get("3,000 pair segments", "/webhook/home"+strings.Repeat("/a=1", 3000))

	// Path tricks.
	for _, target := range []string{
		"/webhook/../healthz", "/webhook/home/../../metrics", "/webhook/%2e%2e/home", "/webhook/home%2F..%2F..%2Fhealthz",
		"/webhook/home%2Fevil", "/webhook/home%00", "/webhook/%00", "/webhook//home", "//webhook/home", "/webhook/home//",
		"/webhook/home\xe2\x88\x95evil", "/webhook/home%E2%88%95evil", "/webhook/home%EF%BC%8Fevil", "/webhook/%C0%AF",
		"/webhook/%C0%AE%C0%AE/home", "/webhook/home\\..\\healthz", "/webhook/cloud/../home", "/webhook/cloud/%2e%2e/home",
		"/webhook/cloud/" + hostileCloud + "%2F..", "/webhook/CLOUD/" + hostileCloud, "/webhook/cloud//" + hostileCloud,
		"/webhook/%zz", "/webhook/home?%zz", "/webhook/home?event=%", "http://evil.example/webhook/home", "/webhook/" + strings.Repeat("h", 8000),
		"/webhook/home/" + strings.Repeat("%2F", 3000), "/webhook/home#fragment", "/webhook/home?event=lock-status-changed#x",
		"/webhook/home/event=lock-status-changed/timestamp=2023-07-25T14:41:48.825Z/serialNumber=..%2F..%2Fx/state=6",
		"/webhook/home?event=lock-status-changed&timestamp=2023-07-25T14:41:48.825Z&serialNumber=%2B%23&state=6",
	} {
		get("path "+strconv.Quote(target[:min(len(target), 60)]), target)
		post("POST path "+strconv.Quote(target[:min(len(target), 60)]), target, lock)
	}
	add("OPTIONS *", build("OPTIONS", "*", nil, true, false))
	add("CONNECT", build("CONNECT", "127.0.0.1:1883", nil, true, false))

	// Oversized bodies: announced, chunked, lying, and with impossible lengths.
	big := bytes.Repeat([]byte(" "), 1<<20)
	bigLock := append([]byte(lock), big...)
	add("1 MiB body with Content-Length", build("POST", "/webhook/home", bigLock, true, false))
	add("1 MiB body chunked", build("POST", "/webhook/home", bigLock, true, true))
	add("1 MiB body to the cloud route", build("POST", "/webhook/cloud/"+hostileCloud, bigLock, true, true))
	add("1 MiB body, no length, HTTP/1.0", append([]byte("POST /webhook/home HTTP/1.0\r\nAuthorization: Bearer "+testSecret+"\r\n\r\n"), bigLock...))
	add("64 KiB + 1 chunked", build("POST", "/webhook/home", append([]byte(lock), bytes.Repeat([]byte(" "), 65537-len(lock))...), true, true))
	add("Content-Length 10^18", build("POST", "/webhook/home", []byte(lock), true, false, "Content-Length", "1000000000000000000"))
	add("Content-Length 2^70", build("POST", "/webhook/home", []byte(lock), true, false, "Content-Length", "1180591620717411303424"))
	add("Content-Length -1", build("POST", "/webhook/home", []byte(lock), true, false, "Content-Length", "-1"))
	add("two Content-Lengths", build("POST", "/webhook/home", []byte(lock), true, false, "Content-Length", "10", "Content-Length", "20"))
	add("Content-Length and chunked", build("POST", "/webhook/home", []byte(lock), true, true, "Content-Length", "5"))
	add("Content-Length shorter than the body", build("POST", "/webhook/home", []byte(lock), true, false, "Content-Length", "10"))
	add("bad chunk size", []byte("POST /webhook/home HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+testSecret+
		"\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n"+lock+"\r\n0\r\n\r\n"))
	reqs = append(reqs, hostileRequest{"Transfer-Encoding gzip",
		build("POST", "/webhook/home", []byte(lock), true, false, "Transfer-Encoding", "gzip"), http.StatusNotImplemented})

	// Bad methods.
	for _, m := range []string{"PUT", "DELETE", "PATCH", "TRACE", "HEAD", "OPTIONS", "FOO", "get", "POST\xff", strings.Repeat("P", 1000)} {
		add("method "+strconv.Quote(m[:min(len(m), 20)]), build(m, "/webhook/home", []byte(lock), true, false))
	}
	add("method with a space", []byte("G ET /webhook/home HTTP/1.1\r\nHost: x\r\n\r\n"))
	add("no method", []byte(" /webhook/home HTTP/1.1\r\nHost: x\r\n\r\n"))
	add("binary garbage", append(append([]byte{0, 1, 2, 0xff, 0xfe}, bytes.Repeat([]byte{0x80}, 1000)...), "\r\n\r\n"...))

	// Huge and odd headers.
	post("14 KiB Authorization", "/webhook/home", lock, "Authorization", "Bearer "+strings.Repeat("A", 14<<10))
	post("100 KiB Authorization", "/webhook/home", lock, "Authorization", "Bearer "+strings.Repeat("A", 100<<10))
	post("10 KiB X-Request-Id", "/webhook/home", lock, "X-Request-Id", strings.Repeat("r", 10<<10))
	post("invalid UTF-8 X-Request-Id", "/webhook/home", lock, "X-Request-Id", "\xff\xfe")
	post("invalid UTF-8 Content-Type", "/webhook/home", lock, "Content-Type", "application/json; charset=\xff")
	post("invalid UTF-8 Idempotency-Key", "/webhook/cloud/"+hostileCloud, cloudFixture(t, "lock-status-changed"), "Idempotency-Key", "\xff"+strings.Repeat("k", 4000))
	post("huge Host", "/webhook/home", lock, "Host", strings.Repeat("h", 12<<10))
	var many []string
	for i := range 2000 {
		many = append(many, fmt.Sprintf("X-H%d", i), "v")
	}
	post("2,000 headers", "/webhook/home", lock, many...)
	post("header with NUL", "/webhook/home", lock, "X-Nul", "a\x00b")

	// Wrong or missing bearer token (the secret is set).
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Beare " + testSecret, "Bearer  " + testSecret,
		"Bearer " + testSecret + "\x00", "Bearer " + testSecret + "x", "Basic " + testSecret, testSecret,
		"Bearer \xff\xfe", "Bearer " + strings.ToUpper(testSecret)} {
		if auth == "" {
			add("no Authorization", build("POST", "/webhook/home", []byte(fixture(t, "lock-status-changed.json", "NOAUTH")), false, false))
			continue
		}
		post("Authorization "+strconv.Quote(auth), "/webhook/home", fixture(t, "lock-status-changed.json", "NOAUTH"), "Authorization", auth)
	}
	add("right token second", build("POST", "/webhook/home", []byte(fixture(t, "lock-status-changed.json", "NOAUTH")), false, false,
		"Authorization", "Bearer wrong", "Authorization", "Bearer "+testSecret))
	return reqs
}

// TestHostileInput throws hundreds of crafted requests, slow clients among them, at the real
// service on a real broker: every request is answered promptly with a 2xx or 4xx (503 only for
// the concurrency cap), nothing panics, the service stays up and serves others meanwhile, and
// nothing is published outside the contract's topics.
func TestHostileInput(t *testing.T) {
	began := time.Now()
	b := brokertest.Start(t)
	rec := brokertest.NewRecorder(t, b.URL(), "#")
	svc := startService(t, b.URL(), "bridges:\n  - name: home\ncloud:\n  enabled: true\n  path_secret: "+hostileCloud+
		"\n  devices:\n    \"12345\": CLOUD-H\n", "TEDEE2MQTT_HTTP_SECRET="+testSecret)
	addr := strings.TrimPrefix(svc.base, "http://")

	// Slow clients first, so that everything below runs while they hang on.
	var slow sync.WaitGroup
	slowHeaders := make(chan time.Duration, 10)
	for range cap(slowHeaders) {
		slow.Add(1)
		go func() {
			defer slow.Done()
			slowHeaders <- hangUp(t, addr, []byte("POST /webhook/home HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthori"), 0)
		}()
	}
	slowBody := make(chan time.Duration, 1)
	slow.Add(1)
	go func() {
		defer slow.Done()
		head := fmt.Appendf(nil, "POST /webhook/home HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n", testSecret)
		slowBody <- hangUp(t, addr, head, 250*time.Millisecond)
	}()

	reqs := hostileRequests(t)
	if len(reqs) < 100 {
		t.Fatalf("only %d hostile requests", len(reqs))
	}
	statuses := map[int]int{}
	var slowest time.Duration
	for _, r := range reqs {
		start := time.Now()
		status, body, err := exchange(addr, r.raw, hostileTimeout)
		elapsed := time.Since(start)
		slowest = max(slowest, elapsed)
		if err != nil {
			t.Errorf("%s: no answer within %s: %v", r.name, hostileTimeout, err)
			continue
		}
		statuses[status]++
		if !(status >= 200 && status < 300 || status >= 400 && status < 500 || status == http.StatusServiceUnavailable || status == r.also) {
			t.Errorf("%s: %d %q", r.name, status, body[:min(len(body), 200)])
		}
	}
	t.Logf("%d hostile requests, slowest answer %s, statuses %v", len(reqs), slowest.Round(time.Millisecond), statuses)

	// While the slow clients hang on, others are served promptly.
	slowDone := make(chan struct{})
	go func() { slow.Wait(); close(slowDone) }()
	probes := 0
	for deadline := time.Now().Add(readTimeout + 2*timeoutSlack); probes < 100 && time.Now().Before(deadline); probes++ {
		start := time.Now()
		status, body, err := exchange(addr, build("GET", "/healthz", nil, false, false), time.Second)
		if err != nil || status != http.StatusOK {
			t.Errorf("/healthz while slow clients hang on: %d %q %v", status, body, err)
		}
		status, body, err = exchange(addr, build("POST", "/webhook/home", []byte(fixture(t, "device-battery-level-changed.json", "PROBE")), true, false), time.Second)
		if err != nil || status != http.StatusNoContent {
			t.Errorf("webhook while slow clients hang on: %d %q %v", status, body, err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("probe took %s while slow clients hang on", elapsed)
		}
		select {
		case <-slowDone:
			deadline = time.Time{}
		case <-time.After(200 * time.Millisecond):
		}
	}
	<-slowDone
	close(slowHeaders)
	for d := range slowHeaders {
		t.Logf("partial request line held for %s", d.Round(time.Millisecond))
		if d > readHeaderTimeout+timeoutSlack {
			t.Errorf("a connection with a partial request line was held for %s, want about %s", d, readHeaderTimeout)
		}
	}
	d := <-slowBody
	t.Logf("dripping body held for %s", d.Round(time.Millisecond))
	if d > readTimeout+timeoutSlack {
		t.Errorf("a connection dripping its body was held for %s, want about %s", d, readTimeout)
	}

	// Still up, and nothing panicked or failed.
	if status, body := request(t, "GET", svc.base+"/healthz", ""); status != http.StatusOK {
		t.Fatalf("/healthz after the hostile requests: %d %s", status, body)
	}
	select {
	case <-svc.exited:
		t.Fatalf("the service exited: %v", svc.err)
	default:
	}
	_, metrics := request(t, "GET", svc.base+"/metrics", "")
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "tedee2mqtt_http_panics_total ") && line != "tedee2mqtt_http_panics_total 0" {
			t.Errorf("panics: %s", line)
		}
		if strings.HasPrefix(line, "tedee2mqtt_webhooks_total{") && strings.Contains(line, `outcome="error"`) {
			t.Errorf("webhooks failed: %s", line)
		}
	}
	if !strings.Contains(metrics, "\ntedee2mqtt_http_panics_total 0\n") {
		t.Errorf("tedee2mqtt_http_panics_total is not exported as 0")
	}

	// Messages arrive in order, so once a marker's event is seen, everything the hostile requests
	// published has been recorded.
	if status, body := send(t, svc.base, "home", "lock-status-changed.json", "MARKER", "Authorization", "Bearer "+testSecret); status != http.StatusNoContent {
		t.Fatalf("marker: %d %s", status, body)
	}
	rec.WaitUntil(t, waitTimeout, "the marker event", func(msgs []brokertest.Message) bool {
		return slices.ContainsFunc(msgs, func(m brokertest.Message) bool { return m.Topic == "tedee/MARKER/event" })
	})
	seen := map[string]bool{}
	for _, m := range rec.Messages() {
		if seen[m.Topic] {
			continue
		}
		seen[m.Topic] = true
		if !slices.ContainsFunc(contractTopics, func(re *regexp.Regexp) bool { return re.MatchString(m.Topic) }) {
			t.Errorf("published outside the contract: %q = %q", m.Topic, m.Payload[:min(len(m.Payload), 200)])
		}
	}
	for _, topic := range []string{"tedee/NOAUTH/state", "tedee/NOAUTH/event"} {
		if seen[topic] {
			t.Errorf("a request without the right token published %s", topic)
		}
	}
	t.Logf("%d distinct topics published, all within the contract; test took %s", len(seen), time.Since(began).Round(time.Millisecond))
}

// hangUp writes head and then nothing (drip 0) or one more byte every drip, and returns how long
// the server kept the connection before closing it (or answering). It gives up after
// readTimeout + 2*timeoutSlack.
func hangUp(t *testing.T, addr string, head []byte, drip time.Duration) time.Duration {
	conn, err := net.DialTimeout("tcp", addr, hostileTimeout)
	if err != nil {
		t.Errorf("dial: %v", err)
		return 0
	}
	defer conn.Close()
	start := time.Now()
	limit := readTimeout + 2*timeoutSlack
	if err := conn.SetDeadline(start.Add(limit)); err != nil {
		t.Error(err)
		return 0
	}
	if _, err := conn.Write(head); err != nil {
		t.Errorf("write: %v", err)
		return 0
	}
	done := make(chan struct{})
	defer close(done)
	if drip > 0 {
		go func() {
			for i := 0; i < int(limit/drip); i++ {
				select {
				case <-done:
					return
				case <-time.After(drip):
				}
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
	}
	// Whatever the server says (a 400 or 408, or nothing), what counts is when it lets go.
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the server still held the connection after %s", limit)
	}
	return time.Since(start)
}
