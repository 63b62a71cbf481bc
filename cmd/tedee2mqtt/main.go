// Command tedee2mqtt receives Tedee Bridge webhooks and publishes every lock's state to MQTT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A log reader that goes away (a closed pipe on stderr) must not stop a door lock's bridge: Go
	// exits on SIGPIPE from a write to stdout or stderr unless the signal is ignored; then the
	// write fails with EPIPE, which the logger drops.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "tedee2mqtt:", err)
		stop()
		os.Exit(1)
	}
}
