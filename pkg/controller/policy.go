package controller

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"sync"
	"time"
)

// CommandForceUnlock unlocks in Tedee's force mode (2), which unlocks even when the lock thinks it
// is already unlocked. It exists only where locks.<serial>.commands lists it.
const CommandForceUnlock = "force_unlock"

// DefaultCommands are what a lock accepts when locks.<serial>.commands does not say.
var DefaultCommands = []string{CommandLock, CommandUnlock, CommandOpen, CommandPull}

// Policy is what the locks accept: per-lock allow-lists (locks.<serial>.commands) and the code
// Home Assistant asks for before unlocking or opening (homeassistant.lock_code).
type Policy struct {
	Allowed map[string][]string // serial → commands; a lock not listed accepts DefaultCommands
	Code    string              // "" : no code
}

// Allows reports whether the lock accepts the command.
func (p Policy) Allows(serial, command string) bool {
	allowed, ok := p.Allowed[serial]
	if !ok {
		allowed = DefaultCommands
	}
	return slices.Contains(allowed, command)
}

// OpenAllowed is Allows for open, for what Home Assistant is offered.
func (p Policy) OpenAllowed(serial string) bool { return p.Allows(serial, CommandOpen) }

// needsCode reports whether the command opens the door and so needs the code, when one is set.
func (p Policy) needsCode(command string) bool {
	return p.Code != "" && command != CommandLock
}

// Wrong codes: after maxWrongCodes within wrongCodeWindow, a lock's coded commands are refused
// for codeLockout, so that a code cannot be guessed at the speed of MQTT.
const (
	maxWrongCodes   = 5
	wrongCodeWindow = 10 * time.Minute
	codeLockout     = 5 * time.Minute
)

// codeGuard checks codes in constant time and counts wrong ones per lock.
type codeGuard struct {
	digest [sha256.Size]byte // of the configured code: comparing digests takes the same time whatever the lengths
	mu     sync.Mutex
	wrong  map[string][]time.Time // serial → times of recent wrong codes
}

func newCodeGuard(code string) *codeGuard {
	return &codeGuard{digest: sha256.Sum256([]byte(code)), wrong: map[string][]time.Time{}}
}

// check returns "" when the code is right, else why the command is refused.
func (g *codeGuard) check(serial, code string, now time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	recent := g.wrong[serial][:0:0]
	for _, t := range g.wrong[serial] {
		if now.Sub(t) < wrongCodeWindow {
			recent = append(recent, t)
		}
	}
	g.wrong[serial] = recent
	if len(recent) >= maxWrongCodes {
		if until := recent[len(recent)-1].Add(codeLockout); now.Before(until) {
			return fmt.Sprintf("refused: %d wrong codes in a row; commands that need the code are blocked for this lock until %s",
				len(recent), until.UTC().Format(time.RFC3339))
		}
	}
	sum := sha256.Sum256([]byte(code))
	if subtle.ConstantTimeCompare(sum[:], g.digest[:]) == 1 {
		delete(g.wrong, serial)
		return ""
	}
	g.wrong[serial] = append(recent, now)
	if code == "" {
		return `this command needs the code (homeassistant.lock_code): send {"command":"unlock","code":"…"}`
	}
	return "wrong code"
}
