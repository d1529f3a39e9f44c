package replay_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// lineBuffer collects written lines and signals each write.
type lineBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newLineBuffer() *lineBuffer { return &lineBuffer{written: make(chan struct{}, 1)} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.written <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output contains text or the deadline passes.
func (b *lineBuffer) waitFor(t *testing.T, text string, deadline time.Duration) bool {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for !strings.Contains(b.String(), text) {
		select {
		case <-b.written:
		case <-timer.C:
			return strings.Contains(b.String(), text)
		}
	}
	return true
}

// startTail runs Tail until the test ends and returns once its consumer
// exists.
func startTail(t *testing.T, srv *natstest.Server, cfg replay.TailConfig) (out, notes *lineBuffer) {
	t.Helper()
	out, notes = newLineBuffer(), newLineBuffer()
	cfg.JS, cfg.Stream, cfg.Prefix, cfg.Location = srv.JS, testStream, "mail", tokyo
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := runTail(t, ctx, cfg, out, notes)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tail: %v", err)
		}
	})
	return out, notes
}

// runTail starts Tail with ctx and returns once its consumer exists. The
// channel receives Tail's result.
func runTail(t *testing.T, ctx context.Context, cfg replay.TailConfig, out, notes io.Writer) <-chan error {
	t.Helper()
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- replay.Tail(ctx, cfg, out, notes) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("tail ended before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("tail not ready after 10s")
	}
	return done
}

func TestTailRemovesItsConsumer(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 2, mailevent.ModeBinary)
	cfg := replay.TailConfig{JS: srv.JS, Stream: testStream, Prefix: "mail", Location: tokyo}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runTail(t, ctx, cfg, io.Discard, io.Discard)
	if n := consumerCount(t, srv); n != 1 {
		t.Fatalf("consumers while tailing = %d, want 1", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail still running 10s after its context ended")
	}

	if n := consumerCount(t, srv); n != 0 {
		t.Errorf("consumers after tail = %d, want 0", n)
	}
}

func TestTailShowsWebhookWithinSecond(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 20*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: testStream, Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	handler, err := ingress.New(srv.Conn, srv.JS, ingress.Config{
		StreamName: testStream, Builder: testBuilder(), Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	webhook := httptest.NewServer(handler.Routes(nil))
	t.Cleanup(webhook.Close)

	out, _ := startTail(t, srv, replay.TailConfig{})

	body, err := os.ReadFile("../../testdata/cmc/bounces-user-unknown.json")
	if err != nil {
		t.Fatal(err)
	}
	posted := time.Now()
	resp, err := http.Post(webhook.URL+ingress.WebhookPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook status = %d, want 200", resp.StatusCode)
	}

	if !out.waitFor(t, "no-user@example.jp", time.Second) {
		t.Fatalf("no line for the bounce within 1s of its webhook; output: %q", out.String())
	}
	t.Logf("line shown %s after the webhook was posted", time.Since(posted))
	line := out.String()
	for _, part := range []string{"2023-01-25 14:06:07 JST", "bounce.user_unknown", "userunknown/hard", "550 5.1.1 The email account"} {
		if !strings.Contains(line, part) {
			t.Errorf("line %q does not contain %q", line, part)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("output %q, want exactly one line", line)
	}
}

func TestTailRejectedMessageLine(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 0, mailevent.ModeBinary)
	out, _ := startTail(t, srv, replay.TailConfig{})

	publish(t, srv, nats.NewMsg("mail.rejected"), "{not json")
	publish(t, srv, nats.NewMsg("mail.deadletter.suppression"), "opaque")

	if !out.waitFor(t, "mail.deadletter.suppression", 5*time.Second) {
		t.Fatalf("no line for the dead letter; output: %q", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output has %d lines, want 2: %q", len(lines), out.String())
	}
	for i, kind := range []string{"rejected", "deadletter"} {
		if !strings.Contains(lines[i], kind) || !strings.Contains(lines[i], "missing recipient") || !strings.Contains(lines[i], "not a CloudEvent") {
			t.Errorf("line %d = %q, want kind %s, the reason header and 'not a CloudEvent'", i, lines[i], kind)
		}
	}
}

func TestTailJSONKeepsOutputCloudEvents(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 0, mailevent.ModeStructured)
	out, notes := startTail(t, srv, replay.TailConfig{JSON: true, Subjects: []string{"mail.>"}})

	ev, subject, err := testBuilder().Build("bounces", "pro", record("2023-01-25 11:00:00", "json@example.jp", "2", "550 5.1.1 unknown"))
	if err != nil {
		t.Fatal(err)
	}
	publish(t, srv, nats.NewMsg("mail.rejected"), "{not json")
	publish(t, srv, mailevent.Encode(&ev, subject, mailevent.ModeBinary), "")

	if !out.waitFor(t, ev.ID, 5*time.Second) {
		t.Fatalf("no JSON line for the event; output: %q", out.String())
	}
	got := decodeLines(t, out.String())
	if len(got) != 1 || got[0].ID != ev.ID {
		t.Errorf("events = %v, want only %s", eventIDs(got), ev.ID)
	}
	if !notes.waitFor(t, "rejected", 5*time.Second) {
		t.Errorf("notes = %q, want the rejected message's line", notes.String())
	}
}

func TestTailSinceStartsInPast(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 3, mailevent.ModeBinary)
	out, _ := startTail(t, srv, replay.TailConfig{Since: time.Now().Add(-time.Hour)})

	for _, e := range events {
		if !out.waitFor(t, e.event.Subject, 5*time.Second) {
			t.Errorf("no line for %s; output: %q", e.event.Subject, out.String())
		}
	}
}

func TestAppendEventLineWithoutClassification(t *testing.T) {
	t.Parallel()
	ev := mailevent.Event{
		ID: "1", Type: mailevent.TypeDeliverySucceeded, Subject: "user@example.jp",
		Time: time.Date(2023, 1, 25, 5, 3, 6, 0, time.UTC),
		Data: []byte(`{"reason":"250 2.0.0\n OK  queued","status":"succeeded"}`),
	}

	line := string(replay.AppendEventLine(nil, &ev, tokyo))

	want := "2023-01-25 14:03:06 JST  delivery.succeeded          user@example.jp                 -                   250 2.0.0 OK queued\n"
	if line != want {
		t.Errorf("line =\n%q, want\n%q", line, want)
	}
}

func TestAppendEventLineShortensReason(t *testing.T) {
	t.Parallel()
	ev := mailevent.Event{Type: mailevent.TypeDeliveryDeferred, Data: []byte(`{"reason":"` + strings.Repeat("あ", 200) + `"}`)}

	line := string(replay.AppendEventLine(nil, &ev, tokyo))

	// あ takes two cells: 39 of them and the ellipsis fill 79 of 80.
	if !strings.HasSuffix(line, "  "+strings.Repeat("あ", 39)+"…\n") {
		t.Errorf("line = %q, want the reason cut to 80 terminal cells", line)
	}
}

func TestAppendEventLineAlignsWideCharacters(t *testing.T) {
	t.Parallel()
	at := time.Date(2023, 1, 25, 5, 3, 6, 0, time.UTC)
	narrow := mailevent.Event{Type: mailevent.TypeDeliveryFailed, Subject: "taro@example.jp", Time: at,
		Data: []byte(`{"reason":"550 5.1.1 unknown","classification":{"reason":"userunknown","hard":true}}`)}
	wide := mailevent.Event{Type: mailevent.TypeDeliveryFailed, Subject: "山田太郎@例え.jp", Time: at,
		Data: []byte(`{"reason":"550 5.1.1 unknown","classification":{"reason":"userunknown","hard":true}}`)}

	narrowLine := string(replay.AppendEventLine(nil, &narrow, tokyo))
	wideLine := string(replay.AppendEventLine(nil, &wide, tokyo))

	// The verdict starts in the same terminal column on both lines.
	column := func(line string) int {
		before, _, ok := strings.Cut(line, "userunknown/hard")
		if !ok {
			t.Fatalf("no verdict in %q", line)
		}
		cells := 0
		for _, r := range before {
			cells++
			if r >= 0x2E80 { // kanji and kana take two cells
				cells++
			}
		}
		return cells
	}
	if n, w := column(narrowLine), column(wideLine); n != w {
		t.Errorf("verdict starts at cell %d after an ASCII address and at cell %d after a Japanese one:\n%s%s", n, w, narrowLine, wideLine)
	}
}

func TestAppendEventLineShortensOwnTypes(t *testing.T) {
	t.Parallel()
	ev := mailevent.Event{Type: "io.mailbridge.suppression.added", Subject: "taro@example.jp",
		Time: time.Date(2023, 1, 25, 5, 3, 6, 0, time.UTC), Data: []byte(`{}`)}

	line := string(replay.AppendEventLine(nil, &ev, tokyo))

	want := "2023-01-25 14:03:06 JST  suppression.added           taro@example.jp                 -\n"
	if line != want {
		t.Errorf("line =\n%q, want\n%q", line, want)
	}
}

func TestAppendEventLineEscapesControls(t *testing.T) {
	t.Parallel()
	ev := mailevent.Event{Type: mailevent.TypeDeliveryFailed, Subject: "a\x1b[31mred\b@example.jp",
		Time: time.Date(2023, 1, 25, 5, 3, 6, 0, time.UTC),
		Data: []byte(`{"reason":"550 \u001b]0;owned\u0007\u001b[2J gone \u202eevil"}`)}

	line := string(replay.AppendEventLine(nil, &ev, tokyo))

	for _, raw := range []string{"\x1b", "\b", "\a", "\u202e"} {
		if strings.Contains(line, raw) {
			t.Errorf("line %q contains the raw control %q", line, raw)
		}
	}
	for _, escaped := range []string{`a\x1b[31mred\b@example.jp`, `550 \x1b]0;owned\a\x1b[2J gone \u202eevil`} {
		if !strings.Contains(line, escaped) {
			t.Errorf("line %q does not show %s", line, escaped)
		}
	}
}
