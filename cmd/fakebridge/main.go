// Command fakebridge runs a fake Tedee Bridge on this machine, so tedee2mqtt can be tried without
// hardware: it serves the Bridge API (with token checking), moves two simulated locks when asked,
// and sends webhooks to the callbacks registered on it.
//
//	go run ./cmd/fakebridge -listen 127.0.0.1:8081 -token demo-token
//
// then point a tedee2mqtt bridge at it (host: 127.0.0.1:8081, token: demo-token,
// public_url: http://127.0.0.1:8080).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakebridge:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("fakebridge", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:8081", "address to serve the Bridge API on")
	token := flags.String("token", "demo-token", "API token")
	mode := flags.String("token-mode", tedeeapi.ModeEncrypted, "encrypted | plain")
	scale := flags.Float64("time-scale", 1, "multiplies every lock movement delay")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *mode != tedeeapi.ModeEncrypted && *mode != tedeeapi.ModePlain {
		return fmt.Errorf("-token-mode must be encrypted or plain")
	}
	fb := fakebridge.New(fakebridge.DemoOptions(*token, *mode, *scale))
	defer fb.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: fb, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "%s: Bridge API on http://%s/v1.0 (token %q, %s mode)\n", fb, ln.Addr(), *token, *mode)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
