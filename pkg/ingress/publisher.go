package ingress

import (
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// publisherSet spreads the publishes of concurrent requests over several
// JetStream contexts. Each context on its own NATS connection has its own
// socket, write lock, and goroutine that reads the pub acks, so that one
// connection's reader does not bound the whole ingress. All messages of
// one request go through one context, so their order on the connection
// stays the order of the batch.
type publisherSet struct {
	contexts []jetstream.JetStream
	// expectStream is built once, because an option is a closure that
	// would otherwise be allocated per message.
	expectStream jetstream.PublishOpt
	next         atomic.Uint64
}

func newPublisherSet(js jetstream.JetStream, more []jetstream.JetStream, stream string) *publisherSet {
	contexts := append([]jetstream.JetStream{js}, more...)
	return &publisherSet{contexts: contexts, expectStream: jetstream.WithExpectStream(stream)}
}

// pick returns the next context, round-robin.
func (s *publisherSet) pick() jetstream.JetStream {
	if len(s.contexts) == 1 {
		return s.contexts[0]
	}
	return s.contexts[s.next.Add(1)%uint64(len(s.contexts))]
}
