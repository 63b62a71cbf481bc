package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/broker"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/homeassistant"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/metrics"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/statefile"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/webhook"
)

const (
	// drainTimeout bounds how long shutdown waits for the broker to take what is pending.
	drainTimeout = 5 * time.Second
	// restoreTimeout bounds how long webhooks wait (in the listen queue) at startup for the state
	// the broker retains to be read back, so that a late retry cannot slip in before the state
	// it is older than. A broker that is down does not hold them longer: they are served, and
	// what they publish waits for the restore (mqtt.Options.Restore).
	restoreTimeout = 5 * time.Second
	// stateSaveInterval is how soon after a change data_dir/state.json has it.
	stateSaveInterval = time.Second
)

// serve runs the service until ctx is done or a part of it fails, then shuts down in order: stop
// accepting webhooks and finish those in flight, deliver what is pending, publish offline,
// disconnect.
func serve(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	stateFile, err := statefile.Open(cfg.DataDir, log.Named("state"))
	if err != nil {
		return err
	}
	brokerURL := cfg.MQTT.URL
	if brokerURL == "" {
		b, err := broker.Start(cfg.MQTT.EmbeddedListen,
			broker.Options{StorePath: filepath.Join(cfg.DataDir, "broker.db"), Username: cfg.MQTT.Username,
				Password: cfg.MQTT.Password}, log.Named("broker"))
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("mqtt.embedded_listen %s is taken by another program (a broker already running? then "+
				"set mqtt.url or TEDEE2MQTT_MQTT_URL to use it, or choose a free address in TEDEE2MQTT_MQTT_EMBEDDED_LISTEN): %w",
				cfg.MQTT.EmbeddedListen, err)
		}
		if err != nil {
			return fmt.Errorf("start embedded broker: %w", err)
		}
		defer b.Close()
		brokerURL = "tcp://" + b.Addr()
	}
	met := metrics.New()
	policy := commandPolicy(cfg)
	var disc *homeassistant.Options
	if cfg.HomeAssistant.Enabled {
		disc = &homeassistant.Options{Prefix: cfg.HomeAssistant.DiscoveryPrefix, Base: cfg.MQTT.BaseTopic,
			QoS: cfg.MQTT.QoS, Version: version, OpenAllowed: policy.OpenAllowed, CodeFormat: codeFormat(policy.Code)}
	}
	var cloud *cloudAPI // set before any event can reach the keeper's hook
	client, owner, err := connect(cfg, brokerURL, disc, stateFile, met, func(serial string) { cloud.stateChanged(serial) }, log)
	if err != nil {
		return err
	}
	if cloud, err = newCloudAPI(ctx, cfg, owner, client, met, log); err != nil {
		_ = client.Close(0)
		return err
	}
	met.SetMQTT(client)

	secrets, err := bridgeSecrets(cfg)
	if err != nil {
		_ = client.Close(0)
		return fmt.Errorf("callback secrets: %w", err)
	}
	controllers := newControllers(cfg, secrets, owner, met, log)
	router := controller.NewRouter(ctx, cfg.MQTT.BaseTopic, controllers, client.Publish, met.ObserveCommand,
		log.Named("commands"))
	router.SetQueueTimeout(cfg.Commands.QueueTimeout)
	router.SetPolicy(policy)
	client.Subscribe(router.Filter(), router.Handle)
	cloud.attach(router, client)
	ops := newOperator(ctx, cfg, controllers, owner, client, cloud, log)
	for _, filter := range ops.Filters() {
		client.Subscribe(filter, ops.Handle)
	}

	names := make([]string, len(cfg.Bridges))
	for i, b := range cfg.Bridges {
		names[i] = b.Name
	}
	events := &webhookEvents{owner: owner, controllers: map[string]*controller.Driver{}, now: time.Now, cloud: cloud,
		pace: func() { client.WaitBelow(mqtt.PaceBacklog, mqtt.PaceWait) }}
	for _, c := range controllers {
		events.controllers[c.Bridge()] = c
	}
	fileLimit, err := raiseFileLimit()
	if err != nil {
		log.Warn("could not raise the open files limit; webhook connections are bounded below the current one", zap.Error(err))
	}
	opts := webhook.Options{Listen: cfg.HTTP.Listen, Secret: cfg.HTTP.Secret, BridgeSecrets: secrets,
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes, Bridges: names, Ready: client.Connected, Metrics: met.Handler(), Observer: met,
		MaxConnsPerIP: cfg.HTTP.MaxConnsPerIP, MaxConns: maxConns(fileLimit)}
	page := newStatusPage(cfg, secrets, owner, controllers, router, log)
	opts.Extra = page.Register // the status page, on the webhook port
	if cfg.Cloud.Enabled {
		opts.CloudPathSecret, opts.Cloud = cfg.Cloud.PathSecret, events
	}
	srv, err := webhook.New(opts, events, log.Named("http"))
	if err != nil {
		_ = client.Close(0)
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("http.listen %s is taken by another program (another tedee2mqtt?); choose a free "+
				"address in http.listen or TEDEE2MQTT_HTTP_LISTEN: %w", cfg.HTTP.Listen, err)
		}
		return err
	}
	// Only now, with the webhook port bound, connect to the broker: a second instance started by
	// mistake fails above without knocking the first one (same client id) off the broker.
	client.Start()
	log.Info("listening for webhooks", zap.Stringer("addr", srv.Addr()), zap.Strings("bridges", names),
		zap.Bool("http_secret", cfg.HTTP.Secret != ""), zap.Int("bridges_with_callback_secret", len(secrets)),
		zap.Bool("cloud", cfg.Cloud.Enabled),
		zap.Int("max_connections", opts.MaxConns), zap.Int("max_connections_per_source", opts.MaxConnsPerIP))

	select {
	case <-client.Restored():
	case <-time.After(restoreTimeout):
		log.Warn("broker not reachable: serving webhooks, and holding what they publish until the state it retains has been read back",
			zap.String("broker", mqtt.RedactedURL(brokerURL)))
	case <-ctx.Done():
	}

	keepCtx, stopKeeping := context.WithCancel(context.Background())
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		stateFile.Keep(keepCtx, owner, stateSaveInterval)
	}()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range controllers {
		g.Go(func() error { return c.Run(gctx) }) // failures are logged and retried inside
	}
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return page.Run(gctx) }) // ends the page's streams, which would hold srv's shutdown
	g.Go(func() error { return ops.Run(gctx) })
	g.Go(func() error { return cloud.run(gctx) })
	runErr := g.Wait()
	// Every webhook answered is applied now: save it all, for a broker that may never get it.
	stopKeeping()
	<-kept
	if err := stateFile.Save(owner.Snapshots(), time.Now()); err != nil {
		log.Error("could not save the state at shutdown", zap.Error(err))
	}
	log.Info("shutting down", zap.Int("pending_messages", client.Pending()))
	if err := client.Close(drainTimeout); err != nil {
		log.Error("messages lost at shutdown", zap.Error(err))
	}
	return runErr
}

// connect returns the MQTT client, not yet started, and the owner of the state, which publishes
// through it. Once started, the client reads back the state an earlier run left retained before it delivers anything, and
// republishes everything when the broker or Home Assistant may have lost it.
func connect(cfg config.Config, brokerURL string, disc *homeassistant.Options, stateFile *statefile.File,
	met *metrics.Metrics, onStateChange func(serial string), log *zap.Logger) (*mqtt.Client, *keeper.Keeper, error) {
	var owner *keeper.Keeper // set before the client starts, which is when it calls back
	var client *mqtt.Client  // likewise
	opts := mqtt.Options{
		URL: brokerURL, ClientID: cfg.MQTT.ClientID, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password,
		QoS: byte(cfg.MQTT.QoS), StatusTopic: cfg.MQTT.BaseTopic + "/status", Observer: met,
		// Paced, a few locks at a time (republish.go); on Home Assistant's birth only the
		// discovery configs, since the states are retained on the broker.
		Republish:     func() { owner.RepublishPaced(false, republishPace(client)) },
		Birth:         func() { owner.RepublishPaced(true, republishPace(client)) },
		RestoreFilter: cfg.MQTT.BaseTopic + "/+/json",
		Restore: func(msgs []state.Message) {
			byTopic := make(map[string][]byte, len(msgs))
			for _, m := range msgs {
				byTopic[m.Topic] = m.Payload
			}
			restoreTopics(owner, byTopic, "the broker", log)
			// What the broker does not hold as it should (changed while the service was down, or
			// lost by the broker), paced like any republish; it starts while delivery is still held.
			differing := owner.Differing(byTopic)
			log.Info("republishing what the broker does not retain as it should", zap.Int("locks", len(differing)))
			go owner.RepublishLocksPaced(differing, false, republishPace(client))
		},
	}
	if disc != nil {
		opts.BirthTopic = cfg.HomeAssistant.StatusTopic
	}
	if t := cfg.MQTT.TLS; t.CAFile != "" || t.CertFile != "" || t.InsecureSkipVerify {
		tlsConf, err := mqtt.TLSConfig(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return nil, nil, fmt.Errorf("mqtt tls: %w", err)
		}
		opts.TLS = tlsConf
	}
	client = mqtt.New(opts, log.Named("mqtt"))
	store := state.New(cfg.MQTT.BaseTopic, disc)
	store.SetMaxLocksPerBridge(cfg.HTTP.MaxLocksPerBridge)
	owner = keeper.New(store, client,
		keeper.Options{CloudDevices: cloudDevices(cfg.Cloud.Devices), Log: log.Named("state"), OnStateChange: onStateChange})
	// The service's own copy first; the broker's retained snapshots merge with it by time once the
	// client reads them back.
	saved, err := stateFile.Load()
	if err != nil {
		log.Warn("could not read the saved state; going on with what the broker retains", zap.Error(err))
	}
	restore(owner, cfg.MQTT.BaseTopic, saved, stateFile.Path(), log)
	return client, owner, nil
}

// restore merges the lock snapshots state.json holds, by serial.
func restore(owner *keeper.Keeper, base string, saved map[string][]byte, from string, log *zap.Logger) {
	byTopic := make(map[string][]byte, len(saved))
	for serial, payload := range saved {
		byTopic[base+"/"+serial+"/json"] = payload
	}
	restoreTopics(owner, byTopic, from, log)
}

// restoreTopics merges the lock snapshots an earlier run left (in state.json, or retained on the
// broker), so that state and the ordering rule survive a restart even without the Bridge API.
func restoreTopics(owner *keeper.Keeper, snapshots map[string][]byte, from string, log *zap.Logger) {
	restored := 0
	for topic, payload := range snapshots {
		if err := owner.Restore(topic, payload, time.Now()); err != nil {
			log.Debug("skipped a saved snapshot", zap.String("topic", topic), zap.String("from", from), zap.Error(err))
			continue
		}
		restored++
	}
	log.Info("restored state", zap.String("from", from), zap.Int("snapshots", restored))
}

// newControllers returns a controller for every bridge with a host: its Bridge API is used for
// sync, commands and callback registration.
// secrets holds the bearer secret of each self-registered callback (bridgeSecrets).
func newControllers(cfg config.Config, secrets map[string]string, owner *keeper.Keeper, met *metrics.Metrics,
	log *zap.Logger) []*controller.Driver {
	var controllers []*controller.Driver
	for _, b := range cfg.Bridges {
		if b.Host == "" {
			continue
		}
		blog := log.Named("bridge").With(zap.String("bridge", b.Name))
		api := tedeeapi.New(tedeeapi.Options{Bridge: b.Name, BaseURL: "http://" + b.Host, Token: b.Token,
			TokenMode: b.TokenMode, Observer: met}, blog)
		controllers = append(controllers, controller.New(controller.Options{Bridge: b.Name, PollInterval: b.PollInterval,
			PublicURL: b.PublicURL, CallbackMethod: b.CallbackMethod, Secret: cmp.Or(secrets[b.Name], cfg.HTTP.Secret),
			CommandTimeout: cfg.Commands.Timeout}, api, owner, blog))
		blog.Info("using the Bridge API", zap.String("host", b.Host), zap.String("token_mode", b.TokenMode),
			zap.Bool("register_callback", b.PublicURL != ""))
	}
	return controllers
}

// cloudDevices turns cloud.devices (validated: decimal ids) into the keeper's map.
func cloudDevices(devices map[string]string) map[int64]string {
	out := make(map[int64]string, len(devices))
	for id, serial := range devices {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			out[n] = serial
		}
	}
	return out
}
