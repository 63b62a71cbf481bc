package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestUIPassword: the status page's password comes from the file, its own file or the
// environment, is refused when short, and its value appears in no problem.
func TestUIPassword(t *testing.T) {
	if got := load(t, "http:\n  ui_password: \"short\"\n"); !slices.Equal(got,
		[]string{"http.ui_password: must be at least 8 characters: it guards unlock and open"}) {
		t.Errorf("short password: %q", got)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "ui_password")
	if err := os.WriteFile(file, []byte("from-the-file-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("http:\n  ui_password_file: "+file+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath, nil)
	if err != nil || cfg.HTTP.UIPassword != "from-the-file-123" {
		t.Errorf("from the file: %q, %v", cfg.HTTP.UIPassword, err)
	}
	cfg, err = Load(cfgPath, []string{"TEDEE2MQTT_HTTP_UI_PASSWORD_FILE=", "TEDEE2MQTT_HTTP_UI_PASSWORD=from-the-env-123"})
	if err != nil || cfg.HTTP.UIPassword != "from-the-env-123" {
		t.Errorf("from the environment: %q, %v", cfg.HTTP.UIPassword, err)
	}
}
