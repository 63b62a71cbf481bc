// Package config loads and validates the tedee2mqtt configuration.
//
// The configuration is built in layers by [Load]: the defaults from
// [Default], then a YAML file, then TEDEE2MQTT_* environment variables, then
// secrets read from *_file settings, and finally [Config.Validate].
//
// Every problem is reported as "<yaml path>: <message>", for example
// "mqtt.qos: must be 0, 1 or 2 (got 3)" or "bridges[0].token_mode: must be
// \"encrypted\" or \"plain\"". All problems are collected and returned together
// as one error built with [errors.Join]; [Problems] splits it back into one
// string per problem. Secret values (passwords, tokens, path secrets) are never
// included in any message.
package config

import (
	"errors"
	"fmt"
	"time"
)

// Config is the complete tedee2mqtt configuration.
type Config struct {
	Log           Log           `yaml:"log"`
	HTTP          HTTP          `yaml:"http"`
	MQTT          MQTT          `yaml:"mqtt"`
	HomeAssistant HomeAssistant `yaml:"homeassistant"`
	Bridges       []Bridge      `yaml:"bridges"`
	Cloud         Cloud         `yaml:"cloud"`
	Commands      Commands      `yaml:"commands"`
	// Locks holds per-lock policy by serial (from the file only: no environment variable).
	Locks map[string]LockPolicy `yaml:"locks"`
	// DataDir holds the service's own state (state.json) and the embedded broker's store, so that
	// what was accepted survives a restart even while the broker is down.
	DataDir string `yaml:"data_dir"`
}

// Log configures logging.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// Format is auto (console on a terminal, json otherwise), json or console.
	Format string `yaml:"format"`
}

// HTTP configures the webhook HTTP server.
type HTTP struct {
	// Listen is the host:port the server listens on.
	Listen string `yaml:"listen"`
	// Secret is the webhook shared secret (never logged).
	Secret string `yaml:"secret"`
	// SecretFile is a file Secret is read from (mutually exclusive with Secret).
	SecretFile string `yaml:"secret_file"`
	// MaxBodyBytes limits the size of a webhook request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxLocksPerBridge bounds the locks that webhooks to one bridge's route can make known, so
	// that a flood of invented serials cannot grow memory or the retained topics without limit.
	// Locks the Bridge API lists always get in.
	MaxLocksPerBridge int `yaml:"max_locks_per_bridge"`
	// MaxConnsPerIP bounds the HTTP connections open at once from one address, so that one slow
	// client cannot hold every webhook slot or file descriptor.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// UIPassword, when set, enables the status page's sign-in and its lock, unlock and open
	// buttons (never logged); empty leaves the page read-only.
	UIPassword string `yaml:"ui_password"`
	// UIPasswordFile is a file UIPassword is read from (mutually exclusive with UIPassword).
	UIPasswordFile string `yaml:"ui_password_file"`
}

// MQTT configures the MQTT connection, or the embedded broker when URL is empty.
type MQTT struct {
	// URL is the broker URL (tcp://, mqtt://, ssl://, tls://, mqtts://, ws://,
	// wss://). Empty starts the embedded broker on EmbeddedListen.
	URL string `yaml:"url"`
	// EmbeddedListen is the host:port of the embedded broker (used when URL is empty).
	EmbeddedListen string `yaml:"embedded_listen"`
	ClientID       string `yaml:"client_id"`
	Username       string `yaml:"username"`
	// Password is the broker password (never logged).
	Password string `yaml:"password"`
	// PasswordFile is a file Password is read from (mutually exclusive with Password).
	PasswordFile string `yaml:"password_file"`
	// QoS is the MQTT quality of service for published messages: 0, 1 or 2.
	QoS int `yaml:"qos"`
	// BaseTopic is the prefix of every topic tedee2mqtt publishes.
	BaseTopic string `yaml:"base_topic"`
	TLS       TLS    `yaml:"tls"`
}

// TLS configures TLS for the MQTT client connection.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// HomeAssistant configures Home Assistant MQTT discovery.
type HomeAssistant struct {
	Enabled         bool   `yaml:"enabled"`
	DiscoveryPrefix string `yaml:"discovery_prefix"`
	// StatusTopic is the Home Assistant birth/last-will topic; discovery is
	// re-published when it reports "online".
	StatusTopic string `yaml:"status_topic"`
	// LockCode, when set, is asked by Home Assistant before it unlocks or opens (never logged).
	LockCode string `yaml:"lock_code"`
	// LockCodeFile is a file LockCode is read from (mutually exclusive with LockCode).
	LockCodeFile string `yaml:"lock_code_file"`
}

// LockPolicy is what one lock accepts (locks.<serial>).
type LockPolicy struct {
	// Commands allowed on the lock's set topic; default lock, unlock, open and pull.
	// force_unlock (Tedee's unlock mode 2) only when listed.
	Commands []string `yaml:"commands"`
}

// Bridge is one Tedee bridge that sends webhooks to tedee2mqtt.
type Bridge struct {
	// Name identifies the bridge in topics and in its webhook route; [a-z0-9_-]{1,32}.
	Name string `yaml:"name"`
	// Host is the bridge's host name or IP address, optionally with :port,
	// used for the local Bridge API. Empty means webhooks only.
	Host string `yaml:"host"`
	// Token is the Bridge API token (never logged).
	Token string `yaml:"token"`
	// TokenFile is a file Token is read from (mutually exclusive with Token).
	TokenFile string `yaml:"token_file"`
	// TokenMode is "encrypted" or "plain".
	TokenMode string `yaml:"token_mode"`
	// PublicURL is the http:// URL under which the bridge reaches tedee2mqtt;
	// when set, the callback is registered through the Bridge API.
	PublicURL string `yaml:"public_url"`
	// CallbackMethod is POST, GET or GET+NO_PARAMS.
	CallbackMethod string `yaml:"callback_method"`
	// PollInterval is how often the Bridge API is polled; 0 disables polling.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Cloud configures the Tedee cloud webhook route.
type Cloud struct {
	Enabled bool `yaml:"enabled"`
	// PathSecret is the secret URL path segment of the cloud webhook route (never logged).
	PathSecret string `yaml:"path_secret"`
	// PathSecretFile is a file PathSecret is read from (mutually exclusive with PathSecret).
	PathSecretFile string `yaml:"path_secret_file"`
	// Devices maps a Tedee device id (decimal string) to the lock serial number. With an API key
	// the Cloud API's device list maps them instead; these entries still apply before it is read.
	Devices map[string]string `yaml:"devices"`
	// APIKey is a Tedee personal access key (never logged): it enables the Cloud API features
	// (who opened the door, firmware, settings, accessory batteries, cloud commands).
	APIKey string `yaml:"api_key"`
	// APIKeyFile is a file APIKey is read from (mutually exclusive with APIKey).
	APIKeyFile string `yaml:"api_key_file"`
	// APIURL is the Cloud API's base URL (tests and the demo point it at a fake).
	APIURL string `yaml:"api_url"`
	// RequestsPerHour caps the requests sent to the Cloud API; Tedee allows 700 per account and
	// hour, shared by every integration of the account.
	RequestsPerHour int `yaml:"requests_per_hour"`
}

// Commands bounds how long lock commands may take.
type Commands struct {
	// QueueTimeout is how long a command may wait to be sent to the bridge (behind the lock's
	// previous command or the bridge's other requests); past it the command is refused, never
	// executed late.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// Timeout is how long a command waits for the lock to report the new state.
	Timeout time.Duration `yaml:"timeout"`
}

// Default returns the default configuration. Every call returns fresh
// (non-shared) slices and maps.
func Default() Config {
	return Config{
		Log: Log{Level: "info", Format: "auto"},
		HTTP: HTTP{
			Listen:            ":8080",
			MaxBodyBytes:      65536,
			MaxLocksPerBridge: 100,
			MaxConnsPerIP:     64,
		},
		MQTT: MQTT{
			EmbeddedListen: "127.0.0.1:1883",
			ClientID:       "tedee2mqtt",
			QoS:            1,
			BaseTopic:      "tedee",
		},
		HomeAssistant: HomeAssistant{
			Enabled:         true,
			DiscoveryPrefix: "homeassistant",
			StatusTopic:     "homeassistant/status",
		},
		Bridges:  []Bridge{},
		Cloud:    Cloud{Devices: map[string]string{}, APIURL: "https://api.tedee.com", RequestsPerHour: 600},
		Commands: Commands{QueueTimeout: 5 * time.Second, Timeout: 30 * time.Second},
		Locks:    map[string]LockPolicy{},
		DataDir:  "./data",
	}
}

// defaultBridge is the starting value of every element of bridges.
func defaultBridge() Bridge {
	return Bridge{
		TokenMode:      "encrypted",
		CallbackMethod: "POST",
		PollInterval:   60 * time.Second,
	}
}

// problem is one configuration problem: "<path>: <msg>".
type problem struct {
	path string
	msg  string
}

func (p *problem) Error() string {
	if p.path == "" {
		return p.msg
	}
	return p.path + ": " + p.msg
}

// problems collects configuration problems in order.
type problems []error

func (ps *problems) add(path, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	*ps = append(*ps, &problem{path: path, msg: msg})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return errors.Join(ps...)
}

// Problems splits an error returned by [Load] or [Config.Validate] into its
// messages, one string per problem. It returns nil for a nil error; an error
// that does not join several errors gives one string.
func Problems(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				if inner != nil {
					walk(inner)
				}
			}
			return
		}
		out = append(out, e.Error())
	}
	walk(err)
	return out
}
