package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/tracing"
)

// headerRejectReason marks the ingress's messages on the rejected subject:
// input kept as it arrived, which is no CloudEvent.
const headerRejectReason = "Mailbridge-Reject-Reason"

// process decodes one message, runs the handler on it, and settles the
// message: ack, nak with the backoff delay, or dead letter and term.
func (r *runner) process(ctx context.Context, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		// Fetch returns only JetStream messages, which carry metadata.
		r.log.Error("message without JetStream metadata; terming it", slog.Any("error", err))
		_ = m.Term()
		return
	}
	log := r.log.With(
		slog.String("nats_subject", m.Subject()),
		slog.Uint64("stream_seq", meta.Sequence.Stream),
		slog.Uint64("delivered", meta.NumDelivered))
	defer r.track(meta.Sequence.Stream)()

	if reason := skipReason(m); reason != "" {
		log.Debug("skipped message that is not an event", slog.String("reason", reason))
		r.ack(ctx, m, log)
		return
	}

	ev, err := mailevent.Decode(m.Headers(), m.Data())
	if err != nil {
		r.deadLetter(ctx, m, meta, fmt.Errorf("decode CloudEvent: %w", err), log)
		return
	}
	log = log.With(slog.String("event_id", ev.ID), slog.String("event_type", ev.Type))

	msg := &Msg{
		Event:      ev,
		Subject:    m.Subject(),
		Sequence:   meta.Sequence.Stream,
		Stored:     meta.Timestamp,
		Delivered:  meta.NumDelivered,
		InProgress: m.InProgress,
	}
	err = r.traceCall(ctx, msg, log)
	if r.abandoned.Load() {
		log.Warn("handler returned after the stop timeout; leaving the event unacked for redelivery", slog.Any("error", err))
		return
	}
	switch {
	case err == nil:
		r.ack(ctx, m, log)
	case IsPermanent(err) || meta.NumDelivered >= uint64(r.cfg.MaxDeliver):
		r.deadLetter(ctx, m, meta, err, log)
	default:
		delay := r.cfg.redeliveryDelay(meta.NumDelivered)
		log.Warn("handler failed; event will be delivered again",
			slog.Any("error", err), slog.Duration("retry_in", delay))
		if err := m.NakWithDelay(delay); err != nil {
			log.Warn("nak failed; JetStream delivers the event again after the ack wait", slog.Any("error", err))
		}
	}
}

// skipReason returns why a message is no event for the handler, or "".
func skipReason(m jetstream.Msg) string {
	header := m.Headers()
	switch {
	case header.Get(HeaderDeadLetterDurable) != "":
		return "dead letter"
	case header.Get(headerRejectReason) != "":
		return "rejected input"
	}
	return ""
}

// traceCall runs the handler inside a consumer span that continues the
// event's trace, when the runner has a tracer.
func (r *runner) traceCall(ctx context.Context, msg *Msg, log *slog.Logger) error {
	if r.tracer == nil {
		return r.call(ctx, msg, log)
	}
	ctx, span := tracing.StartProcess(ctx, r.tracer, &msg.Event, msg.Subject, r.cfg.Durable)
	defer span.End()
	err := r.call(ctx, msg, log)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed")
	}
	return err
}

// call runs the handler and turns a panic into an error.
func (r *runner) call(ctx context.Context, msg *Msg, log *slog.Logger) (err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("handler panicked", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return r.handler(ctx, msg)
}

// ack acks m and waits for JetStream to confirm it, so that an event
// handled just before a stop is not delivered again.
func (r *runner) ack(ctx context.Context, m jetstream.Msg, log *slog.Logger) {
	ackCtx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	if err := m.DoubleAck(ackCtx); err != nil {
		log.Warn("ack failed; JetStream may deliver the event again", slog.Any("error", err))
	}
}
