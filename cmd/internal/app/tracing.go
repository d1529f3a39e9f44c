package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/kelseyhightower/envconfig"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig turns on OpenTelemetry tracing. Tracing is off unless
// MAILBRIDGE_OTEL_EXPORTER_OTLP_ENDPOINT or one of the standard
// OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
// set.
type TracingConfig struct {
	OTLPEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT" desc:"OTLP/HTTP base URL that receives traces, such as http://otel-collector:4318 (/v1/traces is appended); empty turns tracing off unless the standard OTEL_EXPORTER_OTLP_ENDPOINT is set"`

	// useStandard is set by LoadTracingConfig when only the standard
	// variables turn tracing on.
	useStandard bool
}

// standardOTLP holds the standard OpenTelemetry variables that turn
// tracing on. The exporter and the SDK read these and the other OTEL_
// variables (headers, sampler, service name) themselves.
type standardOTLP struct {
	Endpoint       string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TracesEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	SDKDisabled    bool   `envconfig:"OTEL_SDK_DISABLED"`
}

// LoadTracingConfig reads the tracing variables, mailbridge's and the
// standard ones.
func LoadTracingConfig() (TracingConfig, error) {
	var cfg TracingConfig
	if err := LoadConfig(&cfg); err != nil {
		return cfg, err
	}
	var std standardOTLP
	if err := envconfig.Process("", &std); err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	if cfg.OTLPEndpoint == "" && !std.SDKDisabled && (std.Endpoint != "" || std.TracesEndpoint != "") {
		cfg.useStandard = true
	}
	return cfg, nil
}

// Enabled reports whether tracing is on.
func (c TracingConfig) Enabled() bool {
	return c.OTLPEndpoint != "" || c.useStandard
}

// StartTracing returns the tracer provider of the process and the function
// that flushes and stops it. With tracing off it returns a no-op provider.
// service is the service.name resource attribute unless OTEL_SERVICE_NAME
// sets another.
func StartTracing(ctx context.Context, cfg TracingConfig, service, version string, logger *slog.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	if !cfg.Enabled() {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}

	var opts []otlptracehttp.Option
	if cfg.OTLPEndpoint != "" {
		endpoint, err := tracesURL(cfg.OTLPEndpoint)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("otel resource: %w", err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	logger.Info("tracing on", slog.String("exporter", "otlp/http"))
	return provider, provider.Shutdown, nil
}

// tracesURL turns an OTLP/HTTP base URL into its traces URL, as the
// standard OTEL_EXPORTER_OTLP_ENDPOINT is read.
func tracesURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("MAILBRIDGE_OTEL_EXPORTER_OTLP_ENDPOINT %q is invalid: use an http or https URL such as http://otel-collector:4318", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}
