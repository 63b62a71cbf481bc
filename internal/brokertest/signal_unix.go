//go:build unix

package brokertest

import (
	"os"
	"syscall"
)

// requestSave asks mosquitto to write its persistence database now: SIGUSR1 is mosquitto's
// documented "save the in-memory database" signal.
func requestSave(p *os.Process) error {
	return p.Signal(syscall.SIGUSR1)
}
