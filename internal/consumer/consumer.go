// Package consumer is a stand-in for the consumer kit (pkg/consumer) with
// the same Handler, Msg, Config, Run and Permanent, so that the suppression
// consumer moves onto the kit by changing one import path. It will be
// deleted when the kit is on the main branch.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Handler processes one event. Returning nil acks the message. Returning
// an error naks it so JetStream delivers it again after the backoff; an
// error wrapped with Permanent terms it at once.
type Handler func(ctx context.Context, msg *Msg) error

// Msg is one delivered event.
type Msg struct {
	Event     mailevent.Event
	Subject   string
	Sequence  uint64
	Stored    time.Time
	Delivered uint64
	// InProgress tells JetStream the handler is still working.
	InProgress func() error
}

// Config is the durable consumer that Run creates or updates.
type Config struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	// AckWait defaults to 30s.
	AckWait time.Duration
	// MaxDeliver defaults to 5.
	MaxDeliver int
	// Backoff steps must each be at least AckWait.
	Backoff []time.Duration
	// DeadLetterSubject receives a message after its last failed
	// delivery. Empty publishes none.
	DeadLetterSubject string
	// MaxAckPending defaults to 1000.
	MaxAckPending int
	Logger        *slog.Logger
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks an error that redelivery will not fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Run creates or updates the durable consumer and runs h over its messages
// until ctx ends, then waits for the handler in flight and returns.
func Run(ctx context.Context, js jetstream.JetStream, cfg Config, h Handler) error {
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 5
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = 1000
	}
	for i, step := range cfg.Backoff {
		if step < cfg.AckWait {
			return fmt.Errorf("consumer: Backoff[%d] %s is shorter than AckWait %s", i, step, cfg.AckWait)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     cfg.MaxDeliver,
		BackOff:        cfg.Backoff,
		MaxAckPending:  cfg.MaxAckPending,
		FilterSubjects: cfg.FilterSubjects,
	})
	if err != nil {
		return fmt.Errorf("create or update consumer %s: %w", cfg.Durable, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	stopped := context.AfterFunc(ctx, iter.Drain)
	defer stopped()

	for {
		raw, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			cfg.Logger.Warn("consumer fetch failed", slog.String("durable", cfg.Durable), slog.Any("error", err))
			continue
		}
		handle(cfg, js, raw, h)
	}
}

func handle(cfg Config, js jetstream.JetStream, raw jetstream.Msg, h Handler) {
	meta, err := raw.Metadata()
	if err != nil {
		_ = raw.Term()
		return
	}
	ev, err := mailevent.Decode(raw.Headers(), raw.Data())
	if err == nil {
		msg := &Msg{
			Event: ev, Subject: raw.Subject(), Sequence: meta.Sequence.Stream,
			Stored: meta.Timestamp, Delivered: meta.NumDelivered, InProgress: raw.InProgress,
		}
		err = h(context.Background(), msg)
	}
	if err == nil {
		_ = raw.Ack()
		return
	}

	var permanent *permanentError
	last := errors.As(err, &permanent) || int(meta.NumDelivered) >= cfg.MaxDeliver
	cfg.Logger.Warn("event handler failed", slog.String("durable", cfg.Durable),
		slog.Uint64("stream_seq", meta.Sequence.Stream), slog.Bool("final", last), slog.Any("error", err))
	if !last {
		delay := cfg.AckWait
		if n := len(cfg.Backoff); n > 0 {
			delay = cfg.Backoff[min(int(meta.NumDelivered), n)-1]
		}
		_ = raw.NakWithDelay(delay)
		return
	}
	if cfg.DeadLetterSubject != "" {
		dead := &nats.Msg{Subject: cfg.DeadLetterSubject, Header: nats.Header{}, Data: raw.Data()}
		for name, values := range raw.Headers() {
			if name != mailevent.HeaderMsgID {
				dead.Header[name] = values
			}
		}
		if _, err := js.PublishMsg(context.Background(), dead); err != nil {
			_ = raw.Nak()
			return
		}
	}
	_ = raw.Term()
}
