//go:build !unix

package main

import "os"

// NOTE: without flock, two processes on this platform can still share one
// MAILBRIDGE_DATA_DIR and corrupt the JetStream store.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
