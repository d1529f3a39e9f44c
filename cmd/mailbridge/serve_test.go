package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records with the given message.
func (b *lockedBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	scanner := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for scanner.Scan() {
		var record map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &record); err != nil {
			t.Fatalf("log line %q: %v", scanner.Text(), err)
		}
		if record["msg"] == msg {
			out = append(out, record)
		}
	}
	return out
}

func testServeConfig(t *testing.T) serveConfig {
	t.Helper()
	return serveConfig{
		HTTPAddr:           "127.0.0.1:0",
		ShutdownTimeout:    10 * time.Second,
		PublishConnections: 1,
		IngressConfig: app.IngressConfig{
			CMCTimezone:     "Asia/Tokyo",
			MaxBodyBytes:    4 << 20,
			PublishTimeout:  5 * time.Second,
			CloudEventsMode: "binary",
		},
		NATSConfig: NATSConfig{
			EmbeddedAddr: "127.0.0.1:0",
			DataDir:      t.TempDir(),
		},
		StreamConfig: StreamConfig{
			StreamName:      "MAIL",
			SubjectPrefix:   "mail",
			StreamReplicas:  1,
			StreamMaxAge:    time.Hour,
			DuplicateWindow: 2 * time.Minute,
		},
		LogConfig: LogConfig{Level: "debug", Format: "json"},
	}
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Build the config, and so its t.TempDir, before registering the wait
	// for serve: cleanups run last-in first-out, so the data directory is
	// removed only after serve has returned.
	cfg := testServeConfig(t)
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		done <- serve(ctx, cfg, logger, ready)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})

	var httpAddr net.Addr
	select {
	case httpAddr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready after 30s")
	}
	started := logs.records(t, "embedded nats server started")
	if len(started) != 1 {
		t.Fatalf("%d embedded server start lines, want 1", len(started))
	}
	natsAddr, _ := started[0]["client_addr"].(string)
	if !strings.HasPrefix(natsAddr, "127.0.0.1:") || natsAddr == "127.0.0.1:4222" {
		t.Fatalf("embedded server listens on %q, want a random loopback port", natsAddr)
	}

	// Post a vendor example over HTTP.
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", "deliveries-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+httpAddr.String()+"/webhooks/cmc", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"accepted":1`) {
		t.Fatalf("webhook status %d, body %s; want 200 with 1 accepted", resp.StatusCode, answer)
	}

	// Read it back through another client over TCP.
	nc, err := nats.Connect("nats://"+natsAddr, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	readCtx, readCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readCancel()
	stream, err := js.Stream(readCtx, "MAIL")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(readCtx, "mail.deliveries.failed")
	if err != nil {
		t.Fatalf("no event on mail.deliveries.failed: %v", err)
	}
	var golden struct {
		Headers map[string]string `json:"headers"`
	}
	goldenFile, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "deliveries-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(goldenFile, &golden); err != nil {
		t.Fatal(err)
	}
	for _, header := range []string{"ce-id", "ce-type", "ce-time", "ce-subject", "ce-source"} {
		if got, want := msg.Header.Get(header), golden.Headers[header]; got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	nc.Close()

	// Stop it and check that every part is down.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30s after cancel")
	}
	for _, addr := range []string{httpAddr.String(), natsAddr} {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after serve returned", addr)
		} else if !strings.Contains(err.Error(), "refused") {
			t.Logf("dial %s: %v", addr, err)
		}
	}
	for _, line := range []string{"http ingress stopped", "embedded nats server stopped"} {
		if n := len(logs.records(t, line)); n != 1 {
			t.Errorf("%d %q log lines, want 1", n, line)
		}
	}
	for _, line := range []string{"nats drain failed", "nats drain timed out; closing the connection"} {
		if n := len(logs.records(t, line)); n != 0 {
			t.Errorf("log has %q", line)
		}
	}
}

func TestServeBasicUserWithoutPassword(t *testing.T) {
	t.Parallel()
	cfg := testServeConfig(t)
	cfg.WebhookBasicUser = "cmc"
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	err := serve(context.Background(), cfg, logger, nil)

	if err == nil {
		t.Fatal("serve returned nil, want a configuration error")
	}
	if !strings.Contains(err.Error(), "MAILBRIDGE_WEBHOOK_BASIC_PASSWORD") {
		t.Errorf("error = %q, want it to name MAILBRIDGE_WEBHOOK_BASIC_PASSWORD", err)
	}
	if started := logs.records(t, "embedded nats server started"); len(started) > 0 {
		t.Error("the embedded NATS server started before the configuration was checked")
	}
}

func TestServeReplicasNeedCluster(t *testing.T) {
	t.Parallel()
	cfg := testServeConfig(t)
	cfg.StreamReplicas = 3

	err := serve(t.Context(), cfg, discardLogger(), nil)

	want := "MAILBRIDGE_STREAM_REPLICAS=3 needs a NATS cluster: use 1 with the embedded server, or set MAILBRIDGE_NATS_URL"
	if err == nil || err.Error() != want {
		t.Errorf("serve with 3 replicas on the embedded server: %v, want %q", err, want)
	}
}

func TestServeHTTPPortInUseFailsFirst(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testServeConfig(t)
	cfg.HTTPAddr = busy.Addr().String()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	err = serve(t.Context(), cfg, logger, nil)

	if err == nil || !strings.Contains(err.Error(), "set MAILBRIDGE_HTTP_ADDR to a free address") {
		t.Fatalf("serve on a port in use: %v, want an error saying to set MAILBRIDGE_HTTP_ADDR", err)
	}
	if started := logs.records(t, "embedded nats server started"); len(started) > 0 {
		t.Error("the embedded NATS server started before the webhook port was checked")
	}
}
