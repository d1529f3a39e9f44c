package ingress

import (
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Config configures a Handler.
type Config struct {
	// StreamName is the stream that /readyz checks. Required.
	StreamName string

	// Builder maps records to events and names their subjects. Required.
	Builder *mailevent.Builder

	// Mode is the CloudEvents content mode on NATS. Defaults to binary.
	Mode mailevent.Mode

	// MaxBodyBytes is the largest body accepted, counted after gzip
	// decompression. Defaults to 4 MiB.
	MaxBodyBytes int64

	// PublishTimeout is how long a request waits for JetStream to
	// acknowledge all of its events before it gets a 503 response.
	// Defaults to 5s.
	PublishTimeout time.Duration

	// RetryAfter is the Retry-After value of a 503 response. Defaults to 5s.
	RetryAfter time.Duration

	// Auth is the webhook authentication. The zero value accepts every
	// request.
	Auth Auth

	// Buffer, when set, keeps the events of a batch that JetStream could
	// not store, and the batch gets a 200 response. Nil responds 503 instead.
	Buffer Buffer

	// StorageCheck, when set, returns why the JetStream server cannot store
	// events, or nil while it can. /readyz runs it on every probe, and a
	// webhook whose publish failed runs it to explain the 503. While it
	// fails, webhooks run it before publishing and get 503 at once instead
	// of waiting PublishTimeout. Nil skips these checks, as for a remote
	// cluster whose state only its servers know.
	StorageCheck func() error

	// Limits bound what one body may contain.
	Limits cmc.Limits

	// Logger receives a line per webhook (at Debug, or Warn and Error when
	// it fails) and the lines of LogSummaries. Defaults to slog.Default().
	Logger *slog.Logger

	// Registerer receives the ingress metrics. Nil registers none.
	Registerer prometheus.Registerer

	// LogEveryWebhook logs each handled webhook at Info. Defaults to
	// false: a successful webhook is logged at Debug, and Handler.LogSummaries
	// sums them up at Info.
	LogEveryWebhook bool

	// Publishers are further JetStream contexts, each on its own NATS
	// connection, over which requests are spread round-robin besides the
	// one given to New. Defaults to none.
	Publishers []jetstream.JetStream

	// TracerProvider makes a span per webhook and per published event, and
	// each event carries its publish span's traceparent. Defaults to a
	// no-op provider: no spans and no traceparent.
	TracerProvider trace.TracerProvider
}

// Auth is the webhook authentication. When both are set, a request passing
// either is accepted.
type Auth struct {
	// BasicUser and BasicPassword enable HTTP Basic authentication.
	BasicUser     string
	BasicPassword string

	// APIKey enables the API key, sent as "Authorization: Bearer <key>" or
	// as the body field api_key.
	APIKey string
}

// Enabled reports whether any authentication is configured.
func (a Auth) Enabled() bool {
	return a.BasicUser != "" || a.BasicPassword != "" || a.APIKey != ""
}

const defaultPublishTimeout = 5 * time.Second

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.StreamName == "" {
		return cfg, errors.New("ingress: StreamName is required")
	}
	if cfg.Builder == nil {
		return cfg, errors.New("ingress: Builder is required")
	}
	if cfg.Mode == "" {
		cfg.Mode = mailevent.ModeBinary
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = defaultPublishTimeout
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if (cfg.Auth.BasicUser == "") != (cfg.Auth.BasicPassword == "") {
		return cfg, errors.New("ingress: Basic authentication needs both a user and a password")
	}
	return cfg, nil
}
