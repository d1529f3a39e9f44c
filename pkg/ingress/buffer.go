package ingress

import (
	"context"

	"github.com/nats-io/nats.go"
)

// Buffer keeps messages that JetStream could not store, to forward them
// later with their original Nats-Msg-Id.
type Buffer interface {
	// Store keeps every message on local disk, or returns an error when it
	// cannot keep all of them.
	Store(ctx context.Context, msgs []*nats.Msg) error
}
