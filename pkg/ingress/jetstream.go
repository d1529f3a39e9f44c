package ingress

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamOptions returns the options of the JetStream context that a
// Handler publishes through, for a Handler whose PublishTimeout is
// publishTimeout.
//
// Every pub ack future expires after publishTimeout. Without an expiry, a
// publish that JetStream never answers (a stream without quorum, a
// message lost with its connection) stays pending for the life of the
// connection. Once 16384 of them have piled up, every later publish stalls
// and the ingress responds 503 for good, even after the stream is back.
func JetStreamOptions(publishTimeout time.Duration) []jetstream.JetStreamOpt {
	if publishTimeout <= 0 {
		publishTimeout = defaultPublishTimeout
	}
	return []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncMaxPending(16384),
		jetstream.WithPublishAsyncTimeout(publishTimeout),
	}
}
