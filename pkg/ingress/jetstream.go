package ingress

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamOptions returns the options of the JetStream context that a
// Handler publishes through.
func JetStreamOptions(publishTimeout time.Duration) []jetstream.JetStreamOpt {
	return []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncMaxPending(16384),
	}
}
