package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"go.uber.org/zap"
)

// connectReason says in a few words why a connection attempt failed, so that a wrong password,
// a TLS problem and a broker that is down do not all read as "not reachable".
func connectReason(err error) string {
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		alert   tls.AlertError
		dns     *net.DNSError
		nerr    net.Error
	)
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return "refused by the broker: bad user name or password (mqtt.username, mqtt.password)"
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return "refused by the broker: not authorised (wrong or missing mqtt.username/mqtt.password, or not allowed to connect)"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "refused by the broker: client id rejected (mqtt.client_id)"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return "refused by the broker: server unavailable"
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return "refused by the broker: it does not speak MQTT 3.1.1"
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return "TLS: the broker's certificate is not trusted (mqtt.tls.ca_file, or the host name in mqtt.url)"
	case errors.As(err, &record):
		return "TLS: the broker did not answer in TLS (a plain-text port? use tcp:// for it)"
	case errors.As(err, &alert), strings.Contains(err.Error(), "tls:"):
		return "TLS: handshake failed (client certificate, protocol version or cipher)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at that address, or a firewall refuses"
	case errors.As(err, &dns):
		return "host name not found"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timed out: the broker is down, unreachable, or not answering MQTT on that port"
	case errors.Is(err, packets.ErrorNetworkError):
		return "network error: the connection closed before the broker answered (TLS port spoken to in plain text?)"
	}
	return "connection failed"
}

// RedactedURL is a broker URL as logged: any password in it replaced.
func RedactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable broker URL>"
	}
	return u.Redacted()
}

// attemptLog logs failed connection attempts: the first of a run of failures with the same
// reason as a warning, naming the broker and the reason, and the rest at debug, so that an
// outage gives one line, not one every few seconds, and a changed reason is seen at once.
type attemptLog struct {
	log    *zap.Logger
	broker string

	mu   sync.Mutex
	last string // the reason of the last failure since the last success; "" after a success
}

func (a *attemptLog) notify(_ paho.Client, n paho.ConnectionNotification) {
	switch n := n.(type) {
	case paho.ConnectionNotificationConnected:
		a.mu.Lock()
		a.last = ""
		a.mu.Unlock()
	case paho.ConnectionNotificationFailed:
		reason := connectReason(n.Reason)
		a.mu.Lock()
		repeated := reason == a.last
		a.last = reason
		a.mu.Unlock()
		level := zap.WarnLevel
		if repeated {
			level = zap.DebugLevel
		}
		a.log.Log(level, "cannot connect to the broker; retrying", zap.String("broker", a.broker),
			zap.String("reason", reason), zap.Error(n.Reason))
	}
}
