package ingress

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
)

// pending is one message of a request on its way to JetStream.
type pending struct {
	msg       *nats.Msg
	eventType string // CloudEvent type, or "" for a rejected record
	// duplicate is set by publishAll when JetStream had the message already.
	duplicate bool
}

// errNotStored is wrapped by publishAll's errors: at least one message of
// the request is not known to be stored.
var errNotStored = errors.New("not stored")

// publishAll publishes every message without waiting between them, then
// waits until JetStream has acknowledged all of them or ctx ends, marking
// the duplicates. On error some messages may still be stored later; their
// ids make a retry of the same batch store each of them once.
func (h *Handler) publishAll(ctx context.Context, batch []pending) error {
	return h.publish.pick().publish(ctx, batch)
}
