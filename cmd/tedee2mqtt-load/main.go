// Command tedee2mqtt-load measures tedee2mqtt end to end: it starts the service (or drives one that
// runs already), sends it realistic Tedee Bridge webhooks over HTTP for many locks, at a set rate or
// flat out, subscribes to the broker and matches every webhook to its tedee/<serial>/event message.
// It reports webhooks/s accepted, messages/s delivered, send-to-subscriber latency, errors, lost
// messages, and the service's peak RSS and CPU time.
//
// The same load is sent, in the same invocation, to a baseline server (this binary with
// -baseline-server) that publishes the same number and size of MQTT messages per webhook without
// decoding anything or keeping state; the service's figures are also given as ratios to the
// baseline's, which hold on a noisy machine where absolute numbers do not.
//
// Everything it talks to must be on the loopback interface.
//
//	go build -o /tmp/tedee2mqtt ./cmd/tedee2mqtt
//	go run ./cmd/tedee2mqtt-load -service-bin /tmp/tedee2mqtt -locks 1000 -count 100000
//
// See docs/benchmarks.md for the measurements and the commands that reproduce them, and
// docs/scale-scenarios.md for the scale scenarios: -bridges (locks spread over many bridges),
// -restart (a start that restores every lock) and -birth-at (Home Assistant's birth during a load).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tedee2mqtt-load:", err)
		stop()
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	serviceBin    string
	url           string
	pid           int
	broker        string
	mosquittoBin  string
	baseline      bool
	homeassistant bool
	baseTopic     string
	qos           int
	repeat        int
	idle          time.Duration
	jsonOut       string
	logDir        string
	serviceEnv    envFlag
	load          loadOptions
	bridges       int
	// The scale scenarios (docs/scale-scenarios.md).
	restart       bool
	restartWait   time.Duration
	birthAt       time.Duration
	birthWait     time.Duration
	haStatusTopic string
	haPerMessage  time.Duration
}

// envFlag collects repeated -service-env KEY=VALUE flags.
type envFlag []string

func (e *envFlag) String() string { return fmt.Sprint(*e) }

func (e *envFlag) Set(kv string) error {
	if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", kv)
	}
	*e = append(*e, kv)
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("tedee2mqtt-load", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var c config
	flags.StringVar(&c.serviceBin, "service-bin", "", "tedee2mqtt binary to start with a generated config (build it with go build ./cmd/tedee2mqtt)")
	flags.StringVar(&c.url, "url", "", "instead of -service-bin: webhook URL of a tedee2mqtt that runs already, e.g. http://127.0.0.1:8080/webhook")
	flags.IntVar(&c.pid, "pid", 0, "with -url: the service's pid, to report its RSS and CPU time")
	flags.StringVar(&c.broker, "broker", "", "MQTT broker URL the service publishes to (default: start a private mosquitto on a free loopback port)")
	flags.StringVar(&c.mosquittoBin, "mosquitto", "", "mosquitto binary for the private broker (default: PATH, then /usr/sbin/mosquitto)")
	flags.BoolVar(&c.baseline, "baseline", true, "also run the same load against the baseline server and report ratios")
	flags.BoolVar(&c.homeassistant, "homeassistant", true, "with -service-bin: enable Home Assistant discovery in the service's config")
	flags.StringVar(&c.baseTopic, "base-topic", "tedee", "the service's mqtt.base_topic")
	flags.IntVar(&c.qos, "qos", 1, "with -service-bin: mqtt.qos of the service, and the baseline's QoS")
	flags.IntVar(&c.repeat, "repeat", 3, "measure this many times (each with a fresh service and baseline) and report median and spread")
	flags.DurationVar(&c.idle, "idle", 2*time.Second, "how long the started service idles before its idle RSS is read")
	flags.StringVar(&c.jsonOut, "json", "", "also write every measurement to this file as JSON")
	flags.Var(&c.serviceEnv, "service-env", "with -service-bin: set KEY=VALUE in the service's environment, e.g. GOMEMLIMIT=24MiB (repeatable)")
	flags.StringVar(&c.logDir, "log-dir", "", "keep the service's, baseline's and broker's logs here (default: a temp dir removed at exit)")
	flags.IntVar(&c.load.Locks, "locks", 1000, "number of locks")
	flags.IntVar(&c.load.Count, "count", 100000, "webhooks to send per run")
	flags.Float64Var(&c.load.Rate, "rate", 0, "webhooks per second; 0 sends flat out")
	flags.IntVar(&c.load.Concurrency, "concurrency", 8, "parallel HTTP connections (a lock's webhooks always go one at a time, in order)")
	flags.DurationVar(&c.load.Duration, "duration", 5*time.Minute, "stop sending after this long even if -count is not reached")
	flags.DurationVar(&c.load.Grace, "grace", 5*time.Second, "after the last answer, wait this long for missing event messages before counting them lost")
	flags.StringVar(&c.load.Format, "format", formatPost, "delivery format: post (JSON body), get (query string) or path (GET+NO_PARAMS)")
	flags.IntVar(&c.bridges, "bridges", 0, "spread the locks over this many bridges (each in the generated config, webhooks to /webhook/<bridge>); 0: the default bridge at /webhook")
	flags.BoolVar(&c.restart, "restart", false, "after each service run, stop the service and start it again on the same data_dir and broker; report how long until it is ready and until every lock's json topic is republished")
	flags.DurationVar(&c.restartWait, "restart-wait", time.Minute, "with -restart: how long to wait for every lock's json topic after the restart")
	flags.DurationVar(&c.birthAt, "birth-at", 0, "publish Home Assistant's birth (online, not retained) this long after the first webhook, on a broker with Mosquitto's default queue limits, and measure the republish with a Home Assistant-like subscriber; 0: no birth")
	flags.DurationVar(&c.birthWait, "birth-wait", 2*time.Minute, "with -birth-at: after the load, wait up to this long for the republish to complete")
	flags.DurationVar(&c.haPerMessage, "ha-per-message", 0, "with -birth-at: how long the Home Assistant-like subscriber takes per message (0: as fast as it can), to model a slower Home Assistant")
	baselineServer := flags.Bool("baseline-server", false, "run as the baseline server (used by the tool itself)")
	listen := flags.String("listen", "127.0.0.1:0", "with -baseline-server: listen address")
	planPath := flags.String("plan", "", "with -baseline-server: the message plan measured from the service")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if *baselineServer {
		return serveBaseline(ctx, *listen, c.broker, *planPath, c.baseTopic, byte(c.qos))
	}
	switch {
	case c.serviceBin == "" && c.url == "":
		return errors.New("give -service-bin (the tool starts the service) or -url (a service that runs already)")
	case c.serviceBin != "" && c.url != "":
		return errors.New("give -service-bin or -url, not both")
	case c.url != "" && c.broker == "":
		return errors.New("with -url, give -broker: the broker that service publishes to")
	case c.repeat < 1:
		return errors.New("repeat must be at least 1")
	case c.qos < 0 || c.qos > 2:
		return errors.New("qos must be 0, 1 or 2")
	case c.bridges < 0 || c.bridges > 1000:
		return errors.New("bridges must be 0-1000")
	case c.bridges > 0 && c.url != "":
		return errors.New("-bridges configures the bridges in the generated config: use it with -service-bin")
	case (c.restart || c.birthAt > 0) && (c.serviceBin == "" || c.broker != ""):
		return errors.New("-restart and -birth-at start the service and its broker themselves: use -service-bin without -broker")
	case (c.restart || c.birthAt > 0) && c.baseline:
		return errors.New("-restart and -birth-at measure the service alone: add -baseline=false")
	case c.birthAt < 0 || c.birthWait <= 0 || c.restartWait <= 0 || c.haPerMessage < 0:
		return errors.New("-birth-at and -ha-per-message must not be negative; -birth-wait and -restart-wait must be positive")
	case c.birthAt > 0 && !c.homeassistant:
		return errors.New("-birth-at needs Home Assistant discovery (-homeassistant)")
	}
	c.haStatusTopic = "homeassistant/status" // the service's default homeassistant.status_topic
	c.load.Bridges = bridgeNames(c.bridges)
	c.load.BaseTopic = c.baseTopic
	c.load.DiscoveryPrefix = "homeassistant"
	c.load.SerialPrefix = 20000000
	return bench(ctx, c, stdout, stderr)
}
