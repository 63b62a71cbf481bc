//go:build !unix

package brokertest

import (
	"errors"
	"os"
)

// requestSave is unsupported without Unix signals; Stop then relies on mosquitto's 1 s autosave.
func requestSave(*os.Process) error {
	return errors.New("forcing a mosquitto database save needs SIGUSR1 (Unix only)")
}
