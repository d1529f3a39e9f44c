package loadgen

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamCounter counts the messages of a stream on the subjects that match
// Filter, such as "mail.*.*" for every event subject under the prefix
// "mail" but not mail.rejected.
type StreamCounter struct {
	JS     jetstream.JetStream
	Stream string
	Filter string
}

// Count returns the number of messages on the matching subjects.
func (c StreamCounter) Count(ctx context.Context) (uint64, error) {
	s, err := c.JS.Stream(ctx, c.Stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", c.Stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(c.Filter))
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", c.Stream, err)
	}
	var n uint64
	for _, count := range info.State.Subjects {
		n += count
	}
	return n, nil
}
