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
func mosquittoConfig(port string) string {
	lines := []string{
		"listener " + port + " 127.0.0.1",
		"allow_anonymous true",
		"persistence false",
		"max_queued_messages 1000000",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
	}
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	return strings.Join(lines, "\n") + "\n"
}

// startMosquitto starts a private mosquitto on a free loopback port; dir holds its config and log.
func startMosquitto(bin, dir string) (*child, string, error) {
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
	if err := os.WriteFile(conf, []byte(mosquittoConfig(port)), 0o600); err != nil {
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
