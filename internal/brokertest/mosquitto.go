package brokertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mosquittoProc is one mosquitto process; a Restart creates a new one.
type mosquittoProc struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd.Wait has returned
	waitErr error         // cmd.Wait's result; read only after done is closed
}

// freshPortAttempts bounds how often Start picks a new port when mosquitto fails to come up — which
// mostly means another process took the port between freePort and mosquitto's bind.
const freshPortAttempts = 3

// startMosquittoFresh picks a free port, writes the config and starts mosquitto. b.mu must be held.
func (b *Broker) startMosquittoFresh(tb testing.TB) {
	tb.Helper()
	var lastErr error
	for attempt := 1; attempt <= freshPortAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("brokertest: %v", err)
		}
		b.addr = hostPort(port)
		if err := b.writeConfig(port); err != nil {
			tb.Fatalf("brokertest: %v", err)
		}
		b.output.mark("starting mosquitto on %s (attempt %d)", b.addr, attempt)
		p, err := startMosquittoProc(b.bin, b.conf, b.addr, b.output, time.Now().Add(startTimeout))
		if err == nil {
			b.mosquitto = p
			return
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break // it is running but not reachable: a new port will not help
		}
	}
	tb.Fatalf("brokertest: start %s -c %s: %v\nconfig:\n%s\nmosquitto output:\n%s",
		b.bin, b.conf, lastErr, readFile(b.conf), b.output.String())
}

// startMosquittoOnPort starts mosquitto with the existing config (same port), retrying while the
// process exits early (typically "Address already in use") for up to retryFor. b.mu must be held.
func (b *Broker) startMosquittoOnPort(tb testing.TB, retryFor time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(retryFor)
	for attempt := 1; ; attempt++ {
		// Checking the port first turns "someone still holds it" into a plain retry instead of a
		// mosquitto start that exits with "Address already in use".
		if err := waitPortFree(b.addr, deadline); err != nil {
			tb.Fatalf("brokertest: restart mosquitto: %v", err)
		}
		b.output.mark("restarting mosquitto on %s (attempt %d)", b.addr, attempt)
		// Each attempt gets at least the normal start timeout to come up; retryFor only limits how long
		// we keep retrying a process that exits.
		p, err := startMosquittoProc(b.bin, b.conf, b.addr, b.output, time.Now().Add(startTimeout))
		if err == nil {
			b.mosquitto = p
			return
		}
		if !errors.Is(err, errExited) || time.Now().After(deadline) {
			tb.Fatalf("brokertest: restart %s -c %s on %s: %v\nmosquitto output:\n%s",
				b.bin, b.conf, b.addr, err, b.output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeConfig writes mosquitto.conf for port into b.dir.
func (b *Broker) writeConfig(port int) error {
	lines := []string{
		fmt.Sprintf("listener %d 127.0.0.1", port),
		// Short timestamps make the output dumped on failure readable next to the test log.
		"log_timestamp_format %H:%M:%S",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information",
		// A test's recorder under -race on two busy cores can fall behind a burst (2,000 messages
		// released at once); at Mosquitto's default of 1,000 queued per subscriber it then drops
		// messages for the recorder, and the test fails on what the broker did, not the service.
		"max_queued_messages 20000",
	}
	if b.opts.Username == "" {
		lines = append(lines, "allow_anonymous true")
	} else {
		passwd, err := b.writePasswordFile()
		if err != nil {
			return err
		}
		lines = append(lines, "allow_anonymous false", "password_file "+passwd)
	}
	if os.Geteuid() == 0 {
		// Run as root (containers, CI), mosquitto drops privileges to the "mosquitto" user, which
		// cannot write the persistence database into our root-owned 0700 temp dir. "user root"
		// keeps it as root; the option is ignored when not started as root.
		lines = append(lines, "user root")
	}
	if b.opts.Persistence {
		lines = append(lines,
			"persistence true",
			// mosquitto concatenates location and file name, so the trailing slash is required.
			"persistence_location "+b.dir+string(filepath.Separator),
			"autosave_interval 1",
		)
	} else {
		lines = append(lines, "persistence false")
	}
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write mosquitto config %s: %w", b.conf, err)
	}
	return nil
}

// writePasswordFile makes the broker's password file with mosquitto_passwd, which comes with
// mosquitto and knows the hash format of the version installed.
func (b *Broker) writePasswordFile() (string, error) {
	path := filepath.Join(b.dir, "passwd")
	if _, err := os.Stat(path); err == nil {
		return path, nil // a restart: the same file
	}
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		bin = filepath.Join(filepath.Dir(b.bin), "mosquitto_passwd")
		if alt := "/usr/bin/mosquitto_passwd"; !fileExists(bin) && fileExists(alt) {
			bin = alt
		}
	}
	out, err := exec.Command(bin, "-b", "-c", path, b.opts.Username, b.opts.Password).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make mosquitto password file with %s: %w: %s", bin, err, out)
	}
	return path, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// runningLine is what mosquitto (1.x and 2.x) logs once its listeners are open.
var runningLine = regexp.MustCompile(`mosquitto version \S+ running`)

// startMosquittoProc starts mosquitto and waits until addr accepts TCP connections and mosquitto has
// logged that it is running. The log check matters: a TCP connect alone also succeeds when another
// process holds the port (say, another package's test broker that picked the port while ours was
// stopped) and mosquitto is about to exit with "Address already in use". On failure the process is
// gone when it returns; the error wraps errExited if mosquitto exited by itself.
func startMosquittoProc(bin, conf, addr string, output *lockedBuffer, deadline time.Time) (*mosquittoProc, error) {
	logStart := output.Len()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout = output
	cmd.Stderr = output
	cmd.SysProcAttr = sysProcAttr()
	// Wait also waits for the goroutine copying output into our buffer; should anything inherit the
	// pipe and outlive mosquitto, do not let that hang Stop.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mosquitto: %w", err)
	}
	p := &mosquittoProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	ready := func() bool { return runningLine.MatchString(output.From(logStart)) }
	if err := waitReady(addr, ready, p.done, deadline); err != nil {
		if errors.Is(err, errExited) {
			return nil, fmt.Errorf("mosquitto exited before listening on %s (%v): %w", addr, p.waitErr, err)
		}
		_ = p.kill(stopTimeout)
		return nil, fmt.Errorf("wait for mosquitto: %w", err)
	}
	return p, nil
}

// kill sends SIGKILL and waits for the process to be reaped, so the port is free when it returns.
func (p *mosquittoProc) kill(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil // it died on its own; Wait already reaped it
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGKILL: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("process still running %v after SIGKILL", timeout)
	}
}

// persistenceSaveTimeout bounds the wait for mosquitto to write its database after SIGUSR1.
const persistenceSaveTimeout = 3 * time.Second

// flushPersistence makes mosquitto write its persistence database now (SIGUSR1) and waits until the
// new file is in place. mosquitto writes mosquitto.db.new and renames it over mosquitto.db, so the
// save is complete when mosquitto.db is a different file than before.
func (p *mosquittoProc) flushPersistence(dir string) error {
	db := filepath.Join(dir, "mosquitto.db")
	before, _ := os.Stat(db) // nil when no save has happened yet
	if err := requestSave(p.cmd.Process); err != nil {
		return fmt.Errorf("ask mosquitto to save its database (SIGUSR1): %w", err)
	}
	deadline := time.Now().Add(persistenceSaveTimeout)
	for time.Now().Before(deadline) {
		if after, err := os.Stat(db); err == nil && (before == nil || !os.SameFile(before, after) ||
			!after.ModTime().Equal(before.ModTime())) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("mosquitto did not rewrite %s within %v of SIGUSR1; killing it anyway",
		db, persistenceSaveTimeout)
}

func readFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	return string(data)
}
