package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/suppression"
)

// TestMain points the suppressor's admin API at a random loopback port,
// because serve starts the suppressor on the embedded default and the
// default port may be taken or belong to something else.
func TestMain(m *testing.M) {
	os.Setenv("MAILBRIDGE_ADMIN_ADDR", "127.0.0.1:0")
	os.Exit(m.Run())
}

func TestSuppressorEnabled(t *testing.T) {
	t.Parallel()
	embedded, err := suppressorEnabled(serveConfig{})
	if err != nil || !embedded {
		t.Errorf("auto on the embedded server = %t, %v; want true", embedded, err)
	}
	cluster, err := suppressorEnabled(serveConfig{NATSConfig: NATSConfig{URL: "nats://127.0.0.1:4222"}})
	if err != nil || cluster {
		t.Errorf("auto with MAILBRIDGE_NATS_URL = %t, %v; want false", cluster, err)
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"127.0.0.1:8081": true, "[::1]:8081": true, "localhost:8081": true,
		":8081": false, "0.0.0.0:8081": false, "192.0.2.1:8081": false, "nonsense": false,
	}
	for addr, want := range cases {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %t, want %t", addr, got, want)
		}
	}
}

func testSuppressorSettings() SuppressorSettings {
	return SuppressorSettings{
		AdminAddr: "127.0.0.1:0", Bucket: "suppressions", Durable: "suppressor",
		SoftThreshold: 3, SoftWindow: 168 * time.Hour, AckWait: 5 * time.Second, MaxDeliver: 5,
	}
}

func TestSuppressorRefusesOpenNonLoopbackAPI(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	settings := testSuppressorSettings()
	settings.AdminAddr = "0.0.0.0:0"
	_, err := startSuppressor(t.Context(), srv.JS, settings, testServeConfig(t).StreamConfig, mailevent.ModeBinary, discardLogger(), telemetry{})
	if err == nil || !strings.Contains(err.Error(), "MAILBRIDGE_ADMIN_TOKEN") {
		t.Errorf("start on 0.0.0.0 without a token: %v; want an error naming MAILBRIDGE_ADMIN_TOKEN", err)
	}
}

func TestSuppressorServesAPIAndStops(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	settings := testSuppressorSettings()
	settings.AdminToken = "token"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := startSuppressor(ctx, srv.JS, settings, testServeConfig(t).StreamConfig, mailevent.ModeBinary, discardLogger(), telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	client := &suppression.Client{BaseURL: "http://" + run.adminAddr.String(), Token: "token"}
	if _, err := client.SuppressionAdd(natstest.Context(t, 10*time.Second), "a@example.jp", "complaint", ""); err != nil {
		t.Fatalf("add through the suppressor's API: %v", err)
	}
	resp, err := http.Get("http://" + run.adminAddr.String() + suppression.PathSuppressions + "/a@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("request without the token answered %d, want 401", resp.StatusCode)
	}

	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- run.wait() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("wait: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("suppressor did not stop within 15s of its ctx ending")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestServeSuppressesVendorBounce posts the vendor's user-unknown bounce
// to serve on the embedded default and reads the suppression from the
// admin API that serve runs beside the ingress.
func TestServeSuppressesVendorBounce(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The config's t.TempDir comes before the cleanup below, which then
	// runs first and waits for serve before the directory is removed.
	cfg := testServeConfig(t)
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

	var httpAddr net.Addr
	select {
	case httpAddr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready after 30s")
	}
	listening := logs.records(t, "suppression admin api listening")
	if len(listening) != 1 {
		t.Fatalf("%d suppression admin api lines, want 1: serve did not start the suppressor", len(listening))
	}
	adminAddr, _ := listening[0]["admin_addr"].(string)
	client := &suppression.Client{BaseURL: "http://" + adminAddr}

	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", "bounces-user-unknown.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+httpAddr.String()+"/webhooks/cmc", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d, want 200", resp.StatusCode)
	}

	deadline := time.Now().Add(time.Second)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		got, err := client.SuppressionGet(ctx, "no-user@example.jp")
		if err == nil {
			if got.Reason != "userunknown" || !got.Hard {
				t.Errorf("suppression %+v, want hard userunknown", got)
			}
			return
		}
		if !suppression.IsNotFound(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no-user@example.jp not suppressed within a second of the webhook")
		}
		<-ticker.C
	}
}
