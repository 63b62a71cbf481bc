package brokertest

import "syscall"

// sysProcAttr makes the kernel SIGKILL mosquitto when the test binary dies without running its
// cleanups (a test timeout panic, a crash), so no stray brokers are left listening. Pdeathsig is tied
// to the OS thread that started the process, which the Go runtime only retires in the rare case of a
// goroutine exiting while locked to it — good enough for tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
