package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// ClientURL returns the URL that commands other than serve connect to.
func (c NATSConfig) ClientURL() string {
	if c.URL != "" {
		return SplitURLs(c.URL)
	}
	return "nats://" + c.EmbeddedAddr
}

// Options returns the connection options for c's credentials and TLS, with
// endless reconnects whose events go to logger.
func (c NATSConfig) Options(name string, logger *slog.Logger) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", slog.Any("error", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats async error", slog.String("nats_subject", subject), slog.Any("error", err))
		}),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("MAILBRIDGE_NATS_NKEY_FILE: %w", err)
		}
		opts = append(opts, opt)
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("MAILBRIDGE_NATS_TLS_CERT and MAILBRIDGE_NATS_TLS_KEY must be set together")
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

// StreamSettings returns the stream configuration.
func (c StreamConfig) StreamSettings() stream.Config {
	return stream.Config{
		Name:            c.StreamName,
		Subjects:        []string{c.SubjectPrefix + ".>"},
		Replicas:        c.StreamReplicas,
		MaxAge:          c.StreamMaxAge,
		MaxBytes:        c.StreamMaxBytes,
		DuplicateWindow: c.DuplicateWindow,
	}
}

// NewJetStream returns the JetStream context that the ingress publishes
// through, whose pending publishes expire after publishTimeout.
func NewJetStream(nc *nats.Conn, publishTimeout time.Duration) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc, ingress.JetStreamOptions(publishTimeout)...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nil
}

// EnsureStream creates or updates the stream and logs that it is ready.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig, logger *slog.Logger) error {
	streamCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := stream.Ensure(streamCtx, js, c.StreamSettings()); err != nil {
		return err
	}
	logger.Info("stream ready", slog.String("stream", c.StreamName),
		slog.String("subjects", c.SubjectPrefix+".>"), slog.Int("replicas", c.StreamReplicas))
	return nil
}

// PrepareStream returns the JetStream context that the ingress publishes
// through, after creating or updating the stream.
func PrepareStream(ctx context.Context, nc *nats.Conn, c StreamConfig, publishTimeout time.Duration, logger *slog.Logger) (jetstream.JetStream, error) {
	js, err := NewJetStream(nc, publishTimeout)
	if err != nil {
		return nil, err
	}
	if err := EnsureStream(ctx, js, c, logger); err != nil {
		return nil, err
	}
	return js, nil
}
