// Package stream creates and updates the JetStream stream that holds every
// event mailbridge publishes.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultName is the default stream name.
const DefaultName = "MAIL"

// Config is the stream's configuration.
type Config struct {
	// Name is the stream name. Defaults to DefaultName.
	Name string

	// Subjects are the subjects the stream stores, such as "mail.>".
	Subjects []string

	// Replicas is the number of copies in a cluster. Defaults to 1.
	Replicas int

	// MaxAge removes events older than this. Zero keeps them until MaxBytes
	// is reached.
	MaxAge time.Duration

	// MaxBytes is the largest size of the stream. When it is reached, new
	// events are refused (discard policy new), so the ingress answers 503
	// instead of letting old events vanish. -1 or 0 is unlimited.
	MaxBytes int64

	// DuplicateWindow is how long JetStream remembers message ids to drop
	// duplicates. Defaults to 2 minutes, JetStream's own default.
	DuplicateWindow time.Duration
}

// StreamConfig returns the JetStream configuration for c.
func (c Config) StreamConfig() jetstream.StreamConfig {
	name := c.Name
	if name == "" {
		name = DefaultName
	}
	replicas := c.Replicas
	if replicas < 1 {
		replicas = 1
	}
	maxBytes := c.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	window := c.DuplicateWindow
	if window <= 0 {
		window = 2 * time.Minute
	}
	return jetstream.StreamConfig{
		Name:        name,
		Description: "Customers Mail Cloud events as CloudEvents, written by mailbridge",
		Subjects:    c.Subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		Replicas:    replicas,
		MaxAge:      c.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		Duplicates:  window,
	}
}

// Ensure creates the stream, or updates it to c when it exists, and returns
// it. An update that JetStream refuses (changing the storage type, say)
// is returned as an error naming the stream.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) (jetstream.Stream, error) {
	cfg := c.StreamConfig()
	s, err := js.CreateStream(ctx, cfg)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("create stream %s: %w", cfg.Name, JetStreamHint(err))
	}
	s, err = js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// JetStreamHint adds to err the question whether JetStream is enabled,
// with how to enable it, when err is the reply of a NATS server without
// JetStream: no responders, or JetStream not enabled. It returns other
// errors as they are.
func JetStreamHint(err error) error {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return fmt.Errorf("%w: is JetStream enabled on the NATS server? Start nats-server with -js, or set jetstream in its configuration", err)
	}
	return err
}
