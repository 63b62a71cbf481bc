package controller

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyAllows(t *testing.T) {
	p := Policy{Allowed: map[string][]string{"L-1": {CommandLock, CommandForceUnlock}}}
	for _, tt := range []struct {
		serial, cmd string
		want        bool
	}{
		{"L-1", CommandLock, true}, {"L-1", CommandUnlock, false}, {"L-1", CommandForceUnlock, true},
		{"L-2", CommandOpen, true}, {"L-2", CommandForceUnlock, false},
	} {
		if got := p.Allows(tt.serial, tt.cmd); got != tt.want {
			t.Errorf("Allows(%s, %s) = %v", tt.serial, tt.cmd, got)
		}
	}
}

func TestCodeGuard(t *testing.T) {
	g := newCodeGuard("2468")
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if r := g.check("L-1", "2468", now); r != "" {
		t.Fatalf("the right code: %s", r)
	}
	for i := range maxWrongCodes {
		if r := g.check("L-1", "0000", now.Add(time.Duration(i)*time.Second)); r != "wrong code" {
			t.Fatalf("wrong code %d: %s", i, r)
		}
	}
	if r := g.check("L-1", "2468", now.Add(time.Minute)); !strings.Contains(r, "blocked") {
		t.Errorf("the right code while blocked: %q", r)
	}
	if r := g.check("L-2", "2468", now.Add(time.Minute)); r != "" {
		t.Errorf("another lock is not blocked: %q", r)
	}
	if r := g.check("L-1", "2468", now.Add(codeLockout+time.Minute)); r != "" {
		t.Errorf("after the lockout: %q", r)
	}
}
