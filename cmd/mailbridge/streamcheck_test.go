package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
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

func TestReplayToNATSNeedsStream(t *testing.T) {
	srv := startMailStream(t)
	sub, err := srv.Conn.SubscribeSync("replay.mail.>")
	if err != nil {
		t.Fatal(err)
	}
	event := mailevent.Event{
		ID: "event-1", Source: "/cmc/pro", Type: mailevent.TypeBounce,
		Time: time.Now(), DataContentType: "application/json", Data: []byte(`{}`),
	}
	if _, err := srv.JS.PublishMsg(natstest.Context(t, 5*time.Second), mailevent.Encode(&event, "mail.bounces.user_unknown", mailevent.ModeBinary)); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runCLI("replay", "--to", "nats:replay.mail")
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, "no stream stores replay.mail.>") || !strings.Contains(stderr, "--no-stream-ok") {
		t.Errorf("error does not name the missing stream and the flag: %s", stderr)
	}
	if msg, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("an event was published although the replay stopped: %s", msg.Subject)
	}

	code, _, stderr = runCLI("replay", "--to", "nats:replay.mail", "--no-stream-ok")
	if code != exitOK {
		t.Fatalf("with --no-stream-ok: exit %d: %s", code, stderr)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Errorf("no event published with --no-stream-ok: %v", err)
	}
}
