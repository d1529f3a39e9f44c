package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTracesURL(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"http://otel-collector:4318":      "http://otel-collector:4318/v1/traces",
		"https://collector.example:4318/": "https://collector.example:4318/v1/traces",
		"http://gateway:8080/otlp":        "http://gateway:8080/otlp/v1/traces",
	}
	for base, want := range cases {
		got, err := tracesURL(base)
		if err != nil || got != want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
	for _, bad := range []string{"otel-collector:4318", "grpc://collector:4317", "http://"} {
		if _, err := tracesURL(bad); err == nil {
			t.Errorf("tracesURL(%q) returned no error", bad)
		}
	}
}

func TestTracingOffByDefault(t *testing.T) {
	t.Setenv("MAILBRIDGE_OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	cfg, err := LoadTracingConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Enabled() {
		t.Error("tracing is on with no endpoint set")
	}

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	if cfg, _ := LoadTracingConfig(); !cfg.Enabled() {
		t.Error("tracing is off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if cfg, _ := LoadTracingConfig(); cfg.Enabled() {
		t.Error("tracing is on with OTEL_SDK_DISABLED=true")
	}
}

func TestTracingExportsToEndpoint(t *testing.T) {
	t.Parallel()
	received := make(chan string, 16)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received <- r.Method + " " + r.URL.Path
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	provider, stop, err := StartTracing(ctx, TracingConfig{OTLPEndpoint: collector.URL}, "mailbridge-test", "dev", logger)
	if err != nil {
		t.Fatal(err)
	}
	_, span := provider.Tracer("test").Start(ctx, "one span")
	span.End()

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := stop(stopCtx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case got := <-received:
		if got != "POST /v1/traces" {
			t.Errorf("collector received %q, want POST /v1/traces", got)
		}
	default:
		t.Fatal("the collector received nothing after the provider stopped")
	}
}
