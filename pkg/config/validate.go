package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	logLevels       = []string{"debug", "info", "warn", "error"}
	logFormats      = []string{"auto", "json", "console"}
	mqttSchemes     = []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}
	tokenModes      = []string{"encrypted", "plain"}
	callbackMethods = []string{"POST", "GET", "GET+NO_PARAMS"}

	topicSegment = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	bridgeName   = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
	pathSecret   = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)
	lockSerial   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	hostLabel    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$`)
	maxBodyBytes = int64(10 << 20)
	// maxLocksPerBridge is the store's MaxLocks: a property manager's cloud-only locks all count
	// under the cloud's share, and may be thousands.
	maxLocksPerBridge = 10000
	maxConnsPerIP     = 4096
	maxClientIDLen    = 65535
)

// Validate checks c and returns an errors.Join of every problem found, each
// formatted "<yaml path>: <message>", or nil. It checks that configured TLS
// files exist. A secret counts as set when either it or its *_file variant
// is set; that both are set is reported by [Load], which reads the file.
func (c Config) Validate() error {
	return c.validate().err()
}

func (c Config) validate() problems {
	var ps problems

	if !slices.Contains(logLevels, strings.ToLower(c.Log.Level)) { // zap reads INFO as info
		ps.add("log.level", "must be one of %s (got %q)", strings.Join(logLevels, ", "), c.Log.Level)
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		ps.add("log.format", "must be one of %s (got %q)", strings.Join(logFormats, ", "), c.Log.Format)
	}

	if !validListen(c.HTTP.Listen) {
		ps.add("http.listen", "must be host:port, e.g. \":8080\" (got %q)", c.HTTP.Listen)
	}
	if c.HTTP.MaxBodyBytes < 1 || c.HTTP.MaxBodyBytes > maxBodyBytes {
		ps.add("http.max_body_bytes", "must be between 1 and %d (got %d)", maxBodyBytes, c.HTTP.MaxBodyBytes)
	}

	if n := c.HTTP.MaxLocksPerBridge; n < 1 || n > maxLocksPerBridge {
		ps.add("http.max_locks_per_bridge", "must be between 1 and %d (got %d)", maxLocksPerBridge, n)
	}
	if n := c.HTTP.MaxConnsPerIP; n < 1 || n > maxConnsPerIP {
		ps.add("http.max_conns_per_ip", "must be between 1 and %d (got %d)", maxConnsPerIP, n)
	}
	// The status page's password guards unlock and open: too short is too easy to guess, even
	// at the few guesses a minute the page allows.
	const minUIPassword = 8
	if p := c.HTTP.UIPassword; p != "" && len(p) < minUIPassword {
		ps.add("http.ui_password", "must be at least %d characters: it guards unlock and open", minUIPassword)
	}

	c.validateMQTT(&ps)

	validateTopic(&ps, "homeassistant.discovery_prefix", c.HomeAssistant.DiscoveryPrefix)
	validateTopic(&ps, "homeassistant.status_topic", c.HomeAssistant.StatusTopic)

	c.validateBridges(&ps)
	c.validateCloud(&ps)
	c.validateCommands(&ps)
	c.validateLocks(&ps)
	if strings.TrimSpace(c.DataDir) == "" {
		ps.add("data_dir", "must name a directory (the service keeps its state there)")
	}
	return ps
}

// Bounds of the command timeouts: below them a command cannot even reach the bridge (one request
// a second) or see the lock move; above them a door would move long after it was asked to.
const (
	minQueueTimeout = 100 * time.Millisecond
	minTimeout      = time.Second
	maxCommandWait  = 10 * time.Minute
)

func (c Config) validateCommands(ps *problems) {
	if q := c.Commands.QueueTimeout; q < minQueueTimeout || q > maxCommandWait {
		ps.add("commands.queue_timeout", "must be between %v and %v (got %v)", minQueueTimeout, maxCommandWait, q)
	}
	if d := c.Commands.Timeout; d < minTimeout || d > maxCommandWait {
		ps.add("commands.timeout", "must be between %v and %v (got %v)", minTimeout, maxCommandWait, d)
	}
}

func (c Config) validateMQTT(ps *problems) {
	m := c.MQTT
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		switch {
		case err != nil: // the parse error would echo the URL, which may hold a password
			ps.add("mqtt.url", "must be a URL such as tcp://host:1883")
		case !slices.Contains(mqttSchemes, u.Scheme):
			ps.add("mqtt.url", "scheme must be one of %s (got %q)", strings.Join(mqttSchemes, ", "), u.Scheme)
		case u.Hostname() == "":
			ps.add("mqtt.url", "missing host")
		}
	} else if !validListen(m.EmbeddedListen) {
		ps.add("mqtt.embedded_listen", "must be host:port, e.g. \"127.0.0.1:1883\" (got %q)", m.EmbeddedListen)
	} else {
		c.validateEmbedded(ps)
	}
	switch {
	case m.ClientID == "":
		ps.add("mqtt.client_id", "must not be empty")
	case len(m.ClientID) > maxClientIDLen:
		ps.add("mqtt.client_id", "must be at most %d bytes (got %d)", maxClientIDLen, len(m.ClientID))
	}
	if m.Username == "" && (m.Password != "" || m.PasswordFile != "") {
		ps.add("mqtt.username", "required when mqtt.password is set")
	}
	if m.QoS < 0 || m.QoS > 2 {
		ps.add("mqtt.qos", "must be 0, 1 or 2 (got %d)", m.QoS)
	}
	validateTopic(ps, "mqtt.base_topic", m.BaseTopic)

	t := m.TLS
	for _, f := range []struct{ path, file string }{
		{"mqtt.tls.ca_file", t.CAFile},
		{"mqtt.tls.cert_file", t.CertFile},
		{"mqtt.tls.key_file", t.KeyFile},
	} {
		if f.file == "" {
			continue
		}
		if _, err := os.Stat(f.file); err != nil {
			ps.add(f.path, "%v", err)
		}
	}
	if plain := plainScheme(m.URL); plain != "" {
		for _, f := range []struct {
			path string
			set  bool
		}{
			{"mqtt.tls.ca_file", t.CAFile != ""}, {"mqtt.tls.cert_file", t.CertFile != ""},
			{"mqtt.tls.key_file", t.KeyFile != ""}, {"mqtt.tls.insecure_skip_verify", t.InsecureSkipVerify},
		} {
			if f.set {
				ps.add(f.path, "is only used with ssl://, tls://, mqtts:// or wss://; %s connects in plain text", plain)
			}
		}
	}
	if t.CertFile == "" && t.KeyFile != "" {
		ps.add("mqtt.tls.cert_file", "required when mqtt.tls.key_file is set")
	}
	if t.KeyFile == "" && t.CertFile != "" {
		ps.add("mqtt.tls.key_file", "required when mqtt.tls.cert_file is set")
	}
}

// validateEmbedded: the embedded broker lets anyone who reaches it publish commands (open a door)
// unless it asks for credentials, so it listens beyond this host only with them.
func (c Config) validateEmbedded(ps *problems) {
	m := c.MQTT
	if m.Username != "" && m.Password == "" && m.PasswordFile == "" {
		ps.add("mqtt.password", "required when mqtt.username is set and the embedded broker is used (it admits only these credentials)")
	}
	host, _, _ := net.SplitHostPort(m.EmbeddedListen)
	if m.Username == "" && !loopback(host) {
		ps.add("mqtt.embedded_listen", "%q is reachable from other hosts: set mqtt.username and mqtt.password "+
			"(anyone who reaches an anonymous broker can unlock the doors), or listen on 127.0.0.1", m.EmbeddedListen)
	}
}

// loopback reports whether a listen host is reachable from this host only. An empty host or a
// name other than localhost may be any interface.
func loopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// plainScheme returns how a broker URL connects when that is in plain text ("tcp://", or "the
// embedded broker" for no URL), else "".
func plainScheme(rawURL string) string {
	if rawURL == "" {
		return "the embedded broker"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ws":
		return u.Scheme + "://"
	}
	return ""
}

func (c Config) validateBridges(ps *problems) {
	first := map[string]int{}
	for i, b := range c.Bridges {
		p := fmt.Sprintf("bridges[%d]", i)
		switch {
		case b.Name == "":
			ps.add(p+".name", "required")
		case !bridgeName.MatchString(b.Name):
			ps.add(p+".name", "must be 1-32 characters of [a-z0-9_-] (got %q)", b.Name)
		case b.Name == "cloud":
			ps.add(p+".name", "%q is reserved (the Tedee Cloud's webhook route)", b.Name)
		case b.Name == "bridge":
			ps.add(p+".name", "%q is reserved (the operator API's topics, <base>/bridge/...)", b.Name)
		default:
			if j, dup := first[b.Name]; dup {
				ps.add(p+".name", "duplicate of bridges[%d].name (%q)", j, b.Name)
			} else {
				first[b.Name] = i
			}
		}

		if b.Host != "" && !validHost(b.Host) {
			ps.add(p+".host", "must be a host name or IP address, optionally with :port, without scheme (got %q)", b.Host)
		}
		hasToken := b.Token != "" || b.TokenFile != ""
		if b.Host != "" && !hasToken {
			ps.add(p+".token", "required when %s.host is set", p)
		}
		if b.Host == "" && hasToken {
			ps.add(p+".token", "requires %s.host (the token is only used for the Bridge API)", p)
		}
		if !slices.Contains(tokenModes, b.TokenMode) {
			ps.add(p+".token_mode", `must be "encrypted" or "plain"`)
		}
		if b.PublicURL != "" {
			if b.Host == "" {
				ps.add(p+".public_url", "requires %s.host (the Bridge API registers the callback)", p)
			}
			if problem := publicURLProblem(b.PublicURL); problem != "" {
				ps.add(p+".public_url", "%s", problem)
			}
		}
		if !slices.Contains(callbackMethods, b.CallbackMethod) {
			ps.add(p+".callback_method", "must be one of %s (got %q)", strings.Join(callbackMethods, ", "), b.CallbackMethod)
		}
		if b.PollInterval < 0 || (b.Host != "" && b.PollInterval != 0 && b.PollInterval < time.Second) {
			ps.add(p+".poll_interval", "must be 0 (disabled) or at least 1s (got %v)", b.PollInterval)
		}
	}
}

func (c Config) validateCloud(ps *problems) {
	cl := c.Cloud
	if cl.Enabled && cl.PathSecret == "" && cl.PathSecretFile == "" {
		ps.add("cloud.path_secret", "required when cloud.enabled is true")
	}
	if cl.PathSecret != "" && !pathSecret.MatchString(cl.PathSecret) {
		ps.add("cloud.path_secret", "must be at least 16 characters of [A-Za-z0-9_-]")
	}
	if cl.APIKey != "" && !apiKey.MatchString(cl.APIKey) {
		ps.add("cloud.api_key", "must be a Tedee personal access key (a prefix, a dot, then base64, as portal.tedee.com/personal-access-keys shows it once)")
	}
	if problem := cloudURLProblem(cl.APIURL); problem != "" {
		ps.add("cloud.api_url", "%s", problem)
	}
	if cl.RequestsPerHour < 1 || cl.RequestsPerHour > 700 {
		ps.add("cloud.requests_per_hour", "must be between 1 and 700, Tedee's limit per account and hour (got %d)", cl.RequestsPerHour)
	}
	ids := make([]string, 0, len(cl.Devices))
	for id := range cl.Devices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := joinMapKey("cloud.devices", id)
		n, err := strconv.ParseInt(id, 10, 64)
		switch {
		case err != nil || n <= 0:
			ps.add(p, "device id must be a positive integer")
		case strconv.FormatInt(n, 10) != id:
			ps.add(p, "device id must be a positive integer without leading zeros")
		}
		if !lockSerial.MatchString(cl.Devices[id]) {
			ps.add(p, "must be a lock serial of [A-Za-z0-9_-], 1-64 characters")
		}
	}
}

// apiKey is the shape of a personal access key: "smnxaz.IWA6u00VLQmA8tlfioDXcH+bSiI6u8LgTG9cv3Evh/E".
// Checked loosely (a prefix, a dot, base64) so that a pasted token of another kind, or one with a
// line break in it, is caught here rather than as a 401 an hour later.
var apiKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9+/_=-]{8,512}$`)

// cloudURLProblem says what is wrong with cloud.api_url, or "". https is required except on
// loopback (the fake cloud of the tests and the demo): the key travels in every request.
func cloudURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("must be an absolute URL such as https://api.tedee.com (got %q)", s)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "must be https:// (the personal access key is sent with every request); http:// only on loopback"
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("must be an https:// URL (got scheme %q)", u.Scheme)
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or a fragment"
	}
	return ""
}

func validateTopic(ps *problems, path, topic string) {
	for seg := range strings.SplitSeq(topic, "/") {
		if !topicSegment.MatchString(seg) {
			ps.add(path, "must be topic segments of [A-Za-z0-9_-] separated by \"/\" (got %q)", topic)
			return
		}
	}
}

// validListen reports whether s is a listen address host:port with a
// numeric port 0-65535 and an empty, IP or host name host.
func validListen(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || !validPort(port, 0) {
		return false
	}
	return host == "" || validIP(host) || validHostname(host)
}

// validHost reports whether s is a host name or IP address, optionally with
// :port (IPv6 in brackets when a port is given), without scheme or path.
func validHost(s string) bool {
	if s == "" || strings.ContainsAny(s, "/?#@ \t") {
		return false
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if !validPort(port, 1) {
			return false
		}
		if strings.Contains(host, ":") {
			return validIP(host) // [v6]:port
		}
		return validIP(host) || validHostname(host)
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		return ok && strings.Contains(inner, ":") && validIP(inner)
	}
	return validIP(s) || validHostname(s)
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func validPort(s string, lowest uint64) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n >= lowest
}

// publicURLProblem says what is wrong with a public_url, or "". It is tedee2mqtt's own base URL
// as the bridge reaches it: the service appends /webhook/<name> itself, so a path would be
// doubled (and every webhook then a 404), and the bridge's firmware is known to fail on https
// callbacks (Home Assistant core PR #109408: it may need a factory reset).
func publicURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return "must be an absolute http:// URL such as http://192.168.1.10:8080"
	case u.Scheme == "https":
		return "must be http://: the bridge's firmware fails on https callbacks (and may need a factory reset); keep the callback on the LAN"
	case u.Scheme != "http":
		return fmt.Sprintf("must be an http:// URL (got scheme %q)", u.Scheme)
	case strings.Trim(u.Path, "/") != "":
		return fmt.Sprintf("is tedee2mqtt's base URL, without a path: the service adds /webhook/<name> itself (use %s://%s)",
			u.Scheme, u.Host)
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or a fragment: the bridge appends the webhook's own"
	}
	return ""
}

// commandWords are what locks.<serial>.commands may list.
var commandWords = []string{"lock", "unlock", "open", "pull", "force_unlock"}

func (c Config) validateLocks(ps *problems) {
	for serial, policy := range c.Locks {
		p := "locks." + serial
		if !lockSerial.MatchString(serial) {
			ps.add(p, "must be a lock serial such as 19420103-000006")
			continue
		}
		for i, cmd := range policy.Commands {
			if !slices.Contains(commandWords, cmd) {
				ps.add(fmt.Sprintf("%s.commands[%d]", p, i), "must be one of %s (got %q)", strings.Join(commandWords, ", "), cmd)
			}
		}
	}
	if code := c.HomeAssistant.LockCode; code != "" {
		if len(code) < 4 || len(code) > 32 || strings.IndexFunc(code, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			ps.add("homeassistant.lock_code", "must be 4 to 32 characters without spaces")
		}
	}
}
