// Package secretkey keeps the service's own random key (data_dir/secret.key) and derives from it
// the bearer secret of each bridge whose callback tedee2mqtt registers itself. A derived secret is
// the same after every restart, so the callback registered on the bridge stays valid, and needs
// no configuration, so a self-registered callback is never left without one.
package secretkey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the key's file in data_dir.
const FileName = "secret.key"

// keySize is the key's length in bytes: the size of the HMAC-SHA256 block output, more than any
// guess can cover.
const keySize = 32

// Key derives per-bridge secrets. Its String never shows the key.
type Key struct{ b []byte }

func (Key) String() string { return "secretkey.Key(<redacted>)" }

// Load reads dir/secret.key, creating it (32 random bytes, mode 0600) when it does not exist. A
// key file of the wrong size is an error rather than replaced: replacing it would change every
// derived secret and silently break the callbacks registered with them.
func Load(dir string) (Key, error) {
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != keySize {
			return Key{}, fmt.Errorf("read %s: %d bytes, want %d (remove it to make a new one; self-registered callbacks are then repaired)",
				path, len(b), keySize)
		}
		return Key{b: b}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Key{}, fmt.Errorf("read %s: %w", path, err)
	}
	b = make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("make %s: %w", path, err)
	}
	if err := create(path, b); err != nil {
		if errors.Is(err, fs.ErrExist) { // another start won the race: use its key
			return Load(dir)
		}
		return Key{}, err
	}
	return Key{b: b}, nil
}

// create writes the key to a temporary file and links it into place, so that no reader ever sees
// a partial key and an existing key is never overwritten.
func create(path string, key []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), FileName+".*")
	if err != nil {
		return fmt.Errorf("make %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone once linked, or garbage either way
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("make %s: %w", path, err)
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return fmt.Errorf("make %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("make %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("make %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("make %s: %w", path, err)
	}
	return nil
}

// BridgeSecret is the bearer secret of the named bridge: HMAC-SHA256(key, "bridge-callback:" +
// name), base64url without padding (43 characters a bridge header carries as they are).
func (k Key) BridgeSecret(bridge string) string {
	m := hmac.New(sha256.New, k.b)
	m.Write([]byte("bridge-callback:" + bridge))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
