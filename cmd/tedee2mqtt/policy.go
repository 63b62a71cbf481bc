package main

import (
	"strings"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
)

// commandPolicy is what the locks accept: locks.<serial>.commands and homeassistant.lock_code.
func commandPolicy(cfg config.Config) controller.Policy {
	p := controller.Policy{Allowed: map[string][]string{}, Code: cfg.HomeAssistant.LockCode}
	for serial, lock := range cfg.Locks {
		if lock.Commands != nil {
			p.Allowed[serial] = lock.Commands
		}
	}
	return p
}

// codeFormat is the regular expression Home Assistant checks an entered code against: digits
// for a numeric code (a keypad), anything otherwise. Never the code's length: discovery configs
// are retained and readable by every client of the broker.
func codeFormat(code string) string {
	switch {
	case code == "":
		return ""
	case strings.Trim(code, "0123456789") == "":
		return `^\d+$`
	default:
		return "^.+$"
	}
}
