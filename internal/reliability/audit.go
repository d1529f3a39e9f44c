package reliability

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// StreamCounts reads every message of stream and counts them by
// Nats-Msg-Id. It checks that each message's CloudEvent id equals its
// Nats-Msg-Id, so that counting one counts the other.
func StreamCounts(tb testing.TB, js jetstream.JetStream, stream string, timeout time.Duration) map[string]int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatalf("stream %s info: %v", stream, err)
	}
	counts := make(map[string]int, info.State.Msgs)
	if info.State.Msgs == 0 {
		return counts
	}
	last := info.State.LastSeq

	// Right after nodes of a cluster restart, the first consumer create can
	// time out while the meta leader settles, so try again until timeout.
	var consumer jetstream.Consumer
	for {
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		consumer, err = s.OrderedConsumer(attemptCtx, jetstream.OrderedConsumerConfig{})
		cancelAttempt()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			tb.Fatalf("ordered consumer on %s: %v", stream, err)
		}
		tb.Logf("ordered consumer on %s: %v; trying again", stream, err)
	}
	for {
		batch, err := consumer.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			tb.Fatalf("fetch from %s: %v", stream, err)
		}
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				tb.Fatalf("message metadata: %v", err)
			}
			id := msg.Headers().Get(mailevent.HeaderMsgID)
			if ceID := msg.Headers().Get("ce-id"); ceID != "" && ceID != id {
				tb.Errorf("message %d: ce-id %q differs from Nats-Msg-Id %q", meta.Sequence.Stream, ceID, id)
			}
			counts[id]++
			if meta.Sequence.Stream >= last {
				return counts
			}
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			tb.Fatalf("read %s up to sequence %d: %v", stream, last, err)
		}
	}
}

// CheckExactlyOnce fails the test when an acknowledged id is missing from
// counts, or when any id is stored more than once. It returns the number
// of missing ids and of duplicates.
func CheckExactlyOnce(tb testing.TB, counts map[string]int, acked map[string]bool) (missing, duplicates int) {
	tb.Helper()
	var missingIDs, duplicateIDs []string
	for id := range acked {
		if counts[id] == 0 {
			missingIDs = append(missingIDs, id)
		}
	}
	for id, n := range counts {
		if n > 1 {
			duplicateIDs = append(duplicateIDs, fmt.Sprintf("%s x%d", id, n))
		}
	}
	if len(missingIDs) > 0 {
		tb.Errorf("%d of %d acknowledged events are not in the stream, such as %s", len(missingIDs), len(acked), sample(missingIDs))
	}
	if len(duplicateIDs) > 0 {
		tb.Errorf("%d events are in the stream more than once, such as %s", len(duplicateIDs), sample(duplicateIDs))
	}
	return len(missingIDs), len(duplicateIDs)
}

func sample(ids []string) string {
	sort.Strings(ids)
	if len(ids) > 5 {
		ids = ids[:5]
	}
	return strings.Join(ids, ", ")
}
