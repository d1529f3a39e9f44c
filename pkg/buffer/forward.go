package buffer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NOTE: the local stream syncs every write and every removal to disk, so
// draining is bound by the disk's sync rate: about 1,500 messages/s on the
// 2-vCPU test VM, or some 45 s for the backlog of a 60 s outage at 1,000
// events/s.

// Forward moves buffered messages to the target stream until ctx ends,
// then returns nil. conn is the connection js uses; while it is
// disconnected, Forward waits instead of publishing.
//
// Each message keeps its subject, headers and data, so its Nats-Msg-Id is
// the one the ingress gave it. A local message is acked only after the
// target's pub ack; one that failed is tried again after RetryWait.
func (b *Buffer) Forward(ctx context.Context, conn *nats.Conn, js jetstream.JetStream) error {
	consumer, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   ConsumerName,
		AckPolicy: jetstream.AckExplicitPolicy,
		// A fetched message is acked or nakked within ForwardTimeout, so
		// twice that is left only by a process that died meanwhile.
		AckWait:       2 * b.cfg.ForwardTimeout,
		MaxAckPending: 4 * b.cfg.ForwardBatch,
		MaxDeliver:    -1,
	})
	if err != nil {
		return fmt.Errorf("create buffer consumer: %w", err)
	}

	log := b.cfg.Logger
	failing := false
	for ctx.Err() == nil {
		if !conn.IsConnected() {
			b.pause(ctx)
			continue
		}
		batch, err := consumer.Fetch(b.cfg.ForwardBatch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn("buffer fetch failed", slog.Any("error", err))
			b.pause(ctx)
			continue
		}
		var msgs []jetstream.Msg
		for msg := range batch.Messages() {
			msgs = append(msgs, msg)
		}
		if len(msgs) == 0 {
			continue
		}

		forwarded, err := b.forwardBatch(ctx, js, msgs)
		switch {
		case err != nil:
			if !failing {
				log.Warn("buffer forward failed; retrying", slog.Int("forwarded", forwarded),
					slog.Int("messages", len(msgs)), slog.Duration("retry_wait", b.cfg.RetryWait), slog.Any("error", err))
			}
			failing = true
			b.pause(ctx)
		case failing:
			log.Info("buffer forwarding again", slog.Int("forwarded", forwarded))
			failing = false
		}
	}
	return nil
}

// forwardBatch publishes msgs to the target and acks each local message
// whose pub ack came; the others are nakked to come again after
// RetryWait. It returns how many were forwarded and the first error.
func (b *Buffer) forwardBatch(ctx context.Context, js jetstream.JetStream, msgs []jetstream.Msg) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ForwardTimeout)
	defer cancel()

	futures := make([]jetstream.PubAckFuture, len(msgs))
	var firstErr error
	for i, msg := range msgs {
		out := &nats.Msg{
			Subject: strings.TrimPrefix(msg.Subject(), subjectPrefix),
			Header:  withoutExpectations(msg.Headers()),
			Data:    msg.Data(),
		}
		future, err := js.PublishMsgAsync(out, jetstream.WithExpectStream(b.cfg.TargetStream))
		if err != nil {
			firstErr = fmt.Errorf("forward to %s: %w", out.Subject, err)
			break
		}
		futures[i] = future
	}

	forwarded := 0
	for i, msg := range msgs {
		err := firstErr
		if futures[i] != nil {
			err = waitAck(ctx, futures[i])
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			_ = msg.NakWithDelay(b.cfg.RetryWait)
			continue
		}
		// The target has the message, so a lost local ack only means it
		// is forwarded again and the target drops the copy by its id.
		// Waiting for each ack (DoubleAck) would wait for a disk sync per
		// message, which drains the buffer about ten times slower.
		if err := msg.Ack(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("ack buffered message: %w", err)
		}
		forwarded++
	}
	return forwarded, firstErr
}

func waitAck(ctx context.Context, future jetstream.PubAckFuture) error {
	select {
	case <-future.Ok():
		return nil
	case err := <-future.Err():
		return fmt.Errorf("pub ack for %s: %w", future.Msg().Subject, err)
	case <-ctx.Done():
		return fmt.Errorf("pub ack for %s: %w", future.Msg().Subject, ctx.Err())
	}
}

// pause waits RetryWait or until ctx ends.
func (b *Buffer) pause(ctx context.Context) {
	timer := time.NewTimer(b.cfg.RetryWait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
