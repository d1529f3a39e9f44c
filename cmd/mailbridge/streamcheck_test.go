package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// startMailStream starts a server with the MAIL stream on mail.> and
// points the read commands at it.
func startMailStream(t *testing.T) *natstest.Server {
	t.Helper()
	srv := natstest.Start(t)
	if _, err := stream.Ensure(natstest.Context(t, 10*time.Second), srv.JS, stream.Config{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	t.Setenv("MAILBRIDGE_NATS_URL", srv.URL())
	return srv
}

func TestReadCommandsNameMissingStream(t *testing.T) {
	startMailStream(t)
	t.Setenv("MAILBRIDGE_STREAM_NAME", "MAILS")

	for _, args := range [][]string{
		{"replay", "--to", "stdout"},
		{"replay", "--dry-run"},
		{"tail"},
	} {
		code, _, stderr := runCLI(args...)
		if code != exitError {
			t.Errorf("%v: exit %d, want %d", args, code, exitError)
		}
		if !strings.Contains(stderr, "stream MAILS not found: check MAILBRIDGE_STREAM_NAME") {
			t.Errorf("%v: error does not name the variable: %s", args, stderr)
		}
		if strings.Contains(stderr, "events in") {
			t.Errorf("%v: a summary was printed before the error: %s", args, stderr)
		}
	}
}

func TestReadCommandsRejectFilterOutsideStream(t *testing.T) {
	startMailStream(t)

	for _, args := range [][]string{
		{"tail", "bounces.>"},
		{"replay", "--subject", "bounces.>", "--dry-run"},
	} {
		code, _, stderr := runCLI(args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if !strings.Contains(stderr, "did you mean mail.bounces.>?") {
			t.Errorf("%v: error does not suggest the prefixed filter: %s", args, stderr)
		}
		if !strings.Contains(stderr, "which stores mail.>") {
			t.Errorf("%v: error does not name the stream's subjects: %s", args, stderr)
		}
	}
}

func TestCheckFilters(t *testing.T) {
	t.Parallel()
	stored := []string{"mail.>"}
	for filter, wantErr := range map[string]bool{
		"mail.>": false, "mail.bounces.*": false, ">": false, "*.bounces.>": false,
		"bounces.>": true, "other.mail.>": true, "mail": true,
	} {
		err := checkFilters([]string{filter}, "MAIL", stored, "mail")
		if (err != nil) != wantErr {
			t.Errorf("checkFilters(%q) = %v, want error %t", filter, err, wantErr)
		}
	}
}
