// Package broker runs an embedded MQTT broker (mochi-mqtt) so that tedee2mqtt works on a machine that
// has no MQTT broker installed: when no external MQTT URL is configured the service starts one of these
// and Home Assistant, mosquitto_sub, etc. connect to it like to any other broker.
//
// Security: with Options.Username set, the embedded broker admits only clients that present that
// username and Options.Password (anonymous clients and wrong passwords are refused); without it,
// it accepts anonymous clients, which the configuration allows only on a loopback address. Every
// admitted client may read and write every topic. It speaks plain MQTT: for TLS, use a real broker.
//
// With Options.StorePath, retained messages (and sessions) are kept on disk through mochi's own
// bbolt storage hook, so that they survive a restart of the process: Home Assistant's discovery
// configs and other clients' retained messages are there at once, not only once tedee2mqtt has
// republished its own.
package broker

import (
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// listenerID names the single TCP listener inside mochi; it only shows up in mochi's log lines.
const listenerID = "tcp"

// Options configure the embedded broker.
type Options struct {
	// StorePath, when set, is the bbolt file that keeps retained messages across restarts
	// (data_dir/broker.db); empty: memory only.
	StorePath string
	// Username and Password, when Username is set, are the only credentials admitted.
	Username, Password string
}

// storeLockTimeout bounds the wait for the store's file lock: a second instance with the same
// data_dir fails with an error instead of hanging.
const storeLockTimeout = 2 * time.Second

// Broker is a running embedded MQTT broker. Create it with Start and stop it with Close.
type Broker struct {
	server *mqtt.Server
	ln     net.Listener
	addr   string
	log    *zap.Logger

	closeOnce sync.Once
	closeErr  error
}

// Start listens synchronously on addr (host:port; "127.0.0.1:0" picks a free port, see Addr), so that
// a port conflict is reported here rather than logged from a goroutine, then serves clients in the
// background until Close.
//
// Without Options.Username, anonymous clients are allowed and may publish and subscribe to every
// topic (see the package doc).
//
// mochi's own log output is routed through log (see newSlogLogger for the level mapping); a nil log
// discards it.
func Start(addr string, opts Options, log *zap.Logger) (*Broker, error) {
	if log == nil {
		log = zap.NewNop()
	}

	// Listen ourselves instead of letting mochi's TCP listener do it: we get the error synchronously
	// and learn the actual port when addr ends in ":0".
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded MQTT broker: listen on %s: %w", addr, err)
	}

	caps := mqtt.NewDefaultServerCapabilities()
	// mochi's default (24 h) is not only an upper bound for MQTT 5 message expiry: it also forcibly
	// deletes every retained message older than that, whatever protocol version published it. Retained
	// state (Home Assistant discovery, lock state) must stay until it is replaced, so make the bound
	// effectively infinite. It must not be 0: mochi then stamps MQTT 5 acks with an expiry of "now",
	// which drops in-flight QoS 2 handshakes after a second.
	caps.MaximumMessageExpiryInterval = math.MaxInt32
	// A subscription's retained replay goes through the client's outbound queue, and mochi drops
	// what does not fit (8,192 by default, QoS 0 and 1 alike): tedee2mqtt's restore of 10,000 locks'
	// json, or Home Assistant's subscription to 70,000 discovery configs, would lose most of it.
	// The queue is a channel of pointers, allocated per client: 1 MiB each at this size.
	caps.MaximumClientWritesPending = 1 << 17

	server := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       newSlogLogger(log),
	})

	// mochi rejects every connection unless an auth hook allows it.
	var authHook mqtt.Hook = new(auth.AllowHook)
	if opts.Username != "" {
		authHook = newCredentialsHook(opts.Username, opts.Password)
	}
	if err := server.AddHook(authHook, nil); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: add auth hook: %w", err)
	}
	if opts.StorePath != "" {
		// Every retained message is written (and synced) as it arrives: the embedded broker is
		// for small setups, where a few milliseconds per message cost nothing and a power cut
		// must not leave a corrupt store.
		err := server.AddHook(new(bolt.Hook), &bolt.Options{Path: opts.StorePath,
			Options: &bbolt.Options{Timeout: storeLockTimeout}})
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("embedded MQTT broker: open its store %s (is another instance using this data_dir?): %w",
				opts.StorePath, err)
		}
	}
	if err := server.AddListener(listeners.NewNet(listenerID, ln)); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: add listener on %s: %w", ln.Addr(), err)
	}
	// Serve does not block: it starts the accept loop and housekeeping goroutines and returns.
	if err := server.Serve(); err != nil {
		_ = server.Close() // closes the listener too
		return nil, fmt.Errorf("embedded MQTT broker: serve on %s: %w", ln.Addr(), err)
	}

	b := &Broker{server: server, ln: ln, addr: ln.Addr().String(), log: log}
	log.Info("embedded MQTT broker listening",
		zap.String("addr", b.addr), zap.Bool("anonymous", opts.Username == ""),
		zap.String("mochi_version", mqtt.Version))
	return b, nil
}

// Addr returns the address the broker is bound to, e.g. "127.0.0.1:41234" (with the real port when
// Start was given port 0).
func (b *Broker) Addr() string {
	return b.addr
}

// disconnectAll stops accepting connections, disconnects every client, and waits (briefly) until
// the client list stops shrinking. mochi 2.7.9's Close lists the clients under a read lock that it
// takes twice (Clients.GetByListener calls Len); a client whose connection ends in between wants
// the write lock to leave the list, and the two deadlock. Seen once in CI. Letting the clients
// leave first means none is leaving while Close lists them.
func (b *Broker) disconnectAll() {
	_ = b.ln.Close() // mochi closes it again in Close; that second close is harmless
	clients := b.server.Clients.GetAll()
	for _, cl := range clients {
		if !cl.Closed() {
			_ = b.server.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
	if len(clients) == 0 {
		return
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for last := -1; time.Now().Before(deadline); {
		n := b.server.Clients.Len()
		if n == last { // stable: whoever was leaving has left (persistent sessions stay listed)
			return
		}
		last = n
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops accepting connections, disconnects all clients and releases the port. Retained messages
// are lost. It is safe to call more than once (mochi's own Close panics on a second call) and from
// several goroutines; later calls return the first call's result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.disconnectAll()
		if err := b.server.Close(); err != nil {
			b.closeErr = fmt.Errorf("embedded MQTT broker: close %s: %w", b.addr, err)
			return
		}
		b.log.Info("embedded MQTT broker stopped", zap.String("addr", b.addr))
	})
	return b.closeErr
}
