package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// dataDirLockFile is the file in MAILBRIDGE_DATA_DIR whose lock marks the
// directory as used by a running mailbridge. It contains that process's id.
const dataDirLockFile = "mailbridge.lock"

// errDataDirLocked reports that another process holds the data directory's
// lock.
var errDataDirLocked = errors.New("data directory locked")

// lockDataDir creates dir if needed and takes an exclusive lock on its
// lock file, so that on Unix two embedded servers cannot share one
// JetStream store. The returned function releases the lock and empties the
// file. The operating system also releases the lock when the process ends,
// crashes included, but then the file keeps the process id. previous is
// that id, so that the next start can warn that the last run did not stop
// cleanly, and "" after a clean stop.
func lockDataDir(dir string) (unlock func(), previous string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("MAILBRIDGE_DATA_DIR %s cannot be created, so create it or set another MAILBRIDGE_DATA_DIR: %w", dir, err)
	}
	path := filepath.Join(dir, dataDirLockFile)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("MAILBRIDGE_DATA_DIR %s is not writable, so fix its permissions or set another MAILBRIDGE_DATA_DIR: %w", dir, err)
	}
	if err := lockFile(file); err != nil {
		file.Close()
		if !errors.Is(err, errDataDirLocked) {
			return nil, "", fmt.Errorf("lock %s: %w", path, err)
		}
		return nil, "", fmt.Errorf("MAILBRIDGE_DATA_DIR %s is in use by another mailbridge (pid %s): stop it or set another MAILBRIDGE_DATA_DIR", dir, lockHolder(path))
	}

	if holder := lockHolder(path); holder != "unknown" {
		previous = holder
	}
	// Record who holds the lock, for the message that the next start shows.
	if err := file.Truncate(0); err == nil {
		_, _ = file.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = file.Truncate(0)
		_ = unlockFile(file)
		file.Close()
	}, previous, nil
}

// lockHolder returns the process id written in the lock file at path, or
// "unknown" when it cannot be read.
func lockHolder(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	pid := string(bytes.TrimSpace(data))
	if _, err := strconv.Atoi(pid); err != nil {
		return "unknown"
	}
	return pid
}
