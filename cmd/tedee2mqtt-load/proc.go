package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStats is what /proc says about a process at one moment.
type procStats struct {
	RSSKiB  int64         // VmRSS: resident now
	PeakKiB int64         // VmHWM: the most it was ever resident
	CPU     time.Duration // utime + stime: CPU time used so far, user and system
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is 100 on every
// Linux architecture Go supports (the kernel's ABI fixes it, whatever CONFIG_HZ is).
const clockTick = 10 * time.Millisecond

// readProc reads /proc/<pid>/status and /proc/<pid>/stat.
func readProc(pid int) (procStats, error) {
	var s procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.RSSKiB, s.PeakKiB = statusKiB(status, "VmRSS:"), statusKiB(status, "VmHWM:")
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	s.CPU, err = statCPU(stat)
	return s, err
}

// statusKiB returns a "Key:   1234 kB" value of /proc/<pid>/status, or -1.
func statusKiB(status []byte, key string) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// statCPU returns utime + stime from /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may contain spaces, so fields are counted from the last ')'.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no ')'")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// machineCPU is the CPU time the whole machine spent busy (all CPUs: user, nice, system, irq,
// softirq, steal) and the part of it stolen by the hypervisor, from the first line of /proc/stat.
func machineCPU() (busy, steal time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	busy = time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]+v[7]) * clockTick
	return busy, time.Duration(v[7]) * clockTick, nil
}

// child is a process the tool started: the service, the baseline server or mosquitto.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string // where its output goes
}

func startChild(name, logPath string, env []string, bin string, args ...string) (*child, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, env
	// Its own working directory beside its log: the service keeps its data_dir (./data by
	// default) there, so every run starts without the state of the one before.
	cmd.Dir, err = os.MkdirTemp(filepath.Dir(logPath), name+"-*")
	if err != nil {
		out.Close()
		return nil, err
	}
	// Its own process group, so that a ^C to the tool does not reach it before the tool has read
	// its figures; the tool stops it itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		c.err = cmd.Wait()
		out.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM and waits, then SIGKILL. It returns the exit error of a process that did not
// exit cleanly on SIGTERM.
func (c *child) stop(timeout time.Duration) error {
	select {
	case <-c.done:
		return fmt.Errorf("%s had already exited: %v (log: %s)", c.name, c.err, c.log)
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(timeout):
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("%s did not exit within %s of SIGTERM; killed (log: %s)", c.name, timeout, c.log)
}

// waitHTTP waits until url answers 200 or the child exits.
func (c *child) waitHTTP(url string, timeout time.Duration) error {
	return c.waitHTTPEvery(url, timeout, 20*time.Millisecond)
}

// waitHTTPEvery is waitHTTP, asking every poll (a start is timed to that precision).
func (c *child) waitHTTPEvery(url string, timeout, poll time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready: %v (log: %s)", c.name, c.err, c.log)
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %s (log: %s)", c.name, url, timeout, c.log)
		}
		time.Sleep(poll)
	}
}

// waitTCP waits until addr accepts connections or the child exits.
func (c *child) waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it listened: %v (log: %s)", c.name, c.err, c.log)
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s within %s (log: %s)", c.name, addr, timeout, c.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a free loopback address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// sampler polls a process's RSS while a run goes on, for processes whose VmHWM covers more than
// the run (a pid given with -pid).
type sampler struct {
	stop chan struct{}
	done chan struct{}
	peak int64
}

func sampleRSS(pid int, every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if ps, err := readProc(pid); err == nil && ps.RSSKiB > s.peak {
				s.peak = ps.RSSKiB
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops sampling and returns the highest RSS seen, in KiB.
func (s *sampler) finish() int64 {
	close(s.stop)
	<-s.done
	return s.peak
}
