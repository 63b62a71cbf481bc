package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// demoToken is the fake bridge's API token: it guards nothing real, and is never logged.
const demoToken = "demo-token"

// demo is -demo: everything without hardware, in one process and on loopback. A fake Tedee
// Bridge with a Lock PRO (door sensor) and a Lock GO serves the Bridge API and sends real
// webhooks; the embedded broker stands in for Mosquitto; the service is wired to both, with its
// state in a temporary data_dir. Listen addresses still come from the configuration and the
// environment. It returns the configuration to serve and a function that stops the fake.
func demo(cfg config.Config, stdout io.Writer) (config.Config, func(), error) {
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil || port == "0" || port == "" {
		return cfg, nil, fmt.Errorf("-demo needs a fixed http.listen port, for the fake bridge's callbacks (got %q)", cfg.HTTP.Listen)
	}
	dataDir, err := os.MkdirTemp("", "tedee2mqtt-demo-")
	if err != nil {
		return cfg, nil, fmt.Errorf("demo data_dir: %w", err)
	}
	fb := fakebridge.New(fakebridge.DemoOptions(demoToken, tedeeapi.ModePlain, 1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dataDir)
		return cfg, nil, fmt.Errorf("demo bridge: %w", err)
	}
	srv := &http.Server{Handler: fb, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// The door opens and closes now and then, so that webhooks arrive without any command.
	stopDoor := make(chan struct{})
	go func() {
		tick := time.NewTicker(20 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopDoor:
				return
			case <-tick.C:
				fb.Update(1, func(l *fakebridge.Lock) { l.DoorState = 5 - l.DoorState }) // 2 open ↔ 3 closed
			}
		}
	}()
	stop := func() {
		close(stopDoor)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = srv.Close()
		}
		fb.Close()
		os.RemoveAll(dataDir)
	}

	cfg.MQTT.URL = "" // the embedded broker
	cfg.DataDir = dataDir
	cfg.Bridges = []config.Bridge{{Name: "demo", Host: ln.Addr().String(), Token: demoToken, TokenMode: tedeeapi.ModePlain,
		PublicURL: "http://127.0.0.1:" + port, CallbackMethod: "POST", PollInterval: time.Minute}}
	broker := cfg.MQTT.EmbeddedListen
	host, bport, _ := net.SplitHostPort(broker)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	mq := fmt.Sprintf("-h %s -p %s", host, bport)
	fmt.Fprintf(stdout, `tedee2mqtt demo: a fake Tedee Bridge with a Lock PRO (20000001-000001, door sensor) and a
Lock GO (20000002-000002), an embedded MQTT broker on %s, webhooks on http://127.0.0.1:%s.
Status page: http://127.0.0.1:%s/ (read-only; TEDEE2MQTT_HTTP_UI_PASSWORD=<8+ characters> adds the buttons).
Try, in another terminal:
  mosquitto_sub %s -v -t 'tedee/#'                                   # every lock's state
  mosquitto_pub %s -t tedee/20000001-000001/set -m unlock            # the PRO unlocks
  mosquitto_sub %s -v -t tedee/20000001-000001/set/result -C 1       # what the command did
  curl -s http://127.0.0.1:%s/metrics | grep tedee2mqtt_webhooks_total
Home Assistant: point its MQTT integration at %s:%s; the locks appear as devices.
Ctrl-C stops it.
`, broker, port, port, mq, mq, mq, port, host, bport)
	return cfg, stop, nil
}
