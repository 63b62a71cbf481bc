package secretkey

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCreatesOnceAndDerivesStableSecrets(t *testing.T) {
	dir := t.TempDir()
	k1, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || info.Size() != keySize {
		t.Errorf("key file: mode %v, size %d; want 0600, %d", info.Mode().Perm(), info.Size(), keySize)
	}
	k2, err := Load(dir) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if a, b := k1.BridgeSecret("home"), k2.BridgeSecret("home"); a != b || len(a) != 43 {
		t.Errorf("secret across restarts: %q then %q (want equal, 43 characters)", a, b)
	}
	if k1.BridgeSecret("home") == k1.BridgeSecret("garage") {
		t.Error("two bridges share a secret")
	}
	other, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.BridgeSecret("home") == k1.BridgeSecret("home") {
		t.Error("two installations share a secret")
	}
	if s := k1.String(); strings.Contains(s, string(k1.b)) || !strings.Contains(s, "redacted") {
		t.Errorf("String() = %q", s)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data_dir holds %d files, want only the key", len(entries))
	}
}

func TestLoadRefusesAKeyOfTheWrongSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Errorf("Load with a 5-byte key: err = %v", err)
	}
}
