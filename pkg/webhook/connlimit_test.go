package webhook

import (
	"bufio"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialFrom opens a connection to addr from a loopback source address of our choice.
func dialFrom(t *testing.T, source, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slowClient starts a request it never finishes: it holds a connection, as a slow body would.
func slowClient(t *testing.T, source, addr string) net.Conn {
	t.Helper()
	c := dialFrom(t, source, addr)
	if _, err := c.Write([]byte("POST /webhook/home HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	return c
}

// webhookFrom sends one webhook from source and returns its status (0: the connection failed).
func webhookFrom(t *testing.T, source, addr, body string) int {
	t.Helper()
	c := dialFrom(t, source, addr)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "POST /webhook/home HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := c.Write([]byte(req)); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// One source's slow clients hold at most its share of connections: another source's webhook is
// served while they hang on, and the source gets its place back once one of them goes.
func TestConnectionsPerSource(t *testing.T) {
	obs := &connCounter{}
	base := start(t, Options{Bridges: []string{"home"}, MaxConnsPerIP: 3, MaxConns: 100, Observer: obs}, &recorder{})
	addr := strings.TrimPrefix(base, "http://")
	body := fixture(t, "lock-status-changed.json")
	var held []net.Conn
	for range 3 {
		held = append(held, slowClient(t, "127.0.0.1", addr))
	}
	if status := webhookFrom(t, "127.0.0.1", addr, body); status != http.StatusServiceUnavailable {
		t.Errorf("fourth connection from the same source: %d, want 503", status)
	}
	if status := webhookFrom(t, "127.0.0.2", addr, body); status != http.StatusNoContent {
		t.Errorf("webhook from another source while the slow clients hang on: %d, want 204", status)
	}
	if got := obs.get(); got[LimitSource] != 1 || got[LimitTotal] != 0 {
		t.Errorf("refusals counted %v, want one over the source limit", got)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for status := 0; status != http.StatusNoContent; status = webhookFrom(t, "127.0.0.1", addr, body) {
		if time.Now().After(deadline) {
			t.Fatalf("the source did not get its place back after closing a connection: %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Connections in all are bounded too (below the file descriptor limit), whatever the sources.
func TestConnectionsInAll(t *testing.T) {
	base := start(t, Options{Bridges: []string{"home"}, MaxConnsPerIP: 10, MaxConns: 4}, &recorder{})
	addr := strings.TrimPrefix(base, "http://")
	for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		slowClient(t, src, addr)
	}
	if status := webhookFrom(t, "127.0.0.5", addr, fixture(t, "lock-status-changed.json")); status != http.StatusServiceUnavailable {
		t.Errorf("a connection beyond the total: %d, want 503", status)
	}
}

func TestRemoteIPGroupsIPv6By64(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:1234":              "192.0.2.7",
		"[::ffff:192.0.2.7]:1234":     "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:1234": "2001:db8:1:2::",
		"[2001:db8:1:2:bbbb::9]:80":   "2001:db8:1:2::",
		"[2001:db8:1:3::1]:80":        "2001:db8:1:3::",
		"[::1]:80":                    "::",
		"[fe80::1%eth0]:80":           "fe80::",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := remoteIP(a).String(); got != want {
			t.Errorf("remoteIP(%s) = %s, want %s", addr, got, want)
		}
	}
}

// connCounter is an Observer that counts refused connections by limit.
type connCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *connCounter) Webhook(string, string, string) {}

func (c *connCounter) ConnRefused(limit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[limit]++
}

func (c *connCounter) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}
