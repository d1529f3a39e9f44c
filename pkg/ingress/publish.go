package ingress

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/tracing"
)

// pending is one message of a request on its way to JetStream.
type pending struct {
	msg       *nats.Msg
	eventType string // CloudEvent type, or "" for a rejected record
	future    jetstream.PubAckFuture
	// duplicate is set by publishAll when JetStream had the message already.
	duplicate bool
	// span is the publish span of an event, or nil with tracing off.
	span trace.Span
}

// endSpan ends p's publish span once; err is why it was not stored.
func (p *pending) endSpan(err error) {
	tracing.EndPublish(p.span, p.duplicate, err)
	p.span = nil
}

// errNotStored is wrapped by publishAll's errors: at least one message of
// the request is not known to be stored.
var errNotStored = errors.New("not stored")

// publishAll publishes every message without waiting between them, then
// waits until JetStream has acknowledged all of them or ctx ends, marking
// the duplicates. On error some messages may still be stored later; their ids make a
// retry of the same batch store each of them once.
func (h *Handler) publishAll(ctx context.Context, batch []pending) (err error) {
	defer func() {
		for i := range batch {
			batch[i].endSpan(err)
		}
	}()

	// While the connection is down, publishes would only wait in the
	// reconnect buffer until ctx ends: answer at once instead.
	if h.nc != nil && !h.nc.IsConnected() {
		return fmt.Errorf("publish %d messages: %w: %w", len(batch), errNotStored, nats.ErrDisconnected)
	}
	for i := range batch {
		future, err := h.js.PublishMsgAsync(batch[i].msg, jetstream.WithExpectStream(h.cfg.StreamName))
		if err != nil {
			return fmt.Errorf("publish to %s: %w: %w", batch[i].msg.Subject, errNotStored, err)
		}
		batch[i].future = future
	}

	for i := range batch {
		select {
		case ack := <-batch[i].future.Ok():
			batch[i].duplicate = ack.Duplicate
			batch[i].endSpan(nil)
		case err := <-batch[i].future.Err():
			return fmt.Errorf("pub ack for %s: %w: %w", batch[i].msg.Subject, errNotStored, err)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d pub acks: %w: %w", len(batch)-i, errNotStored, ctx.Err())
		}
	}
	return nil
}
