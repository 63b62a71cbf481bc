package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// findMosquitto looks on PATH, then where Debian puts it.
func findMosquitto() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("/usr/sbin/mosquitto"); err == nil {
		return p, nil
	}
	return "", errors.New("mosquitto not found on PATH or at /usr/sbin/mosquitto; install it or pass -broker")
}

// mosquittoConfig is a loopback-only broker for one measurement. The queue limit is raised from
// its default of 1000 so that a subscriber falling behind during a flat-out run is shown as
// latency, not as messages the broker dropped (which would be charged to the service as lost).
//
// With defaultQueues (the Home Assistant birth scenario) the queue limits stay at Mosquitto's
// defaults, as on a Home Assistant user's broker: Mosquitto has them for every client alike (no
// per-listener or per-client setting), so the Home Assistant-like subscriber can only see them if
// the whole broker has them. The broker then also publishes its $SYS figures every second (the
// count of dropped messages is read from there) and logs notices, among which the client whose
// messages it starts dropping.
func mosquittoConfig(port string, defaultQueues bool) string {
	lines := []string{
		"listener " + port + " 127.0.0.1",
		"allow_anonymous true",
		"persistence false",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
	}
	if defaultQueues {
		lines = append(lines, "sys_interval 1", "log_type notice")
	} else {
		lines = append(lines, "max_queued_messages 1000000")
	}
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	return strings.Join(lines, "\n") + "\n"
}

// startMosquitto starts a private mosquitto on a free loopback port; dir holds its config and log.
func startMosquitto(bin, dir string) (*child, string, error) {
	return startMosquittoWith(bin, dir, false)
}

// startMosquittoWith is startMosquitto, with Mosquitto's default queue limits if defaultQueues.
func startMosquittoWith(bin, dir string, defaultQueues bool) (*child, string, error) {
	if bin == "" {
		var err error
		if bin, err = findMosquitto(); err != nil {
			return nil, "", err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(mosquittoConfig(port, defaultQueues)), 0o600); err != nil {
		return nil, "", err
	}
	c, err := startChild("mosquitto", filepath.Join(dir, "mosquitto.log"), os.Environ(), bin, "-c", conf)
	if err != nil {
		return nil, "", err
	}
	if err := c.waitTCP(addr, 10*time.Second); err != nil {
		_ = c.stop(time.Second)
		return nil, "", err
	}
	return c, "tcp://" + addr, nil
}

// mosquittoVersion asks the binary for its version line.
func mosquittoVersion(bin string) string {
	if bin == "" {
		var err error
		if bin, err = findMosquitto(); err != nil {
			return "unknown"
		}
	}
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}
