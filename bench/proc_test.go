package main

import (
	"os"
	"testing"
)

// The /proc readers work on this process (Linux only, as the bench).
func TestProcReaders(t *testing.T) {
	if rss, err := rssBytes(); err != nil || rss == 0 {
		t.Fatalf("rssBytes = %d, %v", rss, err)
	}
	if _, err := pidCPU(os.Getpid()); err != nil {
		t.Fatalf("pidCPU(self): %v", err)
	}
	if _, err := pidCPU(-1); err == nil {
		t.Fatal("pidCPU(-1) did not fail")
	}
	if machineCPU() <= 0 {
		t.Fatal("machineCPU is not positive")
	}
	if processCPU() <= 0 {
		t.Fatal("processCPU is not positive")
	}
}
