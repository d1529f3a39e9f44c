package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

func TestEmbeddedStartErrorsNameVariable(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	fileDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A store directory that cannot be created inside a data directory
	// that can: a file named jetstream.
	storeBlocked := t.TempDir()
	if err := os.WriteFile(filepath.Join(storeBlocked, "jetstream"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		cfg  NATSConfig
		want string
	}{
		{"port in use", NATSConfig{EmbeddedAddr: taken.Addr().String(), DataDir: t.TempDir()}, "MAILBRIDGE_EMBEDDED_NATS_ADDR " + taken.Addr().String() + " cannot be used"},
		{"invalid address", NATSConfig{EmbeddedAddr: "4222", DataDir: t.TempDir()}, "MAILBRIDGE_EMBEDDED_NATS_ADDR: "},
		{"data dir is a file", NATSConfig{EmbeddedAddr: "127.0.0.1:-1", DataDir: fileDir}, "MAILBRIDGE_DATA_DIR " + fileDir + " cannot be created"},
		{"store dir blocked", NATSConfig{EmbeddedAddr: "127.0.0.1:-1", DataDir: storeBlocked}, "MAILBRIDGE_DATA_DIR " + storeBlocked + " cannot hold the JetStream store"},
	}
	for _, tc := range cases {
		start := time.Now()
		setup, err := connectNATS(context.Background(), tc.cfg, "test", discardLogger())
		if err == nil {
			setup.close(discardLogger())
			t.Errorf("%s: start succeeded, want an error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q, want it to contain %q", tc.name, err, tc.want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: failed after %s, want at once", tc.name, took)
		}
	}
}

func TestUnreachableNATSURLNamedRedacted(t *testing.T) {
	addr := freeLoopbackAddr(t)
	t.Setenv("MAILBRIDGE_NATS_URL", "nats://alice:s3cret@"+addr)
	t.Setenv("MAILBRIDGE_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("MAILBRIDGE_DATA_DIR", t.TempDir())

	for _, command := range []string{"serve", "suppressor", "alerter"} {
		var stderr bytes.Buffer
		code := run([]string{command}, nil, io.Discard, &stderr)

		if code != exitError {
			t.Errorf("%s: exit code %d, want %d", command, code, exitError)
		}
		output := stderr.String()
		if !strings.Contains(output, "nats://redacted@"+addr) {
			t.Errorf("%s: stderr %q, want the URL with its credentials redacted", command, output)
		}
		if strings.Contains(output, "s3cret") {
			t.Errorf("%s: stderr %q contains the password", command, output)
		}
		if !strings.Contains(output, "unset MAILBRIDGE_NATS_URL to use the embedded server") {
			t.Errorf("%s: stderr %q, want the hint to check or unset MAILBRIDGE_NATS_URL", command, output)
		}
	}
}
