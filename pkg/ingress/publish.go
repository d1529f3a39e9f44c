package ingress

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/tracing"
)

// eventBuffer is the reusable storage of one event's NATS message: its
// headers, and its data in binary mode.
type eventBuffer struct {
	msg  mailevent.MessageBuffer
	data []byte
}

// eventBuffers is the pool of buffers that events are built and encoded
// into.
var eventBuffers = sync.Pool{New: func() any { return new(eventBuffer) }}

// maxPooledData is the largest event data storage kept with a pooled
// buffer, so that one record with a very long text does not keep its
// memory.
const maxPooledData = 64 << 10

// recycleEvent gives an event's buffer back for a later event. The caller
// must not use the buffer's message afterwards.
func recycleEvent(buf *eventBuffer) {
	if cap(buf.data) > maxPooledData {
		buf.data = nil
	}
	eventBuffers.Put(buf)
}

// pending is one message of a request on its way to JetStream.
type pending struct {
	msg *nats.Msg
	// buf is the pooled buffer that msg was built and encoded into, or nil
	// when msg was allocated on its own.
	buf       *eventBuffer
	eventType string // CloudEvent type, or "" for a rejected record
	// duplicate is set by publishAll when JetStream had the message already.
	duplicate bool
	// stored is set by publishAll when JetStream acknowledged the message.
	stored bool
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
// the duplicates. On error some messages may still be stored later; their
// ids make a retry of the same batch store each of them once.
//
// Every message's publish span ends when the request's last pub ack
// arrives, or with the error, as stored when its own ack had arrived.
func (h *Handler) publishAll(ctx context.Context, batch []pending) (err error) {
	defer func() {
		for i := range batch {
			if batch[i].stored {
				batch[i].endSpan(nil)
			} else {
				batch[i].endSpan(err)
			}
		}
	}()

	// A webhook whose event list is empty has nothing to wait for.
	if len(batch) == 0 {
		return nil
	}

	// While the connection is down, publishes would only wait in the
	// reconnect buffer until ctx ends: answer at once instead.
	collector := h.publish.pick()
	if !collector.nc.IsConnected() {
		return fmt.Errorf("publish %d messages: %w: %w", len(batch), errNotStored, nats.ErrDisconnected)
	}
	// Fail at once too while JetStream cannot store, because a stream with
	// a write error sends no pub ack at all.
	if h.storageFailing.Load() {
		if storageErr := h.checkStorage(ctx); storageErr != nil {
			return fmt.Errorf("publish %d messages: %w: %w", len(batch), errNotStored, storageErr)
		}
	}
	err = collector.publish(ctx, batch)
	if err != nil {
		// Check whether storage is the cause, so that the 503 names it.
		if storageErr := h.checkStorage(ctx); storageErr != nil {
			err = fmt.Errorf("%w: %w", err, storageErr)
		}
	}
	return err
}
