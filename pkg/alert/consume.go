package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// consumerMsg is one delivered event, with the fields of consumer.Msg.
type consumerMsg struct {
	Event      mailevent.Event
	Subject    string
	Sequence   uint64
	Stored     time.Time
	Delivered  uint64
	InProgress func() error
}

// durableConfig is the part of consumer.Config the Alerter sets.
type durableConfig struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	AckWait        time.Duration
	MaxDeliver     int
	StartTime      time.Time
	Logger         *slog.Logger
}

// runDurable creates the durable pull consumer when it does not exist and
// runs h over its messages until ctx ends. A nil error from h acks the
// message, an error naks it, and a message that is not a CloudEvent is
// termed.
//
// TODO(alert): run on consumer.Run once the consumer package exists; it
// adds backoff, a dead-letter subject and parallel handlers.
func runDurable(ctx context.Context, js jetstream.JetStream, cfg durableConfig, h func(context.Context, *consumerMsg) error) error {
	cons, err := js.Consumer(ctx, cfg.Stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cc := jetstream.ConsumerConfig{
			Durable:        cfg.Durable,
			FilterSubjects: cfg.FilterSubjects,
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        cfg.AckWait,
			MaxDeliver:     cfg.MaxDeliver,
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		}
		if !cfg.StartTime.IsZero() {
			start := cfg.StartTime
			cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
			cc.OptStartTime = &start
		}
		cons, err = js.CreateConsumer(ctx, cfg.Stream, cc)
	}
	if err != nil {
		return fmt.Errorf("consumer %s on stream %s: %w", cfg.Durable, cfg.Stream, err)
	}

	handle := func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			return
		}
		ev, err := mailevent.Decode(m.Headers(), m.Data())
		if err != nil {
			cfg.Logger.Warn("message is not a CloudEvent; terminated", slog.String("nats_subject", m.Subject()),
				slog.Uint64("stream_sequence", meta.Sequence.Stream), slog.Any("error", err))
			_ = m.Term()
			return
		}
		msg := &consumerMsg{
			Event: ev, Subject: m.Subject(), Sequence: meta.Sequence.Stream,
			Stored: meta.Timestamp, Delivered: meta.NumDelivered, InProgress: m.InProgress,
		}
		if err := h(ctx, msg); err != nil {
			cfg.Logger.Warn("event handling failed; nak", slog.Uint64("stream_sequence", meta.Sequence.Stream), slog.Any("error", err))
			_ = m.Nak()
			return
		}
		_ = m.Ack()
	}
	consumeCtx, err := cons.Consume(handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			cfg.Logger.Warn("consumer error", slog.String("consumer", cfg.Durable), slog.Any("error", err))
		}
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	<-ctx.Done()
	consumeCtx.Drain()
	<-consumeCtx.Closed()
	return nil
}
