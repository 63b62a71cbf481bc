package webhook

import (
	"io"
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

// A refused connection is answered once its request has begun (an answer before it confuses
// clients: Go's takes it for a broken connection), and read, what is read thrown away, until the
// client has the answer: closing with its request unread would make the kernel reset the
// connection, and the client see a reset instead of the 503. refusedLinger bounds all of it;
// refusedWriteTimeout the write, as the client may not read. At most maxLingering connections are
// answered at once; beyond that they are closed at once.
const (
	refusedWriteTimeout = 100 * time.Millisecond
	refusedLinger       = 200 * time.Millisecond
	maxLingering        = 64
	maxLingerBytes      = 64 << 10
)

// ConnObserver is told of every connection refused over a limit: LimitSource or LimitTotal.
type ConnObserver interface {
	ConnRefused(limit string)
}

// The limits a connection can be refused over.
const (
	LimitSource = "source" // Options.MaxConnsPerIP
	LimitTotal  = "total"  // Options.MaxConns
)

// limitedListener bounds the connections open at once: per source address, so that one host's
// slow clients cannot hold every webhook slot, and in all, below the process's file descriptor
// limit, so that a flood of connections is refused early instead of making accept (and the
// broker connection, and state.json) fail for want of descriptors. A connection over a limit is
// never served: it is answered 503 and closed within refusedLinger.
type limitedListener struct {
	net.Listener
	perIP, total int
	log          *zap.Logger
	observer     ConnObserver // nil: not counted

	lingering chan struct{} // a token per refused connection being drained

	mu      sync.Mutex
	open    map[netip.Addr]int
	n       int
	refused atomic.Uint64
	warned  atomic.Int64 // unix seconds of the last warning, so that a flood logs once a minute
}

func newLimitedListener(ln net.Listener, perIP, total int, observer ConnObserver, log *zap.Logger) *limitedListener {
	return &limitedListener{Listener: ln, perIP: perIP, total: total, observer: observer, log: log, open: map[netip.Addr]int{},
		lingering: make(chan struct{}, maxLingering)}
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
			over = LimitTotal
		case l.open[ip] >= l.perIP:
			over = LimitSource
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
	if l.observer != nil {
		l.observer.ConnRefused(over)
	}
	select {
	case l.lingering <- struct{}{}:
		go func() {
			defer func() { <-l.lingering }()
			answerRefused(c)
		}()
	default:
		_ = c.Close() // too many lingering already: a reset, which a client retries as well
	}
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

// remoteIP is a connection's source as the per-source limit counts it: an IPv4 address (an
// IPv4-mapped IPv6 one as its IPv4 address), or an IPv6 address's /64, since one host picks
// addresses from its /64 at will (privacy addresses) and would otherwise be as many sources.
func remoteIP(a net.Addr) netip.Addr {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// answerRefused answers 503 to a connection over a limit and closes it (see refusedLinger).
func answerRefused(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(refusedLinger))
	buf := make([]byte, 4096)
	if _, err := c.Read(buf); err != nil {
		return // nothing sent within the time: nobody to answer
	}
	_ = c.SetWriteDeadline(time.Now().Add(refusedWriteTimeout))
	if _, err := c.Write([]byte(refusedAnswer)); err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite() // the answer is complete
	}
	_, _ = io.CopyN(io.Discard, c, maxLingerBytes)
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
