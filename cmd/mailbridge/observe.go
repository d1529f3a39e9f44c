package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/pkg/natsmetrics"
)

func init() {
	helpSections = append(helpSections, helpSection{
		title:  "Tracing (OpenTelemetry, off by default; the standard OTEL_ variables such as OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS and OTEL_SERVICE_NAME apply too)",
		config: &app.TracingConfig{},
	})
}

// registerNATSMetrics registers the connection, pub ack and stream
// metrics of a process that publishes through js.
func registerNATSMetrics(reg prometheus.Registerer, nc *nats.Conn, js jetstream.JetStream, streamName string, logger *slog.Logger) error {
	if err := natsmetrics.RegisterConnection(reg, nc, js); err != nil {
		return err
	}
	return reg.Register(natsmetrics.NewStreamCollector(js, natsmetrics.StreamCollectorConfig{
		Stream: streamName,
		Logger: logger,
	}))
}

// flushTraces sends the spans still buffered and stops the tracer
// provider, waiting at most 5 seconds.
func flushTraces(stop func(context.Context) error, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		logger.Warn("trace flush failed", slog.Any("error", err))
	}
}
