package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard limit and returns it: every
// webhook connection costs a descriptor, and the more there are, the later a flood of them is
// refused. (Go raises it at start on Linux too; doing it here says so and reads the result.)
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read the open files limit: %w", err)
	}
	if rl.Cur < rl.Max {
		raised := syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return rl.Cur, fmt.Errorf("raise the open files limit from %d to %d: %w", rl.Cur, rl.Max, err)
		}
		rl = raised
	}
	return rl.Cur, nil
}
