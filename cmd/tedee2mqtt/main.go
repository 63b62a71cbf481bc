// Command tedee2mqtt receives Tedee Bridge webhooks and publishes every lock's state to MQTT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT sets another ("off": none).
// Idle the service holds a few MiB, with 1,000 locks under load about 10; the garbage collector's
// default (the heap may double the live data before it runs) then costs nothing. With 10,000 locks
// flat out it let RSS reach 113 MiB; at this limit 66 MiB, for 15 % more CPU per webhook
// (docs/benchmarks.md). A soft limit: past it the collector runs more often, it never fails.
const defaultMemoryLimit = 48 << 20

// procs is how many goroutines run at once (GOMAXPROCS) given the runtime's default, unless the
// GOMAXPROCS variable sets it. On two CPUs (a small host, or a container limited to two) the
// service runs one: the broker, and often Home Assistant, share those CPUs, and with a second P
// every hand-over between goroutines (handler, outbox, paho, the connection's writer) may wake an
// idle P whose thread spins looking for work. Measured there with 1,000 locks flat out: 270 ->
// 176 us of CPU per webhook, 0.90 -> 0.96 of a passthrough's throughput, the answer's p99 17 ->
// 13.5 ms; the cost is the tail while thousands of locks are first seen at once (10,000 in a
// minute: answer p99 17-20 -> 33-35 ms, docs/benchmarks.md step 13). Larger hosts keep the default:
// nothing was measured there.
func procs(runtimeDefault int) int {
	if runtimeDefault <= 2 {
		return 1
	}
	return runtimeDefault
}

func main() {
	// A log reader that goes away (a closed pipe on stderr) must not stop a door lock's bridge: Go
	// exits on SIGPIPE from a write to stdout or stderr unless the signal is ignored; then the
	// write fails with EPIPE, which the logger drops.
	signal.Ignore(syscall.SIGPIPE)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(procs(runtime.GOMAXPROCS(0)))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "tedee2mqtt:", err)
		stop()
		os.Exit(1)
	}
}
