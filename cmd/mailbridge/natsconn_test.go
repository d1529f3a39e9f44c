package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestEmbeddedDataDirLocked(t *testing.T) {
	t.Parallel()
	cfg := NATSConfig{EmbeddedAddr: "127.0.0.1:-1", DataDir: t.TempDir()}
	logger := discardLogger()

	first, err := connectNATS(context.Background(), cfg, "first", logger)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			first.close(logger)
		}
	})

	second, err := connectNATS(context.Background(), cfg, "second", logger)
	if err == nil {
		second.close(logger)
		t.Fatal("second start on the same MAILBRIDGE_DATA_DIR succeeded, want an error")
	}
	want := "MAILBRIDGE_DATA_DIR " + cfg.DataDir + " is in use by another mailbridge (pid " + strconv.Itoa(os.Getpid()) + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("second start: %q, want it to contain %q", err, want)
	}

	// Closing the first releases the directory.
	first.close(logger)
	closed = true
	third, err := connectNATS(context.Background(), cfg, "third", logger)
	if err != nil {
		t.Fatalf("start after the first stopped: %v", err)
	}
	third.close(logger)
}
