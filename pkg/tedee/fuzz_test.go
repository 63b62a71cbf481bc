package tedee

import (
	"path/filepath"
	"strings"
	"testing"
)

// seed adds every bridge fixture of one format to the fuzzer's corpus.
func seed(f *testing.F, ext string, trim string) {
	files, err := filepath.Glob("testdata/bridge/*" + ext)
	if err != nil || len(files) == 0 {
		f.Fatalf("no %s fixtures: %v", ext, err)
	}
	for _, file := range files {
		f.Add(strings.TrimPrefix(readFixture(f, filepath.Join("bridge", filepath.Base(file))), trim))
	}
}

// checkDecoded asserts what every successfully decoded event guarantees to the rest of the program,
// whatever the input: a known device event names a serial that is safe as a topic segment.
func checkDecoded(t *testing.T, input string, ev Event, err error) {
	if err != nil {
		return
	}
	// Any parsable time is accepted, even year 1: a bridge whose clock is unset still reports
	// state, so the core must not treat the zero time as "never seen".
	if ev.Name == "" {
		t.Fatalf("decoded %q to an event without a name: %+v", input, ev)
	}
	if ev.Known() && ev.Name != EventBackendConnectionChanged && !ValidSerial(ev.Serial) {
		t.Fatalf("decoded %q to unsafe serial %q", input, ev.Serial)
	}
	if ev.Name == EventLockStatusChanged && ev.State == nil {
		t.Fatalf("lock-status-changed without state from %q", input)
	}
	if len(ev.Data) > maxFields+2 {
		t.Fatalf("decoded %d fields from %q", len(ev.Data), input)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	seed(f, ".json", "")
	f.Add(`{"event":"lock-status-changed","timestamp":"2026-09-22T21:34:40.395Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"X","state":4,"jammed":0,"source":18,"user_id":0,"doorState":0}}` + "\x00")
	f.Fuzz(func(t *testing.T, body string) {
		ev, err := DecodeJSON([]byte(body))
		checkDecoded(t, body, ev, err)
	})
}

func FuzzDecodeQuery(f *testing.F) {
	seed(f, ".get", "?")
	f.Fuzz(func(t *testing.T, query string) {
		ev, err := DecodeQuery(query)
		checkDecoded(t, query, ev, err)
	})
}

func FuzzDecodePath(f *testing.F) {
	seed(f, ".noparams", "")
	f.Fuzz(func(t *testing.T, path string) {
		ev, err := DecodePath(path)
		checkDecoded(t, path, ev, err)
		// The GET form of the same pairs must decode to the same event, where no character means
		// something different in a query string ("&", ";" separate, "+" is a space, "%" escapes).
		if err == nil && !strings.ContainsAny(path, "&;+%?#") {
			q, qerr := DecodeQuery(strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "&"))
			if qerr == nil && (q.Name != ev.Name || q.Serial != ev.Serial || !q.Timestamp.Equal(ev.Timestamp)) {
				t.Fatalf("path %q and query forms differ: %+v vs %+v", path, ev, q)
			}
		}
	})
}
