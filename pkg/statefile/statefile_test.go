package statefile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

func open(t *testing.T) (*File, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data") // created by Open
	f, err := Open(dir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func TestSaveLoad(t *testing.T) {
	f, dir := open(t)
	if got, err := f.Load(); err != nil || got != nil {
		t.Fatalf("Load with no file: %v, %v", got, err)
	}
	locks := map[string][]byte{"L-1": []byte(`{"serial":"L-1","state":"locked"}`), "L-2": []byte(`{"serial":"L-2"}`)}
	if err := f.Save(locks, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["L-1"]) != `{"serial":"L-1","state":"locked"}` {
		t.Errorf("loaded %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != Name {
		t.Errorf("left in data_dir: %v (temporary files must not stay)", entries)
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("data_dir mode %v, want 0700 (it may hold lock state)", info.Mode().Perm())
	}
}

func TestLoadRefusesWhatIsNotOurs(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      `{"version":1,"locks":`,
		"other version": `{"version":2,"locks":{}}`,
	} {
		f, _ := open(t)
		if err := os.WriteFile(f.Path(), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Load(); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	f, _ := open(t)
	if err := os.WriteFile(f.Path(), []byte(`{"version":1,"locks":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f.Path(), maxFileBytes+1); err != nil { // sparse: no 64 MiB written
		t.Fatal(err)
	}
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

func TestOpenRefusesUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; a file in the way stands in for a directory it cannot use.
		dir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, zap.NewNop()); err == nil {
			t.Error("a file as data_dir was accepted")
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "TEDEE2MQTT_DATA_DIR") {
		t.Errorf("read-only data_dir: %v", err)
	}
}

// source is a Source whose snapshots tests change.
type source struct {
	mu      sync.Mutex
	changed chan struct{}
	locks   map[string][]byte
}

func (s *source) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *source) Snapshots() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range s.locks {
		out[k] = v
	}
	return out
}

func (s *source) set(serial, payload string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks[serial] = []byte(payload)
	close(s.changed)
	s.changed = make(chan struct{})
}

// TestKeepSavesEveryChange: each change is on disk within the interval, including one made while
// a save is under way.
func TestKeepSavesEveryChange(t *testing.T) {
	f, _ := open(t)
	src := &source{changed: make(chan struct{}), locks: map[string][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Keep(ctx, src, 20*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	for i, payload := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		src.set("L-1", payload)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := f.Load()
			if string(got["L-1"]) == payload {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("change %d not saved: %q", i, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
