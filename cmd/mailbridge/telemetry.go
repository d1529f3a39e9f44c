package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
)

// telemetry is the metrics registry and tracer provider of a consumer process.
type telemetry struct {
	// Registry receives the process's metrics. Nil registers none.
	Registry prometheus.Registerer
	// TracerProvider makes the spans of handled events. Nil makes none.
	TracerProvider trace.TracerProvider
}

// standaloneTelemetry is the telemetry of a consumer command that runs
// without serve: "mailbridge suppressor" or "mailbridge alerter".
type standaloneTelemetry struct {
	telemetry
	registry *prometheus.Registry
	stops    []func()
}

// startStandaloneTelemetry starts tracing as serve does and registers the
// Go, process, NATS connection, stream and consumer metrics. service is
// the service.name of the spans unless OTEL_SERVICE_NAME sets another.
func startStandaloneTelemetry(ctx context.Context, service string, nc *nats.Conn, js jetstream.JetStream, streamName string, logger *slog.Logger) (*standaloneTelemetry, error) {
	tracingCfg, err := app.LoadTracingConfig()
	if err != nil {
		return nil, err
	}
	tracerProvider, stopTracing, err := app.StartTracing(ctx, tracingCfg, service, version, logger)
	if err != nil {
		return nil, err
	}
	tel := &standaloneTelemetry{registry: prometheus.NewRegistry()}
	tel.stops = append(tel.stops, func() { flushTraces(stopTracing, logger) })
	tel.Registry, tel.TracerProvider = tel.registry, tracerProvider

	tel.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := registerNATSMetrics(tel.registry, nc, js, streamName, logger); err != nil {
		tel.stop()
		return nil, fmt.Errorf("register nats metrics: %w", err)
	}
	return tel, nil
}

// serve serves /metrics on addr when it is not empty. Call it once the
// component has registered its metrics.
func (t *standaloneTelemetry) serve(addr, variable string, logger *slog.Logger) error {
	if addr == "" {
		return nil
	}
	stop, err := serveMetrics(addr, variable, t.registry, logger)
	if err != nil {
		return err
	}
	t.stops = append(t.stops, stop)
	return nil
}

// stop stops the /metrics listener and flushes the spans, last started
// first.
func (t *standaloneTelemetry) stop() {
	for i := len(t.stops) - 1; i >= 0; i-- {
		t.stops[i]()
	}
}

// serveMetrics serves /metrics on addr until the returned function is
// called. variable names the environment variable that set addr.
func serveMetrics(addr, variable string, gatherer prometheus.Gatherer, logger *slog.Logger) (func(), error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s: %w", variable, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server failed", slog.Any("error", err))
		}
	}()
	logger.Info("metrics listening", slog.String("metrics_addr", listener.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
