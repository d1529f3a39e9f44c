package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLockDataDirReportsUncleanStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	unlock, previous, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	if previous != "" {
		t.Errorf("first lock of a new directory: previous = %q, want none", previous)
	}
	unlock()

	unlock, previous, err = lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after a clean stop: %v", err)
	}
	if previous != "" {
		t.Errorf("lock after a clean stop: previous = %q, want none", previous)
	}
	unlock()

	// A killed process leaves its id in the file, and the lock is gone.
	if err := os.WriteFile(filepath.Join(dir, dataDirLockFile), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, previous, err = lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after a crash: %v", err)
	}
	defer unlock()
	if previous != "4242" {
		t.Errorf("lock after a crash: previous = %q, want 4242", previous)
	}
}
