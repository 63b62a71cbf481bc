package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time: go build -ldflags "-X main.version=1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = ""
)

// buildInfo returns the version and the commit: as set at build time, else the commit Go
// recorded from version control, else "unknown".
func buildInfo() (string, string) {
	rev := commit
	if info, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return version, rev
}

func versionString() string {
	v, rev := buildInfo()
	return fmt.Sprintf("tedee2mqtt %s (commit %s, %s)", v, rev, runtime.Version())
}
