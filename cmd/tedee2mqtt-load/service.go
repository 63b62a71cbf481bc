package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/state"
)

// serviceEnv is the tool's environment without TEDEE2MQTT_ variables, which would override (or,
// when unknown, break) the generated configuration.
func serviceEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEDEE2MQTT_") {
			env = append(env, kv)
		}
	}
	return env
}

// serviceConfig is the service's configuration for a run: the given listen address, broker and
// bridges (none: the default bridge at /webhook), its state in dataDir.
func serviceConfig(c config, listen, clientID, dataDir string, bridges []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `log:
  level: info
http:
  listen: %q
  # The load comes from one address with thousands of invented locks (and the calibration's
  # two): lift the bounds that protect against exactly that from strangers.
  max_locks_per_bridge: %d
  max_conns_per_ip: 4096
mqtt:
  url: %q
  client_id: %q
  qos: %d
  base_topic: %q
homeassistant:
  enabled: %t
data_dir: %q
`, listen, state.MaxLocks, c.load.BrokerURL, clientID, c.qos, c.baseTopic, c.homeassistant, dataDir)
	if len(bridges) > 0 {
		b.WriteString("bridges:\n")
		for _, name := range bridges {
			fmt.Fprintf(&b, "  - name: %q\n", name)
		}
	}
	return b.String()
}

// serviceRun is a started service and what it takes to start it again on the same state.
type serviceRun struct {
	ch      *child
	url     string // webhook base URL
	readyz  string
	cfgPath string
	dataDir string
	logPath string
	env     []string
	started time.Time // just before the process was started
	ready   time.Duration
}

func startService(c config, dir string, rep int) (*serviceRun, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, fmt.Sprintf("service-%d-data", rep))
	cfg := serviceConfig(c, listen, fmt.Sprintf("tedee2mqtt-load-%d-%d", os.Getpid(), rep), dataDir, c.load.Bridges)
	path := filepath.Join(dir, fmt.Sprintf("service-%d.yaml", rep))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	s := &serviceRun{url: "http://" + listen + "/webhook", readyz: "http://" + listen + "/readyz", cfgPath: path, dataDir: dataDir,
		logPath: filepath.Join(dir, fmt.Sprintf("service-%d.log", rep)), env: append(serviceEnv(), c.serviceEnv...)}
	if err := s.start(c.serviceBin, 15*time.Second); err != nil {
		return nil, err
	}
	return s, nil
}

// start starts the service (again) and waits until it is ready, timing it.
func (s *serviceRun) start(bin string, timeout time.Duration) error {
	s.started = time.Now()
	ch, err := startChild("tedee2mqtt", s.logPath, s.env, bin, "-config", s.cfgPath)
	if err != nil {
		return err
	}
	if err := ch.waitHTTPEvery(s.readyz, timeout, 5*time.Millisecond); err != nil {
		_ = ch.stop(5 * time.Second)
		return err
	}
	s.ready = time.Since(s.started)
	s.ch = ch
	return nil
}

func startBaseline(c config, p *plan, dir string, rep int) (*child, string, error) {
	if p == nil {
		return nil, "", fmt.Errorf("no message plan: the service must be measured first")
	}
	planPath := filepath.Join(dir, "plan.json")
	if err := p.save(planPath); err != nil {
		return nil, "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	ch, err := startChild("baseline", filepath.Join(dir, fmt.Sprintf("baseline-%d.log", rep)), serviceEnv(), self,
		"-baseline-server", "-listen", listen, "-broker", c.load.BrokerURL, "-plan", planPath,
		"-base-topic", c.baseTopic, "-qos", fmt.Sprint(c.qos))
	if err != nil {
		return nil, "", err
	}
	if err := ch.waitHTTP("http://"+listen+"/readyz", 15*time.Second); err != nil {
		_ = ch.stop(5 * time.Second)
		return nil, "", err
	}
	return ch, "http://" + listen + "/webhook", nil
}
