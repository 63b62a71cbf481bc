package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// baselineServer is the yardstick tedee2mqtt is measured against: the least a webhook-to-MQTT
// bridge has to do. It answers each webhook with 204 after handing the same number and size of
// MQTT messages as tedee2mqtt (per its plan) to paho, with the same QoS, but decodes nothing and
// keeps no state: the lock, event time and kind come from the load tool's X-Load-* headers.
type baselineServer struct {
	plan   *plan
	qos    byte
	client paho.Client
	acks   chan paho.Token
	// filler holds payloads of every size the plan uses.
	filler map[int][]byte
	failed atomic.Int64 // publishes the broker did not acknowledge
}

// maxUnacked bounds the publishes awaiting their PUBACK; the handler blocks beyond it, as
// tedee2mqtt's outbox would hold them (paho has 65535 message ids).
const maxUnacked = 8192

func newBaselineServer(p *plan, qos byte) *baselineServer {
	s := &baselineServer{plan: p, qos: qos, acks: make(chan paho.Token, maxUnacked), filler: map[int][]byte{}}
	for _, set := range []map[string][]planMsg{p.First, p.Steady} {
		for _, msgs := range set {
			for _, m := range msgs {
				s.filler[m.Size] = bytes.Repeat([]byte("x"), m.Size)
			}
		}
	}
	return s
}

// connect connects to the broker like tedee2mqtt does (clean session, retained status with a
// will) and starts counting acknowledgements.
func (s *baselineServer) connect(brokerURL, clientID, statusTopic string) error {
	opts := paho.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID(clientID).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectTimeout(10*time.Second).
		SetKeepAlive(30*time.Second).
		SetWill(statusTopic, "offline", s.qos, true)
	s.client = paho.NewClient(opts)
	if t := s.client.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("connect to %s: %v", brokerURL, tokenErr(t))
	}
	s.client.Publish(statusTopic, s.qos, true, "online")
	go func() {
		for t := range s.acks {
			if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
				s.failed.Add(1)
			}
		}
	}()
	return nil
}

func (s *baselineServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.client == nil || !s.client.IsConnectionOpen() {
			http.Error(w, "mqtt not connected", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/webhook", s.webhook)
	mux.HandleFunc("/webhook/", s.webhook)
	return mux
}

func (s *baselineServer) webhook(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
	serial, ts := r.Header.Get(headerSerial), r.Header.Get(headerTimestamp)
	msgs := s.plan.messages(r.Header.Get(headerKind), r.Header.Get(headerFirst) == "1")
	if serial == "" || ts == "" || len(msgs) == 0 {
		http.Error(w, "not a load tool webhook", http.StatusBadRequest)
		return
	}
	for _, m := range msgs {
		topic := strings.Replace(m.Topic, serialPlaceholder, serial, 1)
		payload := s.filler[m.Size]
		if !m.Retain {
			payload = eventPayload(serial, ts, m.Size)
		}
		s.acks <- s.client.Publish(topic, s.qos, m.Retain, payload)
	}
	w.WriteHeader(http.StatusNoContent)
}

// eventPayload is a JSON object with the serial and timestamp the load tool matches on, padded to
// size bytes.
func eventPayload(serial, ts string, size int) []byte {
	b := make([]byte, 0, max(size, 64))
	b = append(b, `{"serial":"`...)
	b = append(b, serial...)
	b = append(b, `","timestamp":"`...)
	b = append(b, ts...)
	b = append(b, `","pad":"`...)
	for pad := size - len(b) - 2; pad > 0; pad-- {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// serveBaseline runs the baseline server until ctx is done (the -baseline-server mode).
func serveBaseline(ctx context.Context, listen, brokerURL, planPath, baseTopic string, qos byte) error {
	p, err := loadPlan(planPath)
	if err != nil {
		return err
	}
	if err := loopbackURL(brokerURL); err != nil {
		return err
	}
	s := newBaselineServer(p, qos)
	if err := s.connect(brokerURL, fmt.Sprintf("t2m-baseline-%d", os.Getpid()), baseTopic+"/status"); err != nil {
		return err
	}
	defer s.client.Disconnect(250)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if n := s.failed.Load(); n > 0 {
		return fmt.Errorf("%d publishes not acknowledged", n)
	}
	return nil
}
