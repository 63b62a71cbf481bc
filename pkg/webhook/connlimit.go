package webhook

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// refusedAnswer is what a connection over a limit gets before it is closed: a bridge retries a
// 503, and a person with curl learns why.
const refusedAnswer = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: application/json\r\n" +
	"Content-Length: 37\r\n\r\n{\"error\":\"too many open connections\"}"

// refusedWriteTimeout bounds the time spent telling a refused client why: it may not read.
const refusedWriteTimeout = 100 * time.Millisecond

// limitedListener bounds the connections open at once: per source address, so that one host's
// slow clients cannot hold every webhook slot, and in all, below the process's file descriptor
// limit, so that a flood of connections is refused early instead of making accept (and the
// broker connection, and state.json) fail for want of descriptors. A connection over a limit is
// answered 503 and closed at once, before anything is read from it.
type limitedListener struct {
	net.Listener
	perIP, total int
	log          *zap.Logger

	mu      sync.Mutex
	open    map[netip.Addr]int
	n       int
	refused atomic.Uint64
	warned  atomic.Int64 // unix seconds of the last warning, so that a flood logs once a minute
}

func newLimitedListener(ln net.Listener, perIP, total int, log *zap.Logger) *limitedListener {
	return &limitedListener{Listener: ln, perIP: perIP, total: total, log: log, open: map[netip.Addr]int{}}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		l.mu.Lock()
		over := ""
		switch {
		case l.n >= l.total:
			over = "all sources"
		case l.open[ip] >= l.perIP:
			over = "one source"
		default:
			l.n++
			l.open[ip]++
		}
		l.mu.Unlock()
		if over == "" {
			return &limitedConn{Conn: c, l: l, ip: ip}, nil
		}
		l.refuse(c, ip, over)
	}
}

func (l *limitedListener) refuse(c net.Conn, ip netip.Addr, over string) {
	total := l.refused.Add(1)
	_ = c.SetWriteDeadline(time.Now().Add(refusedWriteTimeout))
	_, _ = c.Write([]byte(refusedAnswer))
	_ = c.Close()
	now := time.Now().Unix()
	if last := l.warned.Load(); now-last >= 60 && l.warned.CompareAndSwap(last, now) {
		l.log.Warn("refused connections over the limit of open connections (a flood, or many slow clients?)",
			zap.String("limit", over), zap.Int("per_source", l.perIP), zap.Int("total", l.total),
			zap.Stringer("source", ip), zap.Uint64("refused_total", total))
	}
}

func (l *limitedListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// remoteIP is a connection's source address; IPv4-mapped IPv6 addresses count as their IPv4 one.
func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// limitedConn gives its place back once, when it is closed.
type limitedConn struct {
	net.Conn
	l    *limitedListener
	ip   netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
