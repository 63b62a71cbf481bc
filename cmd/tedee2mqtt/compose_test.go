package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// withSecretFiles replaces every /run/secrets/<name> in a compose environment by a file with a
// stand-in secret, so that -check-config can read it.
func withSecretFiles(t *testing.T, environ []string) []string {
	t.Helper()
	dir := t.TempDir()
	out := make([]string, len(environ))
	for i, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(v, "/run/secrets/"); ok {
			v = filepath.Join(dir, name)
			if err := os.WriteFile(v, []byte("stand-in-secret-0123\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out[i] = k + "=" + v
	}
	return out
}

// The stack's containers run with no capabilities, a read-only root file system and no way to
// gain privileges; the broker asks for a password, which both sides take from one Docker secret.
func TestDockerComposeHardening(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			User        string
			ReadOnly    bool     `yaml:"read_only"`
			CapDrop     []string `yaml:"cap_drop"`
			SecurityOpt []string `yaml:"security_opt"`
			Secrets     []string
			Volumes     []string
			Entrypoint  []string
			Environment map[string]string
		}
		Secrets map[string]struct{ File string }
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mosquitto", "tedee2mqtt"} {
		s := c.Services[name]
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: read_only %v, cap_drop %v, security_opt %v; want true, [ALL], no-new-privileges:true",
				name, s.ReadOnly, s.CapDrop, s.SecurityOpt)
		}
		if !slices.Contains(s.Secrets, "mqtt_password") {
			t.Errorf("%s: secrets %v, want mqtt_password", name, s.Secrets)
		}
	}
	if f := c.Secrets["mqtt_password"].File; f != "./mqtt_password" {
		t.Errorf("secret mqtt_password from %q, want ./mqtt_password", f)
	}
	mq := c.Services["mosquitto"]
	if mq.User == "" || strings.HasPrefix(mq.User, "0") || strings.HasPrefix(mq.User, "root") {
		t.Errorf("mosquitto runs as %q: with no capabilities it must start as its own user", mq.User)
	}
	if !slices.Contains(mq.Volumes, "./deploy/mosquitto/entrypoint.sh:/mosquitto/config/entrypoint.sh:ro") ||
		!slices.Equal(mq.Entrypoint, []string{"/bin/sh", "/mosquitto/config/entrypoint.sh"}) {
		t.Errorf("mosquitto entrypoint %v, volumes %v: want the password file made by entrypoint.sh", mq.Entrypoint, mq.Volumes)
	}
	env := c.Services["tedee2mqtt"].Environment
	if env["TEDEE2MQTT_MQTT_USERNAME"] != "tedee2mqtt" || env["TEDEE2MQTT_MQTT_PASSWORD_FILE"] != "/run/secrets/mqtt_password" {
		t.Errorf("tedee2mqtt's broker credentials: %v", env)
	}
}

// entrypoint.sh makes the password file on the first start and follows the secret afterwards,
// keeping other users; Mosquitto then admits tedee2mqtt with the secret, and nobody anonymous.
func TestMosquittoEntrypoint(t *testing.T) {
	mosquitto, err := lookupBroker()
	if err != nil {
		t.Fatalf("mosquitto is needed to check the compose stack's broker configuration: %v", err)
	}
	dir := t.TempDir()
	secret, passwd := filepath.Join(dir, "mqtt_password"), filepath.Join(dir, "passwd")
	script, err := os.ReadFile("../../deploy/mosquitto/entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer("/run/secrets/mqtt_password", secret, "/mosquitto/data/passwd", passwd).Replace(string(script))
	scriptPath := filepath.Join(dir, "entrypoint.sh")
	if err := os.WriteFile(scriptPath, []byte(local), 0o700); err != nil {
		t.Fatal(err)
	}
	entry := func(password string) {
		t.Helper()
		if err := os.WriteFile(secret, []byte(password), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("/bin/sh", scriptPath, "true").CombinedOutput(); err != nil {
			t.Fatalf("entrypoint.sh: %v: %s", err, out)
		}
	}
	if err := os.WriteFile(secret, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/bin/sh", scriptPath, "true").CombinedOutput(); err == nil || !strings.Contains(string(out), "mqtt_password") {
		t.Errorf("entrypoint.sh with an empty secret: %v %s; want a refusal naming the secret", err, out)
	}
	entry("first-password-1")
	if info, err := os.Stat(passwd); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Fatalf("password file: %v, mode %v; want it readable by its owner only", err, info.Mode().Perm())
	}
	// Another user, added as the README says.
	if out, err := exec.Command("mosquitto_passwd", "-b", passwd, "homeassistant", "ha-password-1").CombinedOutput(); err != nil {
		t.Fatalf("add a user: %v %s", err, out)
	}
	entry("second-password-2") // the secret changed: the next start follows it

	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\n", port, passwd)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mosquitto, "-c", confPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto did not listen")
		}
	}
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{
		{"tedee2mqtt", "second-password-2", true}, {"homeassistant", "ha-password-1", true},
		{"tedee2mqtt", "first-password-1", false}, {"", "", false},
	} {
		if err := mqttConnect(t, addr, c.user, c.pass); (err == nil) != c.ok {
			t.Errorf("user %q password %q: err = %v, want admitted: %v", c.user, c.pass, err, c.ok)
		}
	}
}

// lookupBroker finds mosquitto as internal/brokertest does.
func lookupBroker() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	return exec.LookPath("/usr/sbin/mosquitto")
}
