package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/bounce"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// NewBuilder returns the event builder for the ingress and stream
// configuration.
func NewBuilder(cfg IngressConfig, streamCfg StreamConfig) (*mailevent.Builder, error) {
	if err := mailevent.ValidatePrefix(streamCfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_SUBJECT_PREFIX: %w", err)
	}
	loc, err := time.LoadLocation(cfg.CMCTimezone)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_CMC_TIMEZONE %q is not a time zone name such as Asia/Tokyo: %w", cfg.CMCTimezone, err)
	}
	return &mailevent.Builder{
		Subjects:   mailevent.Subjects{Prefix: streamCfg.SubjectPrefix},
		Location:   loc,
		Classify:   bounce.EventClassification,
		ParseCodes: bounce.ParseCodes,
	}, nil
}

// IngressDeps are the running parts an ingress handler is built on.
type IngressDeps struct {
	Conn *nats.Conn
	JS   jetstream.JetStream

	// Logger receives the handler's log lines.
	Logger *slog.Logger

	// Registerer receives the ingress metrics. Nil registers none.
	Registerer prometheus.Registerer

	// TracerProvider makes the webhook and publish spans. Nil records
	// none.
	TracerProvider trace.TracerProvider

	// Publishers are further JetStream contexts, each on its own
	// connection, that the ingress spreads its publishes over.
	Publishers []jetstream.JetStream

	// Buffer keeps accepted batches on local disk while JetStream is
	// unreachable. Nil answers 503 instead.
	Buffer ingress.Buffer

	// StorageCheck returns why JetStream cannot store events, for /readyz
	// and the 503 responses. Nil checks nothing.
	StorageCheck func() error

	// LogEveryWebhook logs each handled webhook at Info, for a process that
	// does not live long enough to log a summary a minute.
	LogEveryWebhook bool
}

// NewIngress builds the webhook handler from its configuration. It warns
// through deps.Logger when the webhook endpoint needs no authentication.
func NewIngress(cfg IngressConfig, streamCfg StreamConfig, deps IngressDeps) (*ingress.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := streamCfg.Validate(); err != nil {
		return nil, err
	}
	builder, err := NewBuilder(cfg, streamCfg)
	if err != nil {
		return nil, err
	}
	mode, err := mailevent.ParseMode(cfg.CloudEventsMode)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_CLOUDEVENTS_MODE: %w", err)
	}
	auth := ingress.Auth{
		BasicUser:     cfg.WebhookBasicUser,
		BasicPassword: cfg.WebhookBasicPassword,
		APIKey:        cfg.WebhookAPIKey,
	}
	handler, err := ingress.New(deps.Conn, deps.JS, ingress.Config{
		StreamName:      streamCfg.StreamName,
		Builder:         builder,
		Mode:            mode,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		PublishTimeout:  cfg.PublishTimeout,
		Auth:            auth,
		Logger:          deps.Logger,
		Registerer:      deps.Registerer,
		TracerProvider:  deps.TracerProvider,
		Publishers:      deps.Publishers,
		Buffer:          deps.Buffer,
		LogEveryWebhook: deps.LogEveryWebhook,
		StorageCheck:    deps.StorageCheck,
	})
	if err != nil {
		return nil, err
	}
	if !auth.Enabled() {
		deps.Logger.Warn("webhook endpoint is open: set MAILBRIDGE_WEBHOOK_API_KEY or MAILBRIDGE_WEBHOOK_BASIC_USER and _PASSWORD to require authentication")
	}
	return handler, nil
}
