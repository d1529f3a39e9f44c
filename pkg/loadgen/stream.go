package loadgen

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// StreamCounter counts the messages of a stream on the subjects that match
// any of Filters, such as "mail.deliveries.*", "mail.bounces.*" and
// "mail.blocks.*" for every event but neither rejected bodies nor what the
// suppressor and the alerter publish. The filters must not overlap.
type StreamCounter struct {
	JS      jetstream.JetStream
	Stream  string
	Filters []string
}

// Count returns the number of messages on the matching subjects.
func (c StreamCounter) Count(ctx context.Context) (uint64, error) {
	s, err := c.JS.Stream(ctx, c.Stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", c.Stream, err)
	}
	var n uint64
	for _, filter := range c.Filters {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return 0, fmt.Errorf("stream %s info: %w", c.Stream, err)
		}
		for _, count := range info.State.Subjects {
			n += count
		}
	}
	return n, nil
}

// EventFilters returns the subject filters of the events published under
// prefix: deliveries, bounces and blocks.
func EventFilters(prefix string) []string {
	subjects := mailevent.Subjects{Prefix: prefix}
	return []string{subjects.Deliveries(), subjects.Bounces(), subjects.Blocks()}
}
