package mqtt

import (
	"bufio"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// bufferedConn is a plain TCP connection to the broker that batches paho's system calls. paho
// reads every packet in at least three reads (the type byte, the length one byte at a time, then
// the rest) and writes every packet with its own write, each a system call on a bare connection:
// at QoS 1 a published message cost four, more CPU than anything the service does with a webhook
// (issue 20's profile). Reads now come from a buffer; writes are queued and written by one
// goroutine, which takes everything queued while it was writing in one call, so under load
// messages share system calls and TCP segments, and when idle each goes out at once, as before.
//
// TLS and WebSocket connections already read whole records or frames and are left to paho: only
// tcp:// and mqtt:// are wrapped.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	changed sync.Cond // signalled when the writer drained the queue, failed, or the conn closed
	queued  []byte    // written by paho, not yet to the socket
	spare   []byte    // the writer's last buffer, reused for the next queue
	writing bool      // the writer goroutine holds bytes it has not finished writing
	err     error     // the socket's first write error, returned by every later Write
	closed  bool
	kick    chan struct{}
}

// maxQueuedBytes bounds what paho can queue ahead of the socket; a Write waits beyond it. paho
// holds at most the outbox's in-flight messages, so this is reached only when the broker stops
// reading.
const maxQueuedBytes = 256 << 10

// closeFlushTimeout bounds how long Close waits for queued bytes (paho's DISCONNECT, typically)
// to reach a broker that stopped reading.
const closeFlushTimeout = time.Second

func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 4096), kick: make(chan struct{}, 1)}
	c.changed.L = &c.mu
	go c.writer()
	return c
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p whole and returns; an error is the socket's, from an earlier write.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for len(c.queued) >= maxQueuedBytes && c.err == nil && !c.closed {
		c.changed.Wait()
	}
	switch {
	case c.err != nil:
		c.mu.Unlock()
		return 0, c.err
	case c.closed:
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.queued = append(c.queued, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // the writer is already due to look
	}
	return len(p), nil
}

// writer writes whatever is queued, all of it in one call, until the conn is closed and drained
// or the socket fails.
func (c *bufferedConn) writer() {
	for range c.kick {
		c.mu.Lock()
		for len(c.queued) > 0 && c.err == nil {
			buf := c.queued
			c.queued, c.writing = c.spare[:0], true
			c.mu.Unlock()
			_, err := c.Conn.Write(buf)
			c.mu.Lock()
			c.writing = false
			c.spare = buf[:0]
			if cap(buf) > 2*maxQueuedBytes {
				c.spare = nil // let a burst's buffer go
			}
			if err != nil {
				c.err, c.queued = err, nil
			}
			c.changed.Broadcast()
		}
		done := c.closed || c.err != nil
		c.changed.Broadcast()
		c.mu.Unlock()
		if done {
			return
		}
	}
}

// Close writes what is queued (within closeFlushTimeout), then closes the connection.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.changed.Broadcast() // a Write waiting for room gives up
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.mu.Lock()
	for (len(c.queued) > 0 || c.writing) && c.err == nil {
		c.changed.Wait()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// plainTCP reports whether paho would open the broker URL as a bare TCP connection.
func plainTCP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && (u.Scheme == "tcp" || u.Scheme == "mqtt")
}

// dialBuffered opens the connection as paho's own tcp:// dial does (its dialer with the connect
// timeout, through a proxy named in the environment if any) and batches its system calls.
func dialBuffered(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	conn, err := proxy.FromEnvironmentUsing(o.Dialer).Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	return newBufferedConn(conn), nil
}
