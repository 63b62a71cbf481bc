package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// demoToken is the fake bridge's API token: it guards nothing real, and is never logged.
const demoToken = "demo-token"

// demo is -demo: everything without hardware, in one process and on loopback. A fake Tedee
// Bridge with a Lock PRO (door sensor, keypad) and a Lock GO serves the Bridge API and sends real
// webhooks; a fake Tedee Cloud API serves the same account (device list, settings, activity log),
// and someone uses the Front door now and then (demoAccount); the embedded broker stands in for
// Mosquitto; the service is wired to all of them, with its state in a temporary data_dir. Listen
// addresses still come from the configuration and the environment. It returns the configuration
// to serve and a function that stops the fakes.
func demo(cfg config.Config, stdout io.Writer) (config.Config, func(), error) {
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil || port == "0" || port == "" {
		return cfg, nil, fmt.Errorf("-demo needs a fixed http.listen port, for the fake bridge's callbacks (got %q)", cfg.HTTP.Listen)
	}
	dataDir, err := os.MkdirTemp("", "tedee2mqtt-demo-")
	if err != nil {
		return cfg, nil, fmt.Errorf("demo data_dir: %w", err)
	}
	acct := newDemoAccount()
	cloudURL, stopCloud, err := acct.serveCloud()
	if err != nil {
		os.RemoveAll(dataDir)
		return cfg, nil, fmt.Errorf("demo cloud: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopCloud()
		os.RemoveAll(dataDir)
		return cfg, nil, fmt.Errorf("demo bridge: %w", err)
	}
	srv := &http.Server{Handler: acct.bridge, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stopStory := acct.tell()
	stop := func() {
		stopStory()
		shutdown(srv)
		acct.bridge.Close()
		stopCloud()
		os.RemoveAll(dataDir)
	}

	cfg.MQTT.URL = "" // the embedded broker
	cfg.DataDir = dataDir
	cfg.Bridges = []config.Bridge{{Name: "demo", Host: ln.Addr().String(), Token: demoToken, TokenMode: tedeeapi.ModePlain,
		PublicURL: "http://127.0.0.1:" + port, CallbackMethod: "POST", PollInterval: time.Minute}}
	cfg.Cloud.APIKey, cfg.Cloud.APIKeyFile, cfg.Cloud.APIURL = demoCloudKey, "", cloudURL
	broker := cfg.MQTT.EmbeddedListen
	host, bport, _ := net.SplitHostPort(broker)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	mq := fmt.Sprintf("-h %s -p %s", host, bport)
	fmt.Fprintf(stdout, `tedee2mqtt demo: a fake Tedee Bridge with a Lock PRO (20000001-000001, door sensor, keypad) and a
Lock GO (20000002-000002), a fake Tedee Cloud API for the same account on %s (a fake on
loopback: nothing goes to Tedee), an embedded MQTT broker on %s, webhooks on http://127.0.0.1:%s.
About every minute %s unlocks the Front door with her PIN, opens and closes it, and it is locked with
its button; she first comes a few seconds after start.
Status page: http://127.0.0.1:%s/ (read-only; TEDEE2MQTT_HTTP_UI_PASSWORD=<8+ characters> adds the buttons).
Try, in another terminal:
  mosquitto_sub %s -v -t 'tedee/#'                                   # every lock's state
  mosquitto_sub %s -t 'tedee/+/activity' -v                          # who did what: "user":"%s","source":"pin"
  mosquitto_sub %s -v -t 'tedee/+/last_user' -t 'tedee/+/last_source'  # retained: who last moved each lock, and how
  mosquitto_rr %s -t tedee/20000001-000001/set -e tedee/20000001-000001/set/result -m unlock  # the PRO unlocks (-m lock locks it) and says what it did; its activity: "user":"%s"
  curl -s http://127.0.0.1:%s/metrics | grep tedee2mqtt_webhooks_total
Home Assistant: point its MQTT integration at %s:%s; the locks appear as devices.
Ctrl-C stops it.
`, cloudURL, broker, port, demoVisitor, port, mq, mq, demoVisitor, mq, mq, demoOwner, port, host, bport)
	return cfg, stop, nil
}
