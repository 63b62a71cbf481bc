package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// renderCommand renders a lock entity's command_template as Home Assistant does for a press of
// its button with the code typed in: value is the payload, code the code.
func renderCommand(t *testing.T, config, value, code string) string {
	t.Helper()
	const key = `"command_template":"`
	i := strings.Index(config, key)
	if i < 0 {
		t.Fatalf("no command_template in %s", config)
	}
	tpl := config[i+len(key):]
	tpl = tpl[:strings.Index(tpl, `","`)]
	tpl = strings.ReplaceAll(tpl, `\"`, `"`)
	return strings.NewReplacer("{{ value }}", value, "{{ code }}", code).Replace(tpl)
}

// TestCommandPolicy: per-lock allow-lists (Home Assistant offered only what is allowed), the
// code Home Assistant asks for (rendered through the entity's command_template), wrong codes
// refused and, after five, blocked; force_unlock only where listed.
func TestCommandPolicy(t *testing.T) {
	b := brokertest.Start(t)
	cfg := "homeassistant:\n  lock_code: \"2468\"\nlocks:\n  \"" + goSerial + "\":\n    commands: [lock]\n  \"" + proSerial +
		"\":\n    commands: [lock, unlock, force_unlock]\n"
	fb, rec, _ := startCommandService(t, b, cfg, true)
	all := brokertest.NewRecorder(t, b.URL(), "homeassistant/#")
	var pro, gocfg string
	all.WaitUntil(t, waitTimeout, "both lock entities", func([]brokertest.Message) bool {
		p, ok1 := all.Last("homeassistant/lock/tedee_" + proSerial + "_lock/config")
		g, ok2 := all.Last("homeassistant/lock/tedee_" + goSerial + "_lock/config")
		pro, gocfg = p.Payload, g.Payload
		return ok1 && ok2
	})
	if !strings.Contains(pro, `"code_format":"^\\d+$"`) || strings.Contains(pro, "2468") || strings.Contains(pro, `"payload_open"`) {
		t.Errorf("the PRO's entity (open not allowed, a numeric code): %s", pro)
	}
	if strings.Contains(gocfg, `"payload_open"`) {
		t.Errorf("the GO is offered open: %s", gocfg)
	}

	send := func(serial, payload string) {
		brokertest.Publish(t, b.URL(), "tedee/"+serial+"/set", payload)
	}
	// Home Assistant's unlock with the right code, as its template renders it.
	send(proSerial, strings.Replace(renderCommand(t, pro, "unlock", "2468"), `"code"`, `"transaction":"ok1","code"`, 1))
	if res := resultOf(t, rec, proSerial, "ok1", 20*time.Second); !res.OK || res.State != "unlocked" {
		t.Fatalf("unlock with the code: %+v", res)
	}
	before := len(fb.Executions())
	send(proSerial, `{"command":"lock","transaction":"l1"}`) // locking needs no code
	if res := resultOf(t, rec, proSerial, "l1", 20*time.Second); !res.OK {
		t.Fatalf("lock without a code: %+v", res)
	}
	for i, code := range []string{"", "1111", "2222", "3333", "4444"} {
		tx := "w" + string(rune('0'+i))
		send(proSerial, `{"command":"unlock","transaction":"`+tx+`","code":"`+code+`"}`)
		if res := resultOf(t, rec, proSerial, tx, waitTimeout); res.OK || !strings.Contains(res.Error, "code") {
			t.Errorf("unlock with code %q: %+v", code, res)
		}
	}
	send(proSerial, `{"command":"unlock","transaction":"blocked","code":"2468"}`)
	if res := resultOf(t, rec, proSerial, "blocked", waitTimeout); res.OK || !strings.Contains(res.Error, "blocked") {
		t.Errorf("the right code after five wrong ones: %+v", res)
	}
	send(goSerial, `{"command":"unlock","transaction":"g1","code":"2468"}`)
	if res := resultOf(t, rec, goSerial, "g1", waitTimeout); res.OK || !strings.Contains(res.Error, "not allowed") {
		t.Errorf("unlock of the GO, which may only lock: %+v", res)
	}
	send(proSerial, `{"command":"open","transaction":"o1","code":"2468"}`)
	if res := resultOf(t, rec, proSerial, "o1", waitTimeout); res.OK || !strings.Contains(res.Error, "not allowed") {
		t.Errorf("open of the PRO, not listed: %+v", res)
	}
	if got := len(fb.Executions()) - before; got != 1 {
		t.Errorf("%d executions after the lock; refused commands must never reach the bridge", got)
	}
}
