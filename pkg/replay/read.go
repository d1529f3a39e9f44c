package replay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/consumer"
)

// Range is a part of a stream to read once.
type Range struct {
	// Stream is the stream name. Required.
	Stream string

	// Filters are subject filters, wildcards allowed. Empty reads every
	// subject of the stream.
	Filters []string

	// FromSeq is the first stream sequence to read. Zero starts at
	// StartTime, or at the first message when StartTime is zero too.
	FromSeq uint64

	// StartTime starts reading at the first message stored at or after
	// it, when FromSeq is zero. It is stream time, not event time.
	StartTime time.Time

	// ToSeq is the last stream sequence to read. Zero reads up to the last
	// message stored when reading began.
	ToSeq uint64

	// HeadersOnly asks the server for the headers without the payloads.
	HeadersOnly bool

	// Batch is how many messages the client buffers ahead. Defaults to
	// 4096.
	Batch int

	// Started, when set, is called once before the first message with the
	// number of messages the range holds, as far as the server can tell
	// when reading begins.
	Started func(messages uint64)
}

// ReadRange reads r with an ordered consumer and calls handle for each
// message in stream order. It returns nil after the last message of the
// range that was stored when reading began; messages stored later may or
// may not be read. An error from handle stops reading and is returned as
// it is.
func ReadRange(ctx context.Context, js jetstream.JetStream, r Range, handle func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	s, err := js.Stream(ctx, r.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", r.Stream, err)
	}
	end := s.CachedInfo().State.LastSeq
	if r.ToSeq > 0 && r.ToSeq < end {
		end = r.ToSeq
	}
	if end == 0 || r.FromSeq > end {
		return nil
	}

	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: r.Filters,
		HeadersOnly:    r.HeadersOnly,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// Give up after a few failed consumer creations, such as for an
		// invalid filter, rather than retrying for ever.
		MaxResetAttempts: maxResetAttempts,
	}
	switch {
	case r.FromSeq > 0:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = r.FromSeq
	case !r.StartTime.IsZero():
		start := r.StartTime.UTC()
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &start
	}
	batch := r.Batch
	if batch <= 0 {
		batch = 4096
	}

	ordered, err := js.OrderedConsumer(ctx, r.Stream, cfg)
	if err != nil {
		return fmt.Errorf("create ordered consumer on %s: %w", r.Stream, err)
	}
	iter, err := ordered.Messages(jetstream.PullMaxMessages(batch))
	if err != nil {
		return fmt.Errorf("read %s: %w", r.Stream, err)
	}
	defer func() {
		iter.Stop()
		consumer.RemoveOrdered(js, r.Stream, ordered)
	}()

	// An ordered consumer with nothing to deliver would wait forever, so
	// ask the server whether anything matches before waiting.
	info, err := ordered.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer info on %s: %w", r.Stream, err)
	}
	if info.NumPending == 0 && info.Delivered.Consumer == 0 {
		return nil
	}
	if r.Started != nil {
		first := max(r.FromSeq, 1)
		r.Started(min(info.NumPending+info.Delivered.Consumer, end-first+1))
	}

	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("read %s: consumer closed before the end of the range", r.Stream)
			}
			return fmt.Errorf("read %s: %w", r.Stream, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: message metadata: %w", r.Stream, err)
		}
		seq := meta.Sequence.Stream
		if seq > end {
			return nil
		}
		if err := handle(msg, meta); err != nil {
			return err
		}
		if seq >= end || meta.NumPending == 0 {
			return nil
		}
	}
}

// maxResetAttempts bounds how often an ordered consumer is created again
// in one recovery, with waits of 1, 2 and 4 seconds between them.
const maxResetAttempts = 4

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }
