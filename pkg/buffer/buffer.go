// Package buffer keeps webhook events on local disk while JetStream cannot
// store them, and forwards them with their original Nats-Msg-Id once it
// can.
//
// The local store is a JetStream stream of its own, in a NATS server that
// runs inside the process with no network listener. Store writes a batch
// to it; Forward reads it with a durable consumer, publishes each message
// to the target stream, and acks the local copy only after the target's
// pub ack. A message that is forwarded twice (after a crash between the
// pub ack and the local ack, say) has the same Nats-Msg-Id both times, so
// the target stream stores it once within its duplicate window.
package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the local stream and of its consumer.
const (
	StreamName   = "MAILBRIDGE_BUFFER"
	ConsumerName = "forwarder"
	// subjectPrefix is put before each original subject in the local
	// stream, and taken off when the message is forwarded.
	subjectPrefix = "buffered."
)

// Config configures a Buffer.
type Config struct {
	// Dir is the directory of the local JetStream store. Required. Two
	// processes must not share it.
	Dir string

	// MaxBytes bounds the local stream. When it is full, Store fails and
	// the ingress responds 503. Defaults to 1 GiB.
	MaxBytes int64

	// DuplicateWindow is how long the local stream drops a repeated
	// Nats-Msg-Id. Defaults to 2 minutes.
	DuplicateWindow time.Duration

	// TargetStream is the stream Forward publishes to. Required.
	TargetStream string

	// ForwardBatch is the number of messages Forward publishes before it
	// waits for their pub acks. Defaults to 256.
	ForwardBatch int

	// ForwardTimeout is how long Forward waits for the pub acks of one
	// batch. Defaults to 5s.
	ForwardTimeout time.Duration

	// RetryWait is how long Forward waits after the target failed before
	// it tries again. Defaults to 1s.
	RetryWait time.Duration

	// Logger receives forwarding progress and errors. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("buffer: Dir is required")
	}
	if c.TargetStream == "" {
		return c, errors.New("buffer: TargetStream is required")
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 30
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.ForwardBatch <= 0 {
		c.ForwardBatch = 256
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 5 * time.Second
	}
	if c.RetryWait <= 0 {
		c.RetryWait = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Buffer is the local store of events waiting for the target stream.
type Buffer struct {
	cfg    Config
	server *server.Server
	conn   *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Open starts the local server on cfg.Dir and creates the local stream,
// or opens them with the messages a previous process left.
func Open(ctx context.Context, cfg Config) (*Buffer, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("buffer directory %q: %w", c.Dir, err)
	}

	// SyncAlways writes each message to disk before the pub ack, so that
	// a batch that got a 200 survives a crash of the machine, not only of
	// the process.
	srv, err := server.NewServer(&server.Options{
		ServerName: "mailbridge-buffer",
		DontListen: true,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("configure buffer server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("buffer server in %s not ready after 10s", dir)
	}
	b := &Buffer{cfg: c, server: srv}

	b.conn, err = nats.Connect("", nats.InProcessServer(srv), nats.Name("mailbridge buffer"))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connect to buffer server: %w", err)
	}
	b.js, err = jetstream.New(b.conn)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("buffer jetstream: %w", err)
	}
	b.stream, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "webhook events waiting until the target stream can store them",
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    c.MaxBytes,
		MaxMsgs:     -1,
		Duplicates:  c.DuplicateWindow,
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("create buffer stream: %w", err)
	}
	return b, nil
}

// Store keeps every message in the local stream and returns once all of
// them are on disk, or an error when any of them is not. The messages keep
// their subject, headers and data; a Nats-Expected-* header from a failed
// publish to the target is dropped.
func (b *Buffer) Store(ctx context.Context, msgs []*nats.Msg) error {
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, msg := range msgs {
		local := &nats.Msg{
			Subject: subjectPrefix + msg.Subject,
			Header:  withoutExpectations(msg.Header),
			Data:    msg.Data,
		}
		future, err := b.js.PublishMsgAsync(local, jetstream.WithExpectStream(StreamName))
		if err != nil {
			return fmt.Errorf("buffer %s: %w", msg.Subject, err)
		}
		futures[i] = future
	}
	for i, future := range futures {
		select {
		case <-future.Ok():
		case err := <-future.Err():
			return fmt.Errorf("buffer %s: %w", msgs[i].Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("buffer %d messages: %w", len(msgs)-i, ctx.Err())
		}
	}
	return nil
}

// Pending returns the number of messages not yet forwarded.
func (b *Buffer) Pending(ctx context.Context) (uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("buffer stream info: %w", err)
	}
	return info.State.Msgs, nil
}

// Close stops the local server. Messages not yet forwarded stay in Dir for
// the next Open.
func (b *Buffer) Close() error {
	if b.conn != nil {
		b.conn.Close()
	}
	b.server.Shutdown()
	b.server.WaitForShutdown()
	return nil
}

// withoutExpectations copies header without the Nats-Expected-* headers,
// which a publish to the target stream leaves on its message.
func withoutExpectations(header nats.Header) nats.Header {
	out := make(nats.Header, len(header))
	for name, values := range header {
		if strings.HasPrefix(name, "Nats-Expected-") {
			continue
		}
		out[name] = values
	}
	return out
}
