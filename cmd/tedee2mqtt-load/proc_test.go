package main

import (
	"os"
	"testing"
	"time"
)

func TestStatCPUCountsFromTheLastParen(t *testing.T) {
	// A command name may hold spaces and parentheses; utime 250 and stime 50 ticks = 3 s.
	stat := []byte("4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 1000000 500 ...")
	got, err := statCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Errorf("statCPU = %v, %v; want 3s", got, err)
	}
	if _, err := statCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("no error for a truncated stat")
	}
}

func TestStatusKiB(t *testing.T) {
	status := []byte("Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n")
	if got := statusKiB(status, "VmHWM:"); got != 2048 {
		t.Errorf("VmHWM = %d", got)
	}
	if got := statusKiB(status, "VmRSS:"); got != 1024 {
		t.Errorf("VmRSS = %d", got)
	}
	if got := statusKiB(status, "VmSwap:"); got != -1 {
		t.Errorf("missing key = %d, want -1", got)
	}
}

func TestReadProcSelf(t *testing.T) {
	// Burn a little CPU so that at least one tick is counted.
	deadline := time.Now().Add(30 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB <= 0 || s.PeakKiB < s.RSSKiB || s.CPU <= 0 {
		t.Errorf("readProc(self) = %+v", s)
	}
}

func TestMachineCPU(t *testing.T) {
	busy, steal, err := machineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if busy <= 0 || steal < 0 || steal > busy {
		t.Errorf("machineCPU = %v busy, %v steal", busy, steal)
	}
}
