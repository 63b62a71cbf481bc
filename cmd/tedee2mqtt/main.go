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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "tedee2mqtt:", err)
		stop()
		os.Exit(1)
	}
}
