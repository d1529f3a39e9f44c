package ingress

import (
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// publisherSet spreads the publishes of concurrent requests over several
// NATS connections. Each connection has its own socket, write lock, and
// goroutine that reads the pub acks, so that one connection's reader does
// not bound the whole ingress. All messages of one request go through one
// connection, so their order on it stays the order of the batch.
type publisherSet struct {
	collectors []*ackCollector
	next       atomic.Uint64
}

// newPublisherSet subscribes to pub acks on the connection of js and of
// each of more.
func newPublisherSet(js jetstream.JetStream, more []jetstream.JetStream, stream string) (*publisherSet, error) {
	s := &publisherSet{}
	for _, context := range append([]jetstream.JetStream{js}, more...) {
		collector, err := newAckCollector(context.Conn(), stream)
		if err != nil {
			return nil, err
		}
		s.collectors = append(s.collectors, collector)
	}
	return s, nil
}

// pick returns the next connection's collector, round-robin.
func (s *publisherSet) pick() *ackCollector {
	if len(s.collectors) == 1 {
		return s.collectors[0]
	}
	return s.collectors[s.next.Add(1)%uint64(len(s.collectors))]
}
