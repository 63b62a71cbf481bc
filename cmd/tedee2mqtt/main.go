// Command tedee2mqtt receives Tedee Bridge webhooks and publishes every lock's state to MQTT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT sets another ("off": none).
// Idle the service holds a few MiB, with 1,000 locks under load about 10; the garbage collector's
// default (the heap may double the live data before it runs) then costs nothing. With 10,000 locks
// flat out it let RSS reach 113 MiB; at this limit 66 MiB, for 15 % more CPU per webhook
// (docs/benchmarks.md). A soft limit: past it the collector runs more often, it never fails.
const defaultMemoryLimit = 48 << 20

func main() {
	// A log reader that goes away (a closed pipe on stderr) must not stop a door lock's bridge: Go
	// exits on SIGPIPE from a write to stdout or stderr unless the signal is ignored; then the
	// write fails with EPIPE, which the logger drops.
	signal.Ignore(syscall.SIGPIPE)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "tedee2mqtt:", err)
		stop()
		os.Exit(1)
	}
}
