package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/broker"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/cloud"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/metrics"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/webhook"
)

// Set at build time: go build -ldflags "-X main.version=1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = ""
)

// defaultConfigPath is used when -config is not given and the file exists.
const defaultConfigPath = "config.yaml"

// drainTimeout bounds how long shutdown waits for the broker to take what is pending.
const drainTimeout = 5 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	flags := flag.NewFlagSet("tedee2mqtt", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "configuration file (default ./config.yaml if it exists, else built-in defaults)")
	checkConfig := flags.Bool("check-config", false, "validate the configuration, print every problem and exit")
	showVersion := flags.Bool("version", false, "print version information and exit")
	healthcheck := flags.Bool("healthcheck", false, "GET /healthz on the configured listen address; exit 0 if healthy")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionString())
		return nil
	}

	path := *configPath
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check for %s: %w", defaultConfigPath, err)
		}
	}
	cfg, err := config.Load(path, environ)
	if *checkConfig {
		return reportConfig(stdout, stderr, path, err)
	}
	if err != nil {
		problems := config.Problems(err)
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return fmt.Errorf("invalid configuration (%d problems, listed above)", len(problems))
	}
	if *healthcheck {
		return checkHealth(ctx, cfg.HTTP.Listen)
	}

	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	log.Info("starting", zap.String("version", version), zap.String("config", path))
	return serve(ctx, cfg, log)
}

func reportConfig(stdout, stderr io.Writer, path string, err error) error {
	name := path
	if name == "" {
		name = "built-in defaults"
	}
	if err != nil {
		problems := config.Problems(err)
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return fmt.Errorf("%s: %d problems", name, len(problems))
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", name)
	return nil
}

// serve runs the service until ctx is done, then shuts down in order: stop accepting webhooks and
// finish those in flight, deliver what is pending, publish offline, disconnect.
func serve(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	brokerURL := cfg.MQTT.URL
	if brokerURL == "" {
		b, err := broker.Start(cfg.MQTT.EmbeddedListen, log.Named("broker"))
		if err != nil {
			return fmt.Errorf("start embedded broker: %w", err)
		}
		defer b.Close()
		brokerURL = "tcp://" + b.Addr()
	}
	met := metrics.New()
	opts := mqtt.Options{
		URL: brokerURL, ClientID: cfg.MQTT.ClientID, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password,
		QoS: byte(cfg.MQTT.QoS), StatusTopic: cfg.MQTT.BaseTopic + "/status", Observer: met,
	}
	if t := cfg.MQTT.TLS; t.CAFile != "" || t.CertFile != "" || t.InsecureSkipVerify {
		tlsConf, err := mqtt.TLSConfig(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return fmt.Errorf("mqtt tls: %w", err)
		}
		opts.TLS = tlsConf
	}
	var disc *homeassistant.Options
	if cfg.HomeAssistant.Enabled {
		disc = &homeassistant.Options{Prefix: cfg.HomeAssistant.DiscoveryPrefix, Base: cfg.MQTT.BaseTopic,
			QoS: cfg.MQTT.QoS, Version: version}
	}
	store := state.New(cfg.MQTT.BaseTopic, disc)
	// Every (re)connection republishes everything: the broker may have restarted without
	// persistence and forgotten the retained state and discovery.
	opts.OnConnect = func(c *mqtt.Client) { c.Publish(store.Republish()...) }
	client := mqtt.Dial(opts, log.Named("mqtt"))
	// Nothing queued may reach the broker before the state it holds has been read back (see
	// restoreState): a snapshot published first would replace the one to be read. Until then the
	// store is empty, so nothing of substance can be queued before this.
	client.Hold()
	met.SetMQTT(client)
	if disc != nil {
		client.Subscribe(cfg.HomeAssistant.StatusTopic, republishOnBirth(store, client, log))
	}

	names := make([]string, len(cfg.Bridges))
	for i, b := range cfg.Bridges {
		names[i] = b.Name
	}
	controllers := newControllers(cfg, store, client.Publish, met, log)
	router := controller.NewRouter(ctx, cfg.MQTT.BaseTopic, slices.Collect(maps.Values(controllers)),
		client.Publish, met.ObserveCommand, log.Named("commands"))
	client.Subscribe(router.Filter(), router.Handle)

	// Webhooks wait for the broker when it falls behind (PublishPaced); commands and syncs do not.
	core := &dispatcher{store: store, publish: client.PublishPaced, now: time.Now, controllers: controllers}
	var receiver webhook.CloudHandler // a nil *cloud.Receiver in an interface would not be nil
	if cfg.Cloud.Enabled {
		receiver = cloud.NewReceiver(store, cloudDevices(cfg.Cloud.Devices), client.PublishPaced, time.Now)
	}
	srv, err := webhook.New(webhook.Options{
		CloudPathSecret: cfg.Cloud.PathSecret, Cloud: receiver,
		Listen: cfg.HTTP.Listen, Secret: cfg.HTTP.Secret, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Bridges: names, Ready: client.Connected, Metrics: met.Handler(), Observer: met,
	}, core, log.Named("http"))
	if err != nil {
		_ = client.Close(0)
		return err
	}
	log.Info("listening for webhooks", zap.Stringer("addr", srv.Addr()), zap.Strings("bridges", names),
		zap.Bool("secret_required", cfg.HTTP.Secret != ""), zap.Bool("cloud", cfg.Cloud.Enabled))

	if restoreState(ctx, client, store, cfg.MQTT.BaseTopic, log) {
		client.Release()
	} else {
		log.Warn("broker not reachable: serving webhooks, and holding what they publish until the state it retains has been read back")
		go restoreLate(ctx, client, store, cfg.MQTT.BaseTopic, log)
	}

	var wg sync.WaitGroup
	for _, c := range controllers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Run(ctx) // returns when ctx ends; failures are logged and retried inside
		}()
	}
	runErr := srv.Run(ctx)
	wg.Wait()
	log.Info("shutting down", zap.Int("pending_messages", client.Pending()))
	if err := client.Close(drainTimeout); err != nil {
		log.Error("messages lost at shutdown", zap.Error(err))
	}
	return runErr
}

// newControllers returns a controller for every bridge with a host: its Bridge API is used for
// sync, commands and callback registration.
func newControllers(cfg config.Config, store *state.Store, publish func(...state.Message), met *metrics.Metrics,
	log *zap.Logger) map[string]*controller.Controller {
	controllers := map[string]*controller.Controller{}
	for _, b := range cfg.Bridges {
		if b.Host == "" {
			continue
		}
		blog := log.Named("bridge").With(zap.String("bridge", b.Name))
		api := tedeeapi.New(tedeeapi.Options{Bridge: b.Name, BaseURL: "http://" + b.Host, Token: b.Token,
			TokenMode: b.TokenMode, Observer: met}, blog)
		controllers[b.Name] = controller.New(controller.Options{Bridge: b.Name, PollInterval: b.PollInterval,
			PublicURL: b.PublicURL, CallbackMethod: b.CallbackMethod, Secret: cfg.HTTP.Secret}, api, store, publish, blog)
		blog.Info("using the Bridge API", zap.String("host", b.Host), zap.String("token_mode", b.TokenMode),
			zap.Bool("register_callback", b.PublicURL != ""))
	}
	return controllers
}

// restoreTimeout bounds reading the retained state back at startup; webhooks arriving meanwhile
// wait in the listen queue.
const restoreTimeout = 5 * time.Second

// restoreState reads the lock snapshots this service left retained on the broker, so that state
// and the ordering rule survive a restart even without the Bridge API. It runs before webhooks are
// served, so that a late retry cannot slip in before the state it is older than. It returns false
// when the broker could not be reached within restoreTimeout.
func restoreState(ctx context.Context, client *mqtt.Client, store *state.Store, base string, log *zap.Logger) bool {
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	msgs, err := client.ReadRetained(ctx, base+"/+/json", 300*time.Millisecond)
	if errors.Is(err, mqtt.ErrNotConnected) {
		return false
	}
	if err != nil {
		log.Warn("could not read the retained state back from the broker; going on without it", zap.Error(err))
	}
	restored := 0
	for _, m := range msgs {
		if err := store.Restore(m.Topic, m.Payload); err != nil {
			log.Debug("skipped retained snapshot", zap.String("topic", m.Topic), zap.Error(err))
			continue
		}
		restored++
	}
	log.Info("restored state from the broker", zap.Int("snapshots", restored))
	return true
}

// restoreLate reads the retained state back once the broker, unreachable at startup, comes up.
// Webhooks are served meanwhile (a broker outage delays, never drops) and what they publish is
// held: published first, their partial snapshots would replace the complete ones on the broker.
// Once the snapshots are merged (live facts win, as always), everything is republished complete
// and delivery resumes.
func restoreLate(ctx context.Context, client *mqtt.Client, store *state.Store, base string, log *zap.Logger) {
	defer client.Release()
	for ctx.Err() == nil {
		if restoreState(ctx, client, store, base, log) {
			client.Publish(store.Republish()...)
			return
		}
	}
}

// cloudDevices turns cloud.devices (validated: decimal ids) into the receiver's map.
func cloudDevices(devices map[string]string) map[int64]string {
	out := make(map[int64]string, len(devices))
	for id, serial := range devices {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			out[n] = serial
		}
	}
	return out
}

// republishOnBirth returns the handler of Home Assistant's status topic: when it says "online"
// (Home Assistant started, or its MQTT integration reloaded), every config and state is published
// again after a short random delay, as Home Assistant asks, so that many devices answering one
// birth message do not all arrive at once. Births during the delay share one republish.
func republishOnBirth(store *state.Store, client *mqtt.Client, log *zap.Logger) mqtt.Handler {
	var pending atomic.Bool
	return func(_ string, payload []byte, _ bool) {
		if string(payload) != "online" || !pending.CompareAndSwap(false, true) {
			return
		}
		delay := 500*time.Millisecond + rand.N(2*time.Second)
		log.Info("Home Assistant is online, republishing discovery and state", zap.Duration("delay", delay))
		time.AfterFunc(delay, func() {
			pending.Store(false)
			client.Publish(store.Republish()...)
		})
	}
}

// dispatcher connects the webhook adapter to the core and the core to the broker, and tells a
// bridge's controller what its webhooks imply.
type dispatcher struct {
	store       *state.Store
	publish     func(...state.Message)
	now         func() time.Time
	controllers map[string]*controller.Controller
}

func (d *dispatcher) HandleEvent(_ context.Context, bridge string, ev tedee.Event) error {
	msgs, err := d.store.Apply(bridge, ev, d.now())
	if err != nil && !errors.Is(err, state.ErrStale) {
		return err
	}
	d.publish(msgs...)
	// Even a late event means what it says: settings changed, or the cloud link did.
	if c, ok := d.controllers[bridge]; ok {
		switch ev.Name {
		case tedee.EventDeviceSettingsChanged:
			c.Refresh(ev.Serial) // the event carries no settings: read them
		case tedee.EventBackendConnectionChanged:
			c.CheckCallback() // the bridge may have restarted and lost its registrations
		}
	}
	return err
}

func newLogger(c config.Log, out io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(out), level)), nil
}

// checkHealth is -healthcheck: the distroless image has no shell or curl for a HEALTHCHECK.
func checkHealth(ctx context.Context, listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("http.listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s", resp.Status)
	}
	return nil
}

func versionString() string {
	rev := commit
	if info, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("tedee2mqtt %s (commit %s, %s)", version, rev, runtime.Version())
}
