package main

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"
)

// testLogWriter sends log lines to t.Log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// defaultServeConfig returns serve's configuration with every default, set
// to publish to natsURL and to listen on a random loopback port.
func defaultServeConfig(t testing.TB, natsURL string) serveConfig {
	t.Helper()
	var cfg serveConfig
	if err := loadConfig(&cfg); err != nil {
		t.Fatalf("load defaults: %v", err)
	}
	cfg.URL = natsURL
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// startServeConfig runs serve with cfg until the test ends and returns the base
// URL of its HTTP listener.
func startServeConfig(t testing.TB, cfg serveConfig) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	stopped := make(chan struct{})
	var serveErr error
	go func() {
		defer close(stopped)
		serveErr = serve(ctx, cfg, testLogger(t), ready)
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
		return "http://" + addr.String()
	case <-stopped:
		t.Fatalf("serve stopped before listening: %v", serveErr)
	case <-time.After(20 * time.Second):
		t.Fatal("serve not listening after 20s")
	}
	return ""
}
