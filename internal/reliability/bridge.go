package reliability

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/bounce"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// StreamName is the stream the harnesses use.
const StreamName = stream.DefaultName

// Bridge is an in-process ingress with its own NATS connection, behind an
// httptest server.
type Bridge struct {
	Conn    *nats.Conn
	JS      jetstream.JetStream
	Handler *ingress.Handler
	Server  *httptest.Server
}

// BridgeConfig configures StartBridge.
type BridgeConfig struct {
	// URLs are the NATS servers, comma-separated.
	URLs string

	// PublishTimeout is the ingress's. Defaults to 2s.
	PublishTimeout time.Duration

	// Buffer is the ingress's buffer, nil for none.
	Buffer ingress.Buffer

	// Auth is the ingress's authentication.
	Auth ingress.Auth

	// Logger defaults to one that discards.
	Logger *slog.Logger
}

// NewBuilder returns the event builder that serve uses by default.
func NewBuilder() *mailevent.Builder {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		tokyo = time.FixedZone("JST", 9*60*60)
	}
	return &mailevent.Builder{
		Subjects:   mailevent.Subjects{Prefix: "mail"},
		Location:   tokyo,
		Classify:   bounce.EventClassification,
		ParseCodes: bounce.ParseCodes,
	}
}

// StartBridge connects to cfg.URLs and serves the ingress on a loopback
// httptest server until the test ends.
func StartBridge(tb testing.TB, cfg BridgeConfig) *Bridge {
	tb.Helper()
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	nc, err := nats.Connect(cfg.URLs,
		nats.Name("mailbridge reliability bridge"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
	)
	if err != nil {
		tb.Fatalf("connect bridge to %s: %v", cfg.URLs, err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, ingress.JetStreamOptions(cfg.PublishTimeout)...)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	handler, err := ingress.New(nc, js, ingress.Config{
		StreamName:     StreamName,
		Builder:        NewBuilder(),
		PublishTimeout: cfg.PublishTimeout,
		RetryAfter:     time.Second,
		Auth:           cfg.Auth,
		Buffer:         cfg.Buffer,
		Logger:         cfg.Logger,
	})
	if err != nil {
		tb.Fatalf("ingress: %v", err)
	}
	srv := httptest.NewServer(handler.Routes(nil))
	tb.Cleanup(srv.Close)
	return &Bridge{Conn: nc, JS: js, Handler: handler, Server: srv}
}

// WebhookURL returns the URL CMC posts to.
func (b *Bridge) WebhookURL() string { return b.Server.URL + ingress.WebhookPath }

// EnsureStream creates the stream with replicas copies and maxBytes
// (0 for no limit) through js.
func EnsureStream(tb testing.TB, js jetstream.JetStream, replicas int, maxBytes int64) {
	tb.Helper()
	cfg := stream.Config{
		Name:     StreamName,
		Subjects: []string{"mail.>"},
		Replicas: replicas,
		MaxAge:   720 * time.Hour,
		MaxBytes: maxBytes,
	}
	// A new cluster may not place replicas until every peer has
	// reported to the meta leader, so try again until it does.
	var err error
	waitFor(tb, 60*time.Second, "the stream to be created", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = stream.Ensure(ctx, js, cfg)
		return err == nil
	})
}
