package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeeapi"
)

// TestServesTheBridgeAPI runs the tool and talks to it with the real client.
func TestServesTheBridgeAPI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", addr, "-token", "t0k"}, &out) }()
	api := tedeeapi.New(tedeeapi.Options{BaseURL: "http://" + addr, Token: "t0k", MinInterval: time.Millisecond}, zap.NewNop())
	var locks []tedeeapi.LockDetails
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if locks, _, err = api.Locks(ctx); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(locks) != 2 || locks[0].Name != "Front door" {
		t.Fatalf("Locks() = %+v, %v", locks, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(out.String(), "Bridge API on http://"+addr) {
		t.Errorf("output %q", out.String())
	}
}
