package statefile

import (
	"context"
	"encoding/json"
	"fmt"
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

// BenchmarkSave10000 is a save with state.MaxLocks locks of a typical json snapshot: once a
// second under load, so what it costs in CPU and garbage is paid every second.
func BenchmarkSave10000(b *testing.B) {
	f, err := Open(b.TempDir(), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	locks := make(map[string][]byte, 10000)
	for i := range 10000 {
		serial := fmt.Sprintf("2%07d-000001", i)
		locks[serial] = []byte(`{"serial":"` + serial + `","id":1000,"name":null,"model":"lock_pro","firmware":null,"state":"locked","jammed":false,"door":"closed","battery":90,"charging":false,"connected":true,"bridge":"load-000","updated_at":"2026-12-01T10:00:00.000Z","timestamp":"2026-12-01T10:00:00.000Z","timestamps":{"battery":"2026-12-01T10:00:00.000Z","connection":"2026-12-01T10:00:00.000Z","status":"2026-12-01T10:00:00.000Z"}}`)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Save(locks, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// The streamed file is what encoding/json would write, byte for byte, serials that need escaping
// included, so that Load (and anyone reading the file) reads it as before.
func TestWriteFileIsWhatJSONMarshalWrites(t *testing.T) {
	locks := map[string][]byte{
		"20000001-000001":   []byte(`{"serial":"20000001-000001","state":"locked"}`),
		"10000001-000002":   []byte(`{"serial":"10000001-000002","name":"Front \u003cdoor\u003e"}`),
		`odd "serial" <&>`:  []byte(`{}`),
		"ünïcode\u2028line": []byte(`null`),
	}
	now := time.Date(2026, 12, 2, 14, 0, 0, 123456789, time.FixedZone("CET", 3600))
	raw := make(map[string]json.RawMessage, len(locks))
	for k, v := range locks {
		raw[k] = v
	}
	want, err := json.Marshal(file{Version: version, SavedAt: now.UTC(), Locks: raw})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if err := writeFile(&got, locks, now); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("writeFile wrote\n%s\nencoding/json writes\n%s", got.String(), want)
	}
}
