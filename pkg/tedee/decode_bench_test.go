package tedee_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedee"
)

// The decoder benchmarks use the documented bridge samples, plus the lock-status-changed webhook
// as real bridges send it (with the undocumented source and user_id fields), which is what almost
// every webhook is. Run with:
//
//	go test ./pkg/tedee -run '^$' -bench . -benchmem

func readSample(b *testing.B, name string) string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bridge", name))
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimRight(string(data), "\n")
}

// realStatus is a lock-status-changed webhook as a 2025 bridge sends it.
const realStatus = `{"event":"lock-status-changed","timestamp":"2026-09-22T21:34:40.395Z","data":{"deviceType":2,"deviceId":33819,"serialNumber":"19420103-000006","state":6,"jammed":0,"doorState":3,"source":18,"user_id":0}}`

func BenchmarkDecodeJSON(b *testing.B) {
	for _, tc := range []struct{ name, body string }{
		{"lock-status-changed", readSample(b, "lock-status-changed.json")},
		{"lock-status-changed-real", realStatus},
		{"device-battery-level-changed", readSample(b, "device-battery-level-changed.json")},
		{"device-connection-changed", readSample(b, "device-connection-changed.json")},
	} {
		body := []byte(tc.body)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := tedee.DecodeJSON(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeQuery(b *testing.B) {
	for _, name := range []string{"lock-status-changed", "device-battery-level-changed", "device-connection-changed"} {
		query := strings.TrimPrefix(readSample(b, name+".get"), "?")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(query)))
			for b.Loop() {
				if _, err := tedee.DecodeQuery(query); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodePath(b *testing.B) {
	for _, name := range []string{"lock-status-changed", "device-battery-level-changed", "device-connection-changed"} {
		path := readSample(b, name+".noparams")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(path)))
			for b.Loop() {
				if _, err := tedee.DecodePath(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
