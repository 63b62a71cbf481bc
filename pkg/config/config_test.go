package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// invalidFiles lists the exact problems of every testdata/invalid-*.yaml.
// TestInvalidFiles fails when a file has no entry here or an entry has no file.
var invalidFiles = map[string][]string{
	"invalid-syntax.yaml": {
		`testdata/invalid-syntax.yaml: yaml: line 3: mapping values are not allowed in this context`,
	},
	"invalid-multiple-documents.yaml": {
		`testdata/invalid-multiple-documents.yaml: multiple YAML documents are not supported`,
	},
	"invalid-unknown-key.yaml": {
		`mqtt.urll: unknown key (did you mean "url"?)`,
		`logging: unknown key`,
	},
	"invalid-bridge-unknown-key.yaml": {
		`bridges[0].tokn: unknown key (did you mean "token"?)`,
		`bridges[0].token: required when bridges[0].host is set`,
	},
	"invalid-duplicate-key.yaml": {
		`mqtt.qos: duplicate key`,
		`cloud.devices.12345: duplicate key`,
	},
	"invalid-types.yaml": {
		`http.max_body_bytes: cannot use "1.5" as an integer`,
		`mqtt.qos: cannot use "abc" as an integer`,
		`mqtt.client_id: expected a string`,
		`homeassistant.enabled: cannot use "maybe" as a boolean`,
		`bridges[0].poll_interval: cannot use "soon" as a duration (e.g. 60s)`,
	},
	"invalid-structure.yaml": {
		`http: expected a mapping`,
		`mqtt.tls: expected a mapping`,
		`bridges: expected a list`,
		`cloud.devices: expected a mapping`,
	},
	"invalid-log.yaml": {
		`log.level: must be one of debug, info, warn, error (got "verbose")`,
		`log.format: must be one of auto, json, console (got "text")`,
	},
	"invalid-http.yaml": {
		`http.listen: must be host:port, e.g. ":8080" (got "8080")`,
		`http.max_body_bytes: must be between 1 and 10485760 (got 0)`,
	},
	"invalid-mqtt-url-scheme.yaml": {
		`mqtt.url: scheme must be one of tcp, mqtt, ssl, tls, mqtts, ws, wss (got "http")`,
	},
	"invalid-mqtt-url-host.yaml": {
		`mqtt.url: missing host`,
	},
	"invalid-embedded-listen.yaml": {
		`mqtt.embedded_listen: must be host:port, e.g. "127.0.0.1:1883" (got "localhost:99999")`,
	},
	"invalid-mqtt-client.yaml": {
		`mqtt.client_id: must not be empty`,
		`mqtt.qos: must be 0, 1 or 2 (got 3)`,
	},
	"invalid-mqtt-credentials.yaml": {
		`mqtt.username: required when mqtt.password is set`,
	},
	"invalid-embedded-open.yaml": {
		`mqtt.embedded_listen: "0.0.0.0:1883" is reachable from other hosts: set mqtt.username and mqtt.password (anyone who reaches an anonymous broker can unlock the doors), or listen on 127.0.0.1`,
	},
	"invalid-embedded-no-password.yaml": {
		`mqtt.password: required when mqtt.username is set and the embedded broker is used (it admits only these credentials)`,
	},
	"invalid-tls-plain.yaml": {
		`mqtt.tls.ca_file: is only used with ssl://, tls://, mqtts:// or wss://; tcp:// connects in plain text`,
		`mqtt.tls.insecure_skip_verify: is only used with ssl://, tls://, mqtts:// or wss://; tcp:// connects in plain text`,
	},
	"invalid-tls-embedded.yaml": {
		`mqtt.tls.cert_file: is only used with ssl://, tls://, mqtts:// or wss://; the embedded broker connects in plain text`,
		`mqtt.tls.key_file: is only used with ssl://, tls://, mqtts:// or wss://; the embedded broker connects in plain text`,
	},
	"invalid-limits.yaml": {
		`http.max_locks_per_bridge: must be between 1 and 10000 (got 0)`,
		`http.max_conns_per_ip: must be between 1 and 4096 (got 5000)`,
	},
	"invalid-topics.yaml": {
		`mqtt.base_topic: must be topic segments of [A-Za-z0-9_-] separated by "/" (got "tedee/#")`,
		`homeassistant.discovery_prefix: must be topic segments of [A-Za-z0-9_-] separated by "/" (got "/homeassistant")`,
		`homeassistant.status_topic: must be topic segments of [A-Za-z0-9_-] separated by "/" (got "homeassistant//status")`,
	},
	"invalid-tls.yaml": {
		`mqtt.tls.ca_file: stat /nonexistent/tedee2mqtt/ca.pem: no such file or directory`,
		`mqtt.tls.key_file: required when mqtt.tls.cert_file is set`,
	},
	"invalid-bridge-name.yaml": {
		`bridges[0].name: must be 1-32 characters of [a-z0-9_-] (got "Home")`,
		`bridges[1].name: required`,
		`bridges[2].name: must be 1-32 characters of [a-z0-9_-] (got "this-name-is-much-longer-than-32-chars")`,
	},
	"invalid-bridge-duplicate.yaml": {
		`bridges[2].name: duplicate of bridges[0].name ("home")`,
	},
	"invalid-bridge-reserved.yaml": {
		`bridges[0].name: "cloud" is reserved (the Tedee Cloud's webhook route)`,
		`bridges[1].name: "bridge" is reserved (the operator API's topics, <base>/bridge/...)`,
	},
	"invalid-bridge-enums.yaml": {
		`bridges[0].token_mode: must be "encrypted" or "plain"`,
		`bridges[0].callback_method: must be one of POST, GET, GET+NO_PARAMS (got "PUT")`,
	},
	"invalid-bridge-host.yaml": {
		`bridges[0].host: must be a host name or IP address, optionally with :port, without scheme (got "http://127.0.0.1")`,
		`bridges[1].host: must be a host name or IP address, optionally with :port, without scheme (got "127.0.0.1:0")`,
	},
	"invalid-bridge-host-without-token.yaml": {
		`bridges[0].token: required when bridges[0].host is set`,
	},
	"invalid-bridge-token-without-host.yaml": {
		`bridges[0].token: requires bridges[0].host (the token is only used for the Bridge API)`,
	},
	"invalid-bridge-poll-interval.yaml": {
		`bridges[0].poll_interval: must be 0 (disabled) or at least 1s (got 500ms)`,
		`bridges[1].poll_interval: must be 0 (disabled) or at least 1s (got -1s)`,
	},
	"invalid-bridge-public-url.yaml": {
		`bridges[0].public_url: requires bridges[0].host (the Bridge API registers the callback)`,
		`bridges[1].public_url: must be an http:// URL (got scheme "ftp")`,
	},
	"invalid-commands.yaml": {
		`commands.queue_timeout: must be between 100ms and 10m0s (got 0s)`,
		`commands.timeout: must be between 1s and 10m0s (got 1h0m0s)`,
	},
	"invalid-data-dir.yaml": {
		`data_dir: must name a directory (the service keeps its state there)`,
	},
	"invalid-cloud-missing-secret.yaml": {
		`cloud.path_secret: required when cloud.enabled is true`,
	},
	"invalid-cloud-short-secret.yaml": {
		`cloud.path_secret: must be at least 16 characters of [A-Za-z0-9_-]`,
	},
	"invalid-cloud-devices.yaml": {
		`cloud.devices.0: device id must be a positive integer`,
		`cloud.devices.012345: device id must be a positive integer without leading zeros`,
		`cloud.devices.67890: must be a lock serial of [A-Za-z0-9_-], 1-64 characters`,
		`cloud.devices."abc": device id must be a positive integer`,
	},
	"invalid-secret-files.yaml": {
		`http.secret_file: open /nonexistent/tedee2mqtt/http_secret: no such file or directory`,
		`mqtt.password_file: cannot be set together with mqtt.password`,
	},
	"invalid-many.yaml": {
		// decode problems, in document order
		`mqtt.qos: cannot use "high" as an integer`,
		`homeassistant.enabled: cannot use "maybe" as a boolean`,
		`homeassistant.discovery_prefx: unknown key (did you mean "discovery_prefix"?)`,
		// then validation problems
		`log.level: must be one of debug, info, warn, error (got "loud")`,
		`http.listen: must be host:port, e.g. ":8080" (got "8080")`,
		`mqtt.url: scheme must be one of tcp, mqtt, ssl, tls, mqtts, ws, wss (got "http")`,
		`mqtt.base_topic: must be topic segments of [A-Za-z0-9_-] separated by "/" (got "tedee/+")`,
		`bridges[0].token: required when bridges[0].host is set`,
		`bridges[0].token_mode: must be "encrypted" or "plain"`,
		`bridges[1].name: duplicate of bridges[0].name ("home")`,
		`bridges[1].callback_method: must be one of POST, GET, GET+NO_PARAMS (got "PUT")`,
		`cloud.path_secret: required when cloud.enabled is true`,
	},
}

func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]bool{}
	for _, f := range files {
		onDisk[filepath.Base(f)] = true
	}
	for name := range onDisk {
		if _, ok := invalidFiles[name]; !ok {
			t.Errorf("testdata/%s has no entry in invalidFiles", name)
		}
	}
	for name := range invalidFiles {
		if !onDisk[name] {
			t.Errorf("invalidFiles entry %s has no file in testdata", name)
		}
	}
	for name, want := range invalidFiles {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", name), nil)
			if err == nil {
				t.Fatal("Load succeeded, want problems")
			}
			if !reflect.DeepEqual(cfg, Config{}) {
				t.Errorf("Load returned a non-zero Config with an error")
			}
			assertProblems(t, err, want)
		})
	}
	if name := "invalid-many.yaml"; len(invalidFiles[name]) < 5 {
		t.Errorf("%s must show at least 5 problems at once", name)
	}
}

func assertProblems(t *testing.T, err error, want []string) {
	t.Helper()
	got := Problems(err)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got: %s\nwant: %s", quoteList(got), quoteList(want))
	}
}

func quoteList(l []string) string {
	var b strings.Builder
	for _, s := range l {
		fmt.Fprintf(&b, "\n\t%q", s)
	}
	return b.String()
}

func wantGood() Config {
	want := Default()
	want.Log = Log{Level: "debug", Format: "console"}
	want.HTTP = HTTP{Listen: "127.0.0.1:8080", Secret: "test-webhook-secret", MaxBodyBytes: 131072,
		MaxLocksPerBridge: 100, MaxConnsPerIP: 64}
	want.MQTT.URL = "tcp://127.0.0.1:1883"
	want.MQTT.ClientID = "tedee2mqtt-test"
	want.MQTT.Username = "tedee"
	want.MQTT.Password = "test-mqtt-password"
	want.MQTT.QoS = 0
	want.MQTT.BaseTopic = "home/tedee"
	want.Bridges = []Bridge{{
		Name:           "home",
		Host:           "192.0.2.10",
		Token:          "test-bridge-token",
		TokenMode:      "plain",
		PublicURL:      "http://192.0.2.20:8080",
		CallbackMethod: "GET+NO_PARAMS",
		PollInterval:   5 * time.Minute,
	}}
	want.Cloud = Cloud{
		Enabled:    true,
		PathSecret: "test-path-secret-0123456789",
		Devices:    map[string]string{"12345": "10000-20000", "67890": "SERIAL-2"},
		APIURL:     "https://api.tedee.com", RequestsPerHour: 600,
	}
	return want
}

func TestGoodFile(t *testing.T) {
	got, err := Load(filepath.Join("testdata", "good.yaml"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	assertConfig(t, got, wantGood())
}

func assertConfig(t *testing.T, got, want Config) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config:\n got: %+v\nwant: %+v", got, want)
	}
}

func TestLoadNoFileIsDefault(t *testing.T) {
	got, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	assertConfig(t, got, Default())
}

func TestExampleFileIsDefault(t *testing.T) {
	got, err := Load(filepath.Join("..", "..", "config.example.yaml"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	assertConfig(t, got, Default())
}

func TestExampleFileBridgeIsValid(t *testing.T) {
	// The commented example bridge in config.example.yaml must itself load.
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, commented, ok := strings.Cut(string(data), "bridges: []\n")
	if !ok {
		t.Fatal("config.example.yaml has no \"bridges: []\" line")
	}
	var lines []string
	for line := range strings.SplitSeq(commented, "\n") {
		rest, ok := strings.CutPrefix(line, "# ")
		if !ok {
			break
		}
		lines = append(lines, rest)
	}
	got, err := Load(writeFile(t, strings.Join(lines, "\n")), []string{"TEDEE2MQTT_BRIDGES_0_TOKEN=test-token"})
	if err != nil {
		t.Fatalf("example bridge: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if len(got.Bridges) != 1 || got.Bridges[0].Name != "home" || got.Bridges[0].PublicURL == "" {
		t.Errorf("example bridge = %+v", got.Bridges)
	}
}

// TestCommandsFromEnv: the command timeouts come from the file and the environment, and the
// environment wins.
func TestCommandsFromEnv(t *testing.T) {
	got, err := Load(writeFile(t, "commands:\n  queue_timeout: 2s\n  timeout: 20s\n"),
		[]string{"TEDEE2MQTT_COMMANDS_QUEUE_TIMEOUT=1500ms"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Commands != (Commands{QueueTimeout: 1500 * time.Millisecond, Timeout: 20 * time.Second}) {
		t.Errorf("commands = %+v", got.Commands)
	}
	if _, err := Load("", []string{"TEDEE2MQTT_COMMANDS_TIMEOUT=soon"}); err == nil ||
		!strings.Contains(err.Error(), "commands.timeout") {
		t.Errorf("bad duration from the environment: %v", err)
	}
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	if err := wantGood().Validate(); err != nil {
		t.Errorf("good config: Validate() = %v", err)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Cloud.Devices["1"] = "X"
	a.Bridges = append(a.Bridges, defaultBridge())
	b := Default()
	if len(b.Cloud.Devices) != 0 || len(b.Bridges) != 0 {
		t.Error("Default() shares its map or slice between calls")
	}
}

func TestValidateCollectsAll(t *testing.T) {
	c := Default()
	c.Log.Level = "verbose"
	c.MQTT.QoS = 3
	c.Bridges = []Bridge{{Name: "x", TokenMode: "plain", CallbackMethod: "GET", PollInterval: -time.Second}}
	assertProblems(t, c.Validate(), []string{
		`log.level: must be one of debug, info, warn, error (got "verbose")`,
		`mqtt.qos: must be 0, 1 or 2 (got 3)`,
		`bridges[0].poll_interval: must be 0 (disabled) or at least 1s (got -1s)`,
	})
}

// writeFile writes content to a new file in a test temp dir and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmptyFilesAreDefault(t *testing.T) {
	for _, content := range []string{
		"",
		"# only a comment\n\n# and another\n",
		"---\n",
		"log:\nhttp: {}\nmqtt:\n  url:\n  qos: ~\n  tls:\nbridges:\ncloud:\n  devices: null\n",
	} {
		got, err := Load(writeFile(t, content), nil)
		if err != nil {
			t.Errorf("%q: %v", content, err)
			continue
		}
		if !reflect.DeepEqual(got, Default()) {
			t.Errorf("%q: got %+v, want defaults", content, got)
		}
	}
}

func TestTopLevelNotAMapping(t *testing.T) {
	p := writeFile(t, "- a\n- b\n")
	_, err := Load(p, nil)
	assertProblems(t, err, []string{p + ": expected a mapping"})
}

func TestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(p, nil)
	if err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
	if want := "open config: open " + p + ": no such file or directory"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestBridgeDefaultsPerElement(t *testing.T) {
	got, err := Load(writeFile(t, `
bridges:
  - name: a
  - name: b
    token_mode: plain
    poll_interval: 0
  - name: c
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bridge{
		{Name: "a", TokenMode: "encrypted", CallbackMethod: "POST", PollInterval: time.Minute},
		{Name: "b", TokenMode: "plain", CallbackMethod: "POST", PollInterval: 0},
		{Name: "c", TokenMode: "encrypted", CallbackMethod: "POST", PollInterval: time.Minute},
	}
	if !reflect.DeepEqual(got.Bridges, want) {
		t.Errorf("bridges = %+v, want %+v", got.Bridges, want)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	_, err := Load(writeFile(t, `
bridges:
  - &common
    name: a
    host: 127.0.0.1
    token: test-token
    callback_method: GET
  - <<: *common
    name: b
    host: 127.0.0.2
  - *common
`), nil)
	// The third element repeats bridge "a", so its name is a duplicate.
	assertProblems(t, err, []string{`bridges[2].name: duplicate of bridges[0].name ("a")`})

	_, err = Load(writeFile(t, `
bridges:
  - &common
    name: a
    host: 127.0.0.1
    token: test-token
    callback_method: GET
  - <<: *common
    name: b
    host: 127.0.0.2
    tokn: typo
`), nil)
	assertProblems(t, err, []string{`bridges[1].tokn: unknown key (did you mean "token"?)`})

	got, err := Load(writeFile(t, `
bridges:
  - &common
    name: a
    host: 127.0.0.1
    token: test-token
    callback_method: GET
  - <<: *common
    name: b
    host: 127.0.0.2
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Bridge{Name: "b", Host: "127.0.0.2", Token: "test-token", TokenMode: "encrypted", CallbackMethod: "GET", PollInterval: time.Minute}
	if len(got.Bridges) != 2 || got.Bridges[1] != want {
		t.Errorf("bridges = %+v, want [1] = %+v", got.Bridges, want)
	}

	_, err = Load(writeFile(t, "log: &l\n  level: info\n  <<: *l\n"), nil)
	if err != nil {
		t.Errorf("self-merge: %v", err)
	}
	_, err = Load(writeFile(t, "log:\n  <<: 5\n"), nil)
	assertProblems(t, err, []string{`log.<<: expected a mapping or a list of mappings`})
	_, err = Load(writeFile(t, "<<: [5]\n"), nil)
	assertProblems(t, err, []string{`<<: expected a mapping or a list of mappings`})
}

func TestScalarSpellings(t *testing.T) {
	got, err := Load(writeFile(t, `
http:
  max_body_bytes: 0x10000
mqtt:
  qos: "2"
  password: 12345
  username: true
homeassistant:
  enabled: no
cloud:
  devices:
    12345: 0001
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.HTTP.MaxBodyBytes != 65536 || got.MQTT.QoS != 2 || got.MQTT.Password != "12345" ||
		got.MQTT.Username != "true" || got.HomeAssistant.Enabled || got.Cloud.Devices["12345"] != "0001" {
		t.Errorf("got %+v", got)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"PATH=/usr/bin",
		"TEDEE2MQTT_LOG_LEVEL=warn",
		"TEDEE2MQTT_MQTT_URL=ssl://127.0.0.1:8883",
		"TEDEE2MQTT_MQTT_QOS=2",
		"TEDEE2MQTT_MQTT_TLS_INSECURE_SKIP_VERIFY=true",
		"TEDEE2MQTT_HOMEASSISTANT_ENABLED=false",
		"TEDEE2MQTT_HTTP_MAX_BODY_BYTES=1024",
		"TEDEE2MQTT_CLOUD_DEVICES=12345=SERIAL-1, 67890=SERIAL-2,",
		"TEDEE2MQTT_BRIDGES_0_TOKEN=env-token",
		"TEDEE2MQTT_BRIDGES_0_POLL_INTERVAL=0",
	}
	got, err := Load(filepath.Join("testdata", "good.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	want := wantGood()
	want.Log.Level = "warn"
	want.MQTT.URL = "ssl://127.0.0.1:8883"
	want.MQTT.QoS = 2
	want.MQTT.TLS.InsecureSkipVerify = true
	want.HomeAssistant.Enabled = false
	want.HTTP.MaxBodyBytes = 1024
	want.Cloud.Devices = map[string]string{"12345": "SERIAL-1", "67890": "SERIAL-2"}
	want.Bridges[0].Token = "env-token"
	want.Bridges[0].PollInterval = 0
	assertConfig(t, got, want)

	// An empty value clears a string and empties the devices map.
	got, err = Load(filepath.Join("testdata", "good.yaml"), []string{"TEDEE2MQTT_MQTT_URL=", "TEDEE2MQTT_CLOUD_DEVICES="})
	if err != nil {
		t.Fatal(err)
	}
	if got.MQTT.URL != "" || got.Cloud.Devices == nil || len(got.Cloud.Devices) != 0 {
		t.Errorf("got url %q devices %v", got.MQTT.URL, got.Cloud.Devices)
	}

	// The later of two equal names wins, whatever the order of others.
	got, err = Load("", []string{"TEDEE2MQTT_MQTT_QOS=2", "TEDEE2MQTT_LOG_LEVEL=debug", "TEDEE2MQTT_MQTT_QOS=0"})
	if err != nil {
		t.Fatal(err)
	}
	if got.MQTT.QoS != 0 || got.Log.Level != "debug" {
		t.Errorf("qos %d level %q", got.MQTT.QoS, got.Log.Level)
	}
}

func TestEnvCreatesBridges(t *testing.T) {
	got, err := Load("", []string{
		"TEDEE2MQTT_BRIDGES_1_NAME=office",
		"TEDEE2MQTT_BRIDGES_0_NAME=home",
		"TEDEE2MQTT_BRIDGES_0_HOST=127.0.0.1",
		"TEDEE2MQTT_BRIDGES_0_TOKEN=test-token",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Bridge{
		{Name: "home", Host: "127.0.0.1", Token: "test-token", TokenMode: "encrypted", CallbackMethod: "POST", PollInterval: time.Minute},
		{Name: "office", TokenMode: "encrypted", CallbackMethod: "POST", PollInterval: time.Minute},
	}
	if !reflect.DeepEqual(got.Bridges, want) {
		t.Errorf("bridges = %+v, want %+v", got.Bridges, want)
	}

	// Appending after the bridges of the file.
	got, err = Load(filepath.Join("testdata", "good.yaml"), []string{"TEDEE2MQTT_BRIDGES_1_NAME=office"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Bridges) != 2 || got.Bridges[0].Name != "home" || got.Bridges[1].Name != "office" {
		t.Errorf("bridges = %+v", got.Bridges)
	}
}

func TestEnvProblems(t *testing.T) {
	_, err := Load("", []string{
		"TEDEE2MQTT_MQTT_URLL=tcp://127.0.0.1:1883",
		"TEDEE2MQTT_MQTT_QOS=x",
		"TEDEE2MQTT_HOMEASSISTANT_ENABLED=maybe",
		"TEDEE2MQTT_BRIDGES_0_NAME=home",
		"TEDEE2MQTT_BRIDGES_0_POLL_INTERVAL=soon",
		"TEDEE2MQTT_BRIDGES_0_TOKN=x",
		"TEDEE2MQTT_BRIDGES_01_NAME=x",
		"TEDEE2MQTT_BRIDGES_3_NAME=far",
		"TEDEE2MQTT_BRIDGES=x",
		"TEDEE2MQTT_MQTT_TLS=x",
		"TEDEE2MQTT_CLOUD_DEVICES=12345=SERIAL-1,oops,12345=SERIAL-2",
		"TEDEE2MQTT_=x",
		"tedee2mqtt_mqtt_url=lower-case is not ours",
		"OTHER_MQTT_URL=ignored",
	})
	assertProblems(t, err, []string{
		`TEDEE2MQTT_: unknown setting`,
		`TEDEE2MQTT_BRIDGES: unknown setting`,
		`TEDEE2MQTT_BRIDGES_01_NAME: unknown setting`,
		`TEDEE2MQTT_BRIDGES_0_TOKN: unknown setting`,
		`cloud.devices: cannot use "oops" as id=serial (from TEDEE2MQTT_CLOUD_DEVICES)`,
		`cloud.devices.12345: duplicate key (from TEDEE2MQTT_CLOUD_DEVICES)`,
		`homeassistant.enabled: cannot use "maybe" as a boolean (from TEDEE2MQTT_HOMEASSISTANT_ENABLED)`,
		`mqtt.qos: cannot use "x" as an integer (from TEDEE2MQTT_MQTT_QOS)`,
		`TEDEE2MQTT_MQTT_TLS: unknown setting`,
		`TEDEE2MQTT_MQTT_URLL: unknown setting`,
		`bridges[0].poll_interval: cannot use "soon" as a duration (e.g. 60s) (from TEDEE2MQTT_BRIDGES_0_POLL_INTERVAL)`,
		`bridges[3]: set from TEDEE2MQTT_BRIDGES_3_NAME but bridges[2] does not exist`,
	})

	_, err = Load("", []string{"TEDEE2MQTT_BRIDGES_0_NAME=home", "TEDEE2MQTT_BRIDGES_2_NAME=far"})
	assertProblems(t, err, []string{`bridges[2]: set from TEDEE2MQTT_BRIDGES_2_NAME but bridges[1] does not exist`})
}

func TestEnvNames(t *testing.T) {
	var got []string
	for name := range configEnv {
		got = append(got, envPrefix+name)
	}
	for name := range bridgeEnv {
		got = append(got, envPrefix+"BRIDGES_0_"+name)
	}
	sort.Strings(got)
	want := []string{
		"TEDEE2MQTT_BRIDGES_0_CALLBACK_METHOD",
		"TEDEE2MQTT_BRIDGES_0_HOST",
		"TEDEE2MQTT_BRIDGES_0_NAME",
		"TEDEE2MQTT_BRIDGES_0_POLL_INTERVAL",
		"TEDEE2MQTT_BRIDGES_0_PUBLIC_URL",
		"TEDEE2MQTT_BRIDGES_0_TOKEN",
		"TEDEE2MQTT_BRIDGES_0_TOKEN_FILE",
		"TEDEE2MQTT_BRIDGES_0_TOKEN_MODE",
		"TEDEE2MQTT_CLOUD_API_KEY",
		"TEDEE2MQTT_CLOUD_API_KEY_FILE",
		"TEDEE2MQTT_CLOUD_API_URL",
		"TEDEE2MQTT_CLOUD_DEVICES",
		"TEDEE2MQTT_CLOUD_ENABLED",
		"TEDEE2MQTT_CLOUD_PATH_SECRET",
		"TEDEE2MQTT_CLOUD_PATH_SECRET_FILE",
		"TEDEE2MQTT_CLOUD_REQUESTS_PER_HOUR",
		"TEDEE2MQTT_COMMANDS_QUEUE_TIMEOUT",
		"TEDEE2MQTT_COMMANDS_TIMEOUT",
		"TEDEE2MQTT_DATA_DIR",
		"TEDEE2MQTT_HOMEASSISTANT_DISCOVERY_PREFIX",
		"TEDEE2MQTT_HOMEASSISTANT_ENABLED",
		"TEDEE2MQTT_HOMEASSISTANT_LOCK_CODE",
		"TEDEE2MQTT_HOMEASSISTANT_LOCK_CODE_FILE",
		"TEDEE2MQTT_HOMEASSISTANT_STATUS_TOPIC",
		"TEDEE2MQTT_HTTP_LISTEN",
		"TEDEE2MQTT_HTTP_MAX_BODY_BYTES",
		"TEDEE2MQTT_HTTP_MAX_CONNS_PER_IP",
		"TEDEE2MQTT_HTTP_MAX_LOCKS_PER_BRIDGE",
		"TEDEE2MQTT_HTTP_SECRET",
		"TEDEE2MQTT_HTTP_SECRET_FILE",
		"TEDEE2MQTT_HTTP_UI_PASSWORD",
		"TEDEE2MQTT_HTTP_UI_PASSWORD_FILE",
		"TEDEE2MQTT_LOG_FORMAT",
		"TEDEE2MQTT_LOG_LEVEL",
		"TEDEE2MQTT_MQTT_BASE_TOPIC",
		"TEDEE2MQTT_MQTT_CLIENT_ID",
		"TEDEE2MQTT_MQTT_EMBEDDED_LISTEN",
		"TEDEE2MQTT_MQTT_PASSWORD",
		"TEDEE2MQTT_MQTT_PASSWORD_FILE",
		"TEDEE2MQTT_MQTT_QOS",
		"TEDEE2MQTT_MQTT_TLS_CA_FILE",
		"TEDEE2MQTT_MQTT_TLS_CERT_FILE",
		"TEDEE2MQTT_MQTT_TLS_INSECURE_SKIP_VERIFY",
		"TEDEE2MQTT_MQTT_TLS_KEY_FILE",
		"TEDEE2MQTT_MQTT_URL",
		"TEDEE2MQTT_MQTT_USERNAME",
	}
	if !slices.Equal(got, want) {
		t.Errorf("env names:%s\nwant:%s", quoteList(got), quoteList(want))
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	httpSecret := write("http_secret", "file-http-secret\n")
	mqttPassword := write("mqtt_password", "file mqtt password \t\r\n\n")
	bridgeToken := write("bridge_token", "file-bridge-token")
	cloudSecret := write("cloud_secret", "file-cloud-secret-0123456789\n")
	cfgPath := write("config.yaml", fmt.Sprintf(`
http:
  secret_file: %s
mqtt:
  username: tedee
  password_file: %s
bridges:
  - name: home
    host: 127.0.0.1
cloud:
  enabled: true
  path_secret_file: %s
`, httpSecret, mqttPassword, cloudSecret))

	got, err := Load(cfgPath, []string{"TEDEE2MQTT_BRIDGES_0_TOKEN_FILE=" + bridgeToken})
	if err != nil {
		t.Fatal(err)
	}
	if got.HTTP.Secret != "file-http-secret" || got.HTTP.SecretFile != httpSecret {
		t.Errorf("http: %q from %q", got.HTTP.Secret, got.HTTP.SecretFile)
	}
	if got.MQTT.Password != "file mqtt password" {
		t.Errorf("mqtt.password = %q", got.MQTT.Password)
	}
	if got.Bridges[0].Token != "file-bridge-token" {
		t.Errorf("bridges[0].token = %q", got.Bridges[0].Token)
	}
	if got.Cloud.PathSecret != "file-cloud-secret-0123456789" {
		t.Errorf("cloud.path_secret = %q", got.Cloud.PathSecret)
	}
	// A loaded config with *_file settings still validates.
	if err := got.Validate(); err != nil {
		t.Errorf("Validate after Load: %v", err)
	}

	empty := write("empty", " \n")
	missing := filepath.Join(dir, "missing")
	_, err = Load(cfgPath, []string{
		"TEDEE2MQTT_HTTP_SECRET=also-set",
		"TEDEE2MQTT_MQTT_PASSWORD_FILE=" + missing,
		"TEDEE2MQTT_BRIDGES_0_TOKEN_FILE=" + empty,
		"TEDEE2MQTT_CLOUD_PATH_SECRET_FILE=" + dir,
	})
	assertProblems(t, err, []string{
		`http.secret_file: cannot be set together with http.secret`,
		`mqtt.password_file: open ` + missing + `: no such file or directory`,
		`bridges[0].token_file: ` + empty + ` is empty`,
		`cloud.path_secret_file: read ` + dir + `: is a directory`,
	})
}

func TestSecretsNeverInErrors(t *testing.T) {
	secrets := []string{"SECRET-http", "SECRET-mqtt", "SECRET-token", "SECRET/cloud", "SECRET-env-token", "SECRET-file"}
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("SECRET-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(writeFile(t, `
http:
  secret: SECRET-http
  listen: nope
mqtt:
  url: http://user:SECRET-mqtt@127.0.0.1:1883
  password: SECRET-mqtt
  passwrd: SECRET-mqtt
bridges:
  - name: home
    token: SECRET-token
    token_mode: SECRET-token
  - name: Bad
    token_file: `+secretFile+`
    public_url: "http://user:SECRET-token@127.0.0.1:8080/%zz"
cloud:
  enabled: true
  path_secret: SECRET/cloud
`), []string{
		"TEDEE2MQTT_BRIDGES_7_TOKEN=SECRET-env-token",
		"TEDEE2MQTT_MQTT_PASSWORDD=SECRET-env-token",
		"TEDEE2MQTT_CLOUD_PATH_SECRET_FILE=" + secretFile,
	})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if n := len(Problems(err)); n < 8 {
		t.Errorf("only %d problems: %v", n, err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error text contains secret %q:\n%v", s, err)
		}
	}

	// A URL the parser rejects must not be echoed either.
	c := Default()
	c.MQTT.URL = "tcp://user:SECRET%zz@127.0.0.1:1883"
	assertProblems(t, c.Validate(), []string{`mqtt.url: must be a URL such as tcp://host:1883`})
}

func TestProblems(t *testing.T) {
	if got := Problems(nil); got != nil {
		t.Errorf("Problems(nil) = %q", got)
	}
	if got := Problems(errors.New("one")); !slices.Equal(got, []string{"one"}) {
		t.Errorf("Problems(one) = %q", got)
	}
	nested := errors.Join(errors.New("a"), errors.Join(errors.New("b"), errors.New("c")), nil)
	if got := Problems(nested); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Problems(nested) = %q", got)
	}
}

func TestValidHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1":             true,
		"127.0.0.1:80":          true,
		"bridge.local":          true,
		"bridge.local.":         true,
		"tedee-bridge":          true,
		"tedee-bridge:8080":     true,
		"::1":                   true,
		"[::1]":                 true,
		"[::1]:80":              true,
		"fe80::1%eth0":          true,
		"":                      false,
		"http://127.0.0.1":      false,
		"127.0.0.1/api":         false,
		"127.0.0.1:0":           false,
		"127.0.0.1:65536":       false,
		"127.0.0.1:http":        false,
		"-bridge":               false,
		"bridge..local":         false,
		"user@bridge":           false,
		"bridge name":           false,
		"[bridge]":              false,
		"[127.0.0.1]":           false,
		strings.Repeat("a", 64): false,
	} {
		if got := validHost(host); got != want {
			t.Errorf("validHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestValidListen(t *testing.T) {
	for addr, want := range map[string]bool{
		":8080":          true,
		":0":             true,
		"127.0.0.1:8080": true,
		"[::1]:8080":     true,
		"localhost:8080": true,
		"8080":           false,
		":":              false,
		":65536":         false,
		"host:port":      false,
		"":               false,
	} {
		if got := validListen(addr); got != want {
			t.Errorf("validListen(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestCloudAPISettings(t *testing.T) {
	const key = "smnxaz.IWA6u00VLQmA8tlfioDXcH+bSiI6u8LgTG9cv3Evh/E" // the documentation's example key
	got, err := Load("", []string{"TEDEE2MQTT_CLOUD_API_KEY=" + key, "TEDEE2MQTT_CLOUD_REQUESTS_PER_HOUR=120",
		"TEDEE2MQTT_CLOUD_API_URL=http://127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cloud.APIKey != key || got.Cloud.RequestsPerHour != 120 || got.Cloud.APIURL != "http://127.0.0.1:9999" {
		t.Errorf("cloud = %+v", got.Cloud)
	}
	_, err = Load("", []string{"TEDEE2MQTT_CLOUD_API_KEY=Bearer abc", "TEDEE2MQTT_CLOUD_REQUESTS_PER_HOUR=1000",
		"TEDEE2MQTT_CLOUD_API_URL=http://api.tedee.com"})
	for _, want := range []string{
		"cloud.api_key: must be a Tedee personal access key",
		"cloud.requests_per_hour: must be between 1 and 700, Tedee's limit per account and hour (got 1000)",
		"cloud.api_url: must be https://",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "Bearer abc") {
		t.Errorf("the error repeats the key: %v", err)
	}
}
