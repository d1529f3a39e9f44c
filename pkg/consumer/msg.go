package consumer

import (
	"context"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Handler processes one event. Returning nil acks the message. Returning
// an error naks it, so JetStream delivers it again after the configured
// backoff. An error wrapped with Permanent sends it to the dead-letter
// subject and terms it at once. After MaxDeliver failed deliveries the
// message is published to the dead-letter subject and termed. A panic in
// the handler counts as an error.
//
// The handler's ctx is not canceled when Run's ctx ends, so that an event
// in flight during a stop is finished and acked. It is canceled
// Config.StopTimeout after the stop, and the message then stays unacked.
// With Config.TracerProvider set, ctx carries the span of the message.
type Handler func(ctx context.Context, msg *Msg) error

// Msg is one delivered event.
type Msg struct {
	// Event is the CloudEvent, decoded from either content mode.
	Event mailevent.Event
	// Subject is the NATS subject, such as mail.bounces.user_unknown.
	Subject string
	// Sequence is the stream sequence.
	Sequence uint64
	// Stored is when JetStream stored the message.
	Stored time.Time
	// Delivered is the delivery count: 1 on the first delivery.
	Delivered uint64
	// InProgress reports to JetStream that the handler is still working,
	// which restarts the ack wait.
	InProgress func() error
}

// Data returns the event's data in the typed struct of its type:
// *mailevent.Delivery, *mailevent.Bounce or *mailevent.Block. For the
// bridge's own events, such as suppression changes and alerts, it returns
// a *mailevent.UnknownTypeError, so read msg.Event.Data for those. Only a
// consumer whose FilterSubjects include their subjects receives them.
func (m *Msg) Data() (any, error) {
	return mailevent.DecodeData(&m.Event)
}
