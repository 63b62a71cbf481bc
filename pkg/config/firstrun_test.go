package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// load writes yaml to a file and loads it, returning the problems.
func load(t *testing.T, yaml string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	return Problems(err)
}

// TestPublicURLMistakes: the natural mistakes with public_url are problems that say why.
func TestPublicURLMistakes(t *testing.T) {
	for url, want := range map[string]string{
		"http://192.0.2.10:8080/webhook/home": "without a path: the service adds /webhook/<name> itself (use http://192.0.2.10:8080)",
		"https://192.0.2.10:8443":             "the bridge's firmware fails on https callbacks",
		"http://192.0.2.10:8080/?x=1":         "must not have a query",
		"192.0.2.10:8080":                     "must be",
	} {
		got := load(t, "bridges:\n  - name: home\n    host: 192.0.2.50\n    token: tok\n    public_url: \""+url+"\"\n")
		if len(got) != 1 || !strings.HasPrefix(got[0], "bridges[0].public_url: ") || !strings.Contains(got[0], want) {
			t.Errorf("public_url %s: %q, want one problem saying %q", url, got, want)
		}
	}
	if got := load(t, "bridges:\n  - name: home\n    host: 192.0.2.50\n    token: tok\n    public_url: http://192.0.2.10:8080/\n"); len(got) != 0 {
		t.Errorf("a trailing slash is fine: %q", got)
	}
}

func TestReadableProblems(t *testing.T) {
	if got := load(t, "log:\n  level: INFO\n"); len(got) != 0 {
		t.Errorf("an upper-case level: %q", got)
	}
	got := load(t, "mqtt:\n\turl: tcp://x:1883\n")
	if len(got) != 1 || !strings.Contains(got[0], "line 2 is indented with a tab") {
		t.Errorf("a tab: %q", got)
	}
	got = load(t, "mqtt:\n  pasword: x\nhomeassistant:\n  Discovery-Prefix: ha\n")
	if len(got) != 2 || !strings.Contains(got[0], `did you mean "password"?`) || !strings.Contains(got[1], `did you mean "discovery_prefix"?`) {
		t.Errorf("near misses: %q", got)
	}
}

func TestLockPolicy(t *testing.T) {
	got := load(t, "homeassistant:\n  lock_code: \"12\"\nlocks:\n  \"19420103-000006\":\n    commands: [lock, unlock, shout]\n  \"a/b\":\n    commands: [lock]\n")
	want := []string{`homeassistant.lock_code: must be 4 to 32 characters without spaces`,
		`locks.19420103-000006.commands[2]: must be one of lock, unlock, open, pull, force_unlock (got "shout")`,
		`locks.a/b: must be a lock serial such as 19420103-000006`}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %q in %q", w, got)
		}
	}
	if got := load(t, "homeassistant:\n  lock_code: \"2468\"\nlocks:\n  \"19420103-000006\":\n    commands: [lock, force_unlock]\n"); len(got) != 0 {
		t.Errorf("a valid policy: %q", got)
	}
}
