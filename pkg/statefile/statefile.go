// Package statefile keeps the service's own copy of what it knows, data_dir/state.json: every
// lock's json snapshot, written atomically within a second of a change and at shutdown, and read
// first at the next start. So a change accepted while the broker is down survives a stop, and the
// ordering rule survives a restart even with a broker that forgets (contract §4 "Durability").
package statefile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Name is the file's name in data_dir.
const Name = "state.json"

// maxFileBytes bounds what Load reads: 10,000 locks (state.MaxLocks) at about 600 bytes each
// fit several times over, and a file grown past it by accident or on purpose is not parsed.
const maxFileBytes = 64 << 20

// version is the format written; Load refuses others rather than misread them.
const version = 1

// file is the format: each lock's json snapshot (the payload of <base>/<serial>/json) by serial,
// so that a changed base topic does not orphan it.
type file struct {
	Version int                        `json:"version"`
	SavedAt time.Time                  `json:"saved_at"`
	Locks   map[string]json.RawMessage `json:"locks"`
}

// File is data_dir/state.json.
type File struct {
	path string
	log  *zap.Logger
}

// Open makes sure dir exists and is writable, and returns its state file. A directory that
// cannot be written is an error at startup, not a loss at the first stop.
func Open(dir string, log *zap.Logger) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return nil, fmt.Errorf("data_dir %s is not writable (set data_dir or TEDEE2MQTT_DATA_DIR): %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &File{path: filepath.Join(dir, Name), log: log}, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Load returns the snapshots saved, by serial; none when there is no file yet.
func (f *File) Load() (map[string][]byte, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	defer fh.Close()
	if info, err := fh.Stat(); err == nil && info.Size() > maxFileBytes {
		return nil, fmt.Errorf("read %s: larger than %d MiB, not a state file of ours", f.path, maxFileBytes>>20)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("read %s: larger than %d MiB, not a state file of ours", f.path, maxFileBytes>>20)
	}
	var v file
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	if v.Version != version {
		return nil, fmt.Errorf("read %s: format version %d, this build reads %d", f.path, v.Version, version)
	}
	out := make(map[string][]byte, len(v.Locks))
	for serial, raw := range v.Locks {
		out[serial] = raw
	}
	return out, nil
}

// Save writes the snapshots (by serial) atomically: a temporary file in the same directory,
// written and synced, then renamed over the old one, and the directory synced, so that a crash
// at any point leaves either the old file or the new one, never a torn one.
//
// Each payload must be a JSON value, as the store marshals them: they are written as they are,
// streamed in serial order. Marshalling the whole file instead (encoding/json re-validates and
// re-compacts every raw payload) took 45 ms of CPU and 8 MB of garbage a save at 10,000 locks,
// once a second under load (BenchmarkSave10000).
func (f *File) Save(locks map[string][]byte, now time.Time) error {
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+Name+".*")
	if err != nil {
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := writeFile(tmp, locks, now); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself; not every filesystem supports it, and the data is safe already
		d.Close()
	}
	return nil
}

// writeFile writes the format of file: what json.Marshal(file{...}) writes, keys sorted alike.
func writeFile(w io.Writer, locks map[string][]byte, now time.Time) error {
	serials := slices.Sorted(maps.Keys(locks))
	bw := bufio.NewWriterSize(w, 64<<10)
	savedAt, err := json.Marshal(now.UTC())
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, `{"version":%d,"saved_at":%s,"locks":{`, version, savedAt)
	for i, serial := range serials {
		if i > 0 {
			bw.WriteByte(',')
		}
		writeKey(bw, serial)
		bw.WriteByte(':')
		bw.Write(locks[serial])
	}
	bw.WriteString("}}")
	return bw.Flush() // the first write error, if any, sticks to bw
}

// writeKey writes a serial as a JSON string. Serials are digits and a dash: those go as they are;
// anything else is escaped as encoding/json escapes it.
func writeKey(bw *bufio.Writer, serial string) {
	for _, c := range []byte(serial) {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_') {
			key, _ := json.Marshal(serial) // a string always marshals
			bw.Write(key)
			return
		}
	}
	bw.WriteByte('"')
	bw.WriteString(serial)
	bw.WriteByte('"')
}

// Source is what Keep saves: the owner of the state.
type Source interface {
	// Changed returns a channel closed at the next change.
	Changed() <-chan struct{}
	// Snapshots returns every lock's json snapshot, by serial.
	Snapshots() map[string][]byte
}

// Keep saves src at once (what changed before it started), then within interval of every
// change, until ctx is done. It does not save at the end: the caller does, once nothing can change
// any more (webhooks in flight finished).
func (f *File) Keep(ctx context.Context, src Source, interval time.Duration) {
	changed := src.Changed()
	f.save(src)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		// Let the changes of a burst gather: one write a second at most.
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		changed = src.Changed() // before reading: a change from here on makes another round
		f.save(src)
	}
}

func (f *File) save(src Source) {
	if err := f.Save(src.Snapshots(), time.Now()); err != nil {
		f.log.Error("could not save the state; a stop now would lose what the broker has not taken", zap.Error(err))
	}
}
