// Package metrics holds the service's Prometheus metrics in a registry of its own (never the
// global one, so that tests and several instances in one process do not collide) and serves them
// in the Prometheus text format.
//
// The adapters do not import this package: pkg/webhook and pkg/mqtt each define a small observer
// interface that *Metrics implements, and the Bridge API client calls ObserveBridgeRequest and
// ObserveCommand. Every label value is bounded: values that come from the network are mapped to a
// fixed set by the adapter that received them (pkg/webhook names the webhook labels and bounds
// event names before observing), and the rest come from the configuration or from code.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

const namespace = "tedee2mqtt"

// other replaces a label value outside the bounded set.
const other = "other"

// maxDynamicLabels bounds the distinct values of a label filled in by other code (endpoints,
// commands): beyond it new values are counted as "other", so a mistake such as an id in an
// endpoint cannot grow the series without bound.
const maxDynamicLabels = 32

// MQTT is what the MQTT gauges read; *mqtt.Client implements it.
type MQTT interface {
	Connected() bool
	Pending() int
	DroppedEvents() uint64
}

// Metrics is the service's metrics and their registry. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	webhooks   *prometheus.CounterVec
	outOfOrder prometheus.Counter
	publishes  *prometheus.CounterVec
	mqtt       atomic.Pointer[MQTT]

	bridgeRequests *prometheus.CounterVec
	bridgeDuration *prometheus.HistogramVec
	commands       *prometheus.CounterVec
	httpPanics     prometheus.Counter
	refusedConns   *prometheus.CounterVec
	endpoints      boundedSet
	commandNames   boundedSet
}

// New returns the metrics, registered in a new registry along with the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "webhooks_total",
		Help: "Webhooks received, by source (bridge, cloud), event (a documented event name, other, " +
			"unknown when refused before decoding, invalid when it did not decode) and outcome (applied, " +
			"stale, unknown_event, invalid, unauthorized, unknown_bridge, too_large, busy, error, duplicate, unmapped).",
	}, []string{"source", "event", "outcome"})
	m.outOfOrder = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "out_of_order_events_total",
		Help: "Events dropped because a newer event of the same kind had already been applied.",
	})
	m.publishes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "mqtt_publishes_total",
		Help: "Queued MQTT messages the broker acknowledged (ok) or that failed or timed out and were requeued (error).",
	}, []string{"result"})
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "mqtt_connected",
		Help: "1 while the connection to the MQTT broker is up, else 0.",
	}, func() float64 {
		if c := m.mqttSource(); c != nil && c.Connected() {
			return 1
		}
		return 0
	})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "mqtt_pending_messages",
		Help: "MQTT messages queued and not yet acknowledged by the broker.",
	}, func() float64 {
		if c := m.mqttSource(); c != nil {
			return float64(c.Pending())
		}
		return 0
	})
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "mqtt_dropped_events_total",
		Help: "Event messages dropped because the queue was full during a broker outage (state is never dropped).",
	}, func() float64 {
		if c := m.mqttSource(); c != nil {
			return float64(c.DroppedEvents())
		}
		return 0
	})
	m.bridgeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "bridge_api_requests_total",
		Help: "Bridge API requests, by bridge, endpoint (route template) and HTTP status (error: no response).",
	}, []string{"bridge", "endpoint", "status"})
	m.bridgeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "bridge_api_request_duration_seconds",
		Help:    "Bridge API request duration, by bridge and endpoint (route template).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"bridge", "endpoint"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "command_results_total",
		Help: "Lock commands (lock, unlock, open…) by result (ok, error).",
	}, []string{"command", "result"})

	m.httpPanics = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_panics_total",
		Help: "Panics recovered while serving an HTTP request (a bug: each is logged with its stack).",
	})

	m.refusedConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_refused_connections_total",
		Help: "HTTP connections refused (503) at once, by limit: per source address (source) or in all (total).",
	}, []string{"limit"})

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.webhooks, m.outOfOrder, m.publishes, connected, pending, dropped,
		m.bridgeRequests, m.bridgeDuration, m.commands, m.httpPanics, m.refusedConns,
	)
	// Both limits exist from the start, so that an alert on any increase works.
	m.refusedConns.WithLabelValues("source")
	m.refusedConns.WithLabelValues("total")
	// Both results exist from the start, so that a rate() of errors is 0 rather than absent.
	m.publishes.WithLabelValues("ok")
	m.publishes.WithLabelValues("error")
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Webhook counts one webhook (it implements webhook.Observer). The labels are counted as given:
// webhook.Observer promises bounded values, so bounding them again here would be a second copy of
// the adapter's vocabulary to keep in step. An outcome of state.Stale is also counted in
// out_of_order_events_total. (The outcome is compared with state's value rather than webhook's,
// which is the same string, because webhook's tests import this package.)
func (m *Metrics) Webhook(source, event, outcome string) {
	m.webhooks.WithLabelValues(source, event, outcome).Inc()
	if outcome == string(state.Stale) {
		m.outOfOrder.Inc()
	}
}

// HTTPPanic counts one panic recovered while serving a request (it implements
// webhook.PanicObserver).
func (m *Metrics) HTTPPanic() { m.httpPanics.Inc() }

// ConnRefused counts a connection refused over a limit, "source" or "total" (it implements
// webhook.ConnObserver).
func (m *Metrics) ConnRefused(limit string) { m.refusedConns.WithLabelValues(limit).Inc() }

// Published counts one publish result (it implements mqtt.Observer).
func (m *Metrics) Published(ok bool) {
	if ok {
		m.publishes.WithLabelValues("ok").Inc()
	} else {
		m.publishes.WithLabelValues("error").Inc()
	}
}

// SetMQTT makes the MQTT gauges read c (until then they read 0). Calling it again replaces c.
func (m *Metrics) SetMQTT(c MQTT) {
	if c == nil {
		m.mqtt.Store(nil)
		return
	}
	m.mqtt.Store(&c)
}

func (m *Metrics) mqttSource() MQTT {
	if p := m.mqtt.Load(); p != nil {
		return *p
	}
	return nil
}

// ObserveBridgeRequest records one Bridge API request. endpoint is a route template such as
// "GET /lock" or "POST /lock/{id}/unlock", never a concrete URL (ids would make the series
// unbounded; past 32 distinct endpoints new ones are counted as "other"). status is the HTTP
// status, or 0 when no response arrived (network error, timeout), counted as "error".
func (m *Metrics) ObserveBridgeRequest(bridge, endpoint string, status int, d time.Duration) {
	endpoint = m.endpoints.bound(endpoint)
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.bridgeRequests.WithLabelValues(bridge, endpoint, code).Inc()
	m.bridgeDuration.WithLabelValues(bridge, endpoint).Observe(d.Seconds())
}

// ObserveCommand records the result of one lock command ("lock", "unlock", "open"; past 32
// distinct commands new ones are counted as "other").
func (m *Metrics) ObserveCommand(command string, ok bool) {
	result := "error"
	if ok {
		result = "ok"
	}
	m.commands.WithLabelValues(m.commandNames.bound(command), result).Inc()
}

// boundedSet admits up to maxDynamicLabels distinct values and maps any further one to "other".
type boundedSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (b *boundedSet) bound(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if len(b.seen) >= maxDynamicLabels {
		return other
	}
	b.seen[v] = true
	return v
}

// CloudStats is what the Tedee Cloud API's metrics read: the client's totals since start and the
// requests sent in the last hour.
type CloudStats struct {
	Sent, Skipped, RateLimited int64
	LastHour                   int
}

// SetCloud registers the Tedee Cloud API's metrics, read from stats at every scrape; call it once,
// with cloud.api_key.
func (m *Metrics) SetCloud(stats func() CloudStats) {
	const help = "Tedee Cloud API requests, by outcome: sent, skipped (cloud.requests_per_hour would be exceeded), " +
		"rate_limited (Tedee answered 429, or refused while waiting out its Retry-After)."
	counter := func(outcome string, read func(CloudStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "cloud_api_requests_total",
			Help: help, ConstLabels: prometheus.Labels{"outcome": outcome}}, func() float64 { return float64(read(stats())) })
	}
	m.reg.MustRegister(
		counter("sent", func(s CloudStats) int64 { return s.Sent }),
		counter("skipped", func(s CloudStats) int64 { return s.Skipped }),
		counter("rate_limited", func(s CloudStats) int64 { return s.RateLimited }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "cloud_api_requests_last_hour",
			Help: "Tedee Cloud API requests sent in the last hour (Tedee allows 700 per account and hour)."},
			func() float64 { return float64(stats().LastHour) }),
	)
}
