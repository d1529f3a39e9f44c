package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/cmcapitest"
	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// startServe runs serve against srv until the test ends and returns the
// webhook URL.
func startServe(t *testing.T, srv *natstest.Server) string {
	t.Helper()
	t.Setenv("MAILBRIDGE_NATS_URL", srv.URL())
	t.Setenv("MAILBRIDGE_HTTP_ADDR", "127.0.0.1:0")
	var cfg serveConfig
	if err := loadConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	logger, err := newLogger(LogConfig{Level: "error"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	stopped := make(chan struct{})
	var serveErr error
	go func() {
		defer close(stopped)
		serveErr = serve(ctx, cfg, logger, ready)
		done <- serveErr
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		if serveErr != nil {
			t.Errorf("serve: %v", serveErr)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr.String() + "/webhooks/cmc"
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve not ready after 10s")
	}
	return ""
}

func postFile(t *testing.T, url, path string) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %d, want 200", filepath.Base(path), resp.StatusCode)
	}
}

func TestReplayCommandPrintsVendorExamples(t *testing.T) {
	srv := natstest.Start(t)
	webhook := startServe(t, srv)
	files, err := filepath.Glob("../../testdata/cmc/*.json")
	if err != nil || len(files) != 5 {
		t.Fatalf("vendor examples: %v, %v", files, err)
	}
	for _, f := range files {
		postFile(t, webhook, f)
	}
	// The bridge's own events share the stream; replay leaves them out by
	// default.
	suppressionEvent := mailevent.Event{
		ID: "own-event-1", Source: "/mailbridge/suppressions", Type: "io.mailbridge.suppression.added",
		Time: time.Now(), DataContentType: "application/json", Data: []byte(`{}`),
	}
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := srv.JS.PublishMsg(ctx, mailevent.Encode(&suppressionEvent, "mail.suppressions.added", mailevent.ModeBinary)); err != nil {
		t.Fatalf("publish suppression event: %v", err)
	}

	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--since", "2023-01-25", "--to", "stdout"}, nil, &stdout, &stderr)

	if code != exitOK {
		t.Fatalf("exit code %d, stderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("stdout has %d lines, want 5:\n%s", len(lines), stdout.String())
	}
	for i, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		if ev["specversion"] != "1.0" || !strings.HasPrefix(ev["type"].(string), mailevent.TypePrefix) {
			t.Errorf("line %d = %s, want a CMC CloudEvent", i, line)
		}
	}
	if !strings.Contains(stderr.String(), "sent 5 events") || !strings.Contains(stderr.String(), "resume with --from-seq 6") {
		t.Errorf("stderr = %q, want the summary with the resume sequence", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"replay", "--since", "2023-01-25", "--to", "stdout", "--subject", "mail.>"}, nil, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("replay --subject mail.>: exit code %d, stderr: %s", code, stderr.String())
	}
	if got := strings.Count(strings.TrimSpace(stdout.String()), "\n") + 1; got != 6 {
		t.Errorf("replay --subject mail.> printed %d events, want 6 (the bridge's own event too)", got)
	}
}

func TestTailCommandShowsNewEvent(t *testing.T) {
	srv := natstest.Start(t)
	webhook := startServe(t, srv)
	postFile(t, webhook, "../../testdata/cmc/deliveries-queued.json")

	// --since the past makes the tail start with the event already stored,
	// which shows that its consumer is running before the next webhook.
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runTail(ctx, []string{"--since", time.Now().Add(-time.Hour).Format(time.RFC3339)}, nil, &stdout, &syncBuffer{})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tail: %v", err)
		}
	})
	waitForOutput(t, &stdout, "user@example.jp", 5*time.Second)

	postFile(t, webhook, "../../testdata/cmc/bounces-user-unknown.json")
	waitForOutput(t, &stdout, "no-user@example.jp", time.Second)
}

func TestTailCommandFlagsAfterFilter(t *testing.T) {
	srv := natstest.Start(t)
	webhook := startServe(t, srv)
	postFile(t, webhook, "../../testdata/cmc/deliveries-queued.json")

	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		args := []string{"mail.deliveries.>", "--since", time.Now().Add(-time.Hour).Format(time.RFC3339)}
		done <- runTail(ctx, args, nil, &stdout, &syncBuffer{})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tail: %v", err)
		}
	})
	waitForOutput(t, &stdout, "user@example.jp", 5*time.Second)
	// Times are shown in MAILBRIDGE_CMC_TIMEZONE, Asia/Tokyo by default,
	// whatever the machine's zone.
	if !strings.Contains(stdout.String(), " JST  ") {
		t.Errorf("tail output %q shows no JST time", stdout.String())
	}
}

func TestBackfillCommandPublishesMissing(t *testing.T) {
	srv := natstest.Start(t)
	webhook := startServe(t, srv)
	postFile(t, webhook, "../../testdata/cmc/deliveries-queued.json")

	// The API lists the queued delivery the webhook brought and the
	// succeeded one it missed.
	var records []json.RawMessage
	for _, name := range []string{"deliveries-queued.json", "deliveries-succeeded.json"} {
		body, err := os.ReadFile("../../testdata/cmc/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var batch struct {
			Event struct {
				Deliveries []json.RawMessage `json:"deliveries"`
			} `json:"event"`
		}
		if err := json.Unmarshal(body, &batch); err != nil {
			t.Fatal(err)
		}
		records = append(records, batch.Event.Deliveries...)
	}
	api := cmcapitest.Start(t, map[string][]json.RawMessage{"deliveries": records})
	t.Setenv("MAILBRIDGE_CMC_API_URL", api.URL)
	t.Setenv("MAILBRIDGE_CMC_API_USER", cmcapitest.APIUser)
	t.Setenv("MAILBRIDGE_CMC_API_KEY", cmcapitest.APIKey)

	for i, want := range []string{"published 1 events", "published 0 events"} {
		var stderr bytes.Buffer
		code := run([]string{"backfill", "--date", "2023-01-25", "--server-composition", cmcapitest.ServerComposition}, nil, &bytes.Buffer{}, &stderr)
		if code != exitOK {
			t.Fatalf("run %d: exit code %d, stderr: %s", i, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("run %d stderr = %q, want %q", i, stderr.String(), want)
		}
		if strings.Contains(stderr.String(), cmcapitest.APIKey) {
			t.Errorf("run %d stderr contains the API key", i)
		}
	}
}

func TestBackfillCommandFailureHasNoSummary(t *testing.T) {
	t.Setenv("MAILBRIDGE_NATS_URL", natstest.Start(t).URL())
	api := cmcapitest.Start(t, nil)
	api.FailWith(http.StatusInternalServerError)
	t.Setenv("MAILBRIDGE_CMC_API_URL", api.URL)
	t.Setenv("MAILBRIDGE_CMC_API_USER", cmcapitest.APIUser)
	t.Setenv("MAILBRIDGE_CMC_API_KEY", cmcapitest.APIKey)

	var stderr bytes.Buffer
	code := run([]string{"backfill", "--date", "2023-01-25", "--dry-run", "--server-composition", cmcapitest.ServerComposition}, nil, &bytes.Buffer{}, &stderr)

	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	if strings.Contains(stderr.String(), "would publish") {
		t.Errorf("stderr = %q, want no summary after a failure", stderr.String())
	}
	if !strings.Contains(stderr.String(), "page 1 (p=0)") {
		t.Errorf("stderr = %q, want the failing page counted from 1", stderr.String())
	}
}

func TestReplaySummaryAfterFailingEvent(t *testing.T) {
	srv := natstest.Start(t)
	webhook := startServe(t, srv)
	postFile(t, webhook, "../../testdata/cmc/deliveries-failed.json")
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "rejected by the test", http.StatusBadRequest)
	}))
	t.Cleanup(receiver.Close)

	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--since", "2023-01-25", "--to", receiver.URL}, nil, &stdout, &stderr)

	if code == exitOK {
		t.Fatalf("exit code %d after a 400, want a failure; stderr: %s", code, stderr.String())
	}
	failing := strings.Index(stderr.String(), "failing event:")
	summary := strings.Index(stderr.String(), "replay: stopped after")
	if failing < 0 || summary < 0 {
		t.Fatalf("stderr = %q, want the failing event and the summary", stderr.String())
	}
	if summary < failing {
		t.Errorf("stderr = %q, want the summary after the failing event", stderr.String())
	}
	if !strings.Contains(stderr.String()[summary:], "resume with --from-seq 1") {
		t.Errorf("summary %q does not name where to resume", stderr.String()[summary:])
	}
}

func TestReplayCommandUsageErrors(t *testing.T) {
	// Each error is found before connecting; the URL keeps a mistake from
	// reaching the default address.
	t.Setenv("MAILBRIDGE_NATS_URL", natstest.Start(t).URL())
	for _, args := range [][]string{
		{"replay", "--since", "yesterday"},
		{"replay", "--to", "ftp://example"},
		{"replay", "--since", "2023-01-26", "--until", "2023-01-25"},
		{"backfill"},
		{"backfill", "--date", "2023-13-45"},
		{"backfill", "--date", "2023-01-25", "--hour", "24"},
		{"backfill", "--date", "2999-01-01"},
	} {
		var stderr bytes.Buffer
		if code := run(args, nil, &bytes.Buffer{}, &stderr); code != exitUsage {
			t.Errorf("%q: exit code %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
		}
	}
}

// waitForOutput polls out until it contains text or the deadline passes.
func waitForOutput(t *testing.T, out *syncBuffer, text string, deadline time.Duration) {
	t.Helper()
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	timeout := time.After(deadline)
	for !strings.Contains(out.String(), text) {
		select {
		case <-ticker.C:
		case <-timeout:
			t.Fatalf("no %q within %s; output: %q", text, deadline, out.String())
		}
	}
}
