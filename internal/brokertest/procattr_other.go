//go:build !linux

package brokertest

import "syscall"

// sysProcAttr returns nil: Pdeathsig is Linux-only, elsewhere only tb.Cleanup stops mosquitto.
func sysProcAttr() *syscall.SysProcAttr { return nil }
