package main

import (
	"runtime"
	"testing"
)

func TestMaxConnsStaysBelowTheFileLimit(t *testing.T) {
	for limit, want := range map[uint64]int{0: 1024, 64: 32, 512: 256, 1024: 768, 20000: 19744, 1 << 62: 1 << 16} {
		if got := maxConns(limit); got != want {
			t.Errorf("maxConns(%d) = %d, want %d", limit, got, want)
		}
	}
	got, err := raiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && got == 0 {
		t.Error("raiseFileLimit = 0 on Linux, which always has a limit")
	}
}
