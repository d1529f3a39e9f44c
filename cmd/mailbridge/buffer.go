package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/buffer"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// Values of MAILBRIDGE_ON_UNAVAILABLE.
const (
	onUnavailableReject = "reject"
	onUnavailableBuffer = "buffer"
)

// BufferConfig is the configuration of the local buffer, used when
// JetStream cannot store a batch.
type BufferConfig struct {
	OnUnavailable  string `envconfig:"ON_UNAVAILABLE" default:"reject" desc:"when JetStream cannot store a batch: reject responds 503 so that the sender retries; buffer keeps the batch on local disk, responds 200 and forwards it later (needs NATS_URL)"`
	BufferDir      string `envconfig:"BUFFER_DIR" desc:"directory of the local buffer's JetStream store; empty means DATA_DIR/buffer"`
	BufferMaxBytes int64  `envconfig:"BUFFER_MAX_BYTES" default:"1073741824" desc:"maximum size of the local buffer in bytes; when it is full, webhooks get a 503"`
}

// bufferEnabled reports whether cfg enables the buffer. It returns an
// error for an invalid mode or for buffer mode without MAILBRIDGE_NATS_URL.
func bufferEnabled(cfg serveConfig) (bool, error) {
	switch cfg.OnUnavailable {
	case onUnavailableReject, "":
		return false, nil
	case onUnavailableBuffer:
		if cfg.NATSConfig.URL == "" {
			return false, errors.New("MAILBRIDGE_ON_UNAVAILABLE=buffer needs MAILBRIDGE_NATS_URL: the embedded server runs in this process, so there is no outage to buffer for")
		}
		return true, nil
	}
	return false, fmt.Errorf("MAILBRIDGE_ON_UNAVAILABLE %q is invalid: use reject or buffer", cfg.OnUnavailable)
}

// startBuffer opens the local buffer and forwards it to the stream until
// the returned stop function is called. stop waits for the forwarder and
// closes the buffer.
func startBuffer(ctx context.Context, cfg serveConfig, setup *natsSetup, js jetstream.JetStream, logger *slog.Logger) (ingress.Buffer, func(), error) {
	dir := cfg.BufferDir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "buffer")
	}
	buf, err := buffer.Open(ctx, buffer.Config{
		Dir:             dir,
		MaxBytes:        cfg.BufferMaxBytes,
		DuplicateWindow: cfg.DuplicateWindow,
		TargetStream:    cfg.StreamConfig.StreamName,
		ForwardTimeout:  cfg.PublishTimeout,
		Logger:          logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open buffer in %s: %w", dir, err)
	}
	pendingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	pending, err := buf.Pending(pendingCtx)
	cancel()
	if err != nil {
		buf.Close()
		return nil, nil, err
	}
	logger.Info("buffer open", slog.String("buffer_dir", dir), slog.Uint64("pending", pending))

	forwardCtx, stopForward := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := buf.Forward(forwardCtx, setup.conn, js); err != nil {
			logger.Error("buffer forwarder stopped", slog.Any("error", err))
		}
	}()
	stop := func() {
		stopForward()
		<-done
		buf.Close()
		logger.Info("buffer closed")
	}
	return buf, stop, nil
}

// ensureStreamLater tries to create or update the stream until it
// succeeds or ctx ends. Meanwhile the ingress buffers every batch.
func ensureStreamLater(ctx context.Context, js jetstream.JetStream, cfg StreamConfig, logger *slog.Logger) {
	ticker := time.NewTicker(5 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		attemptCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := stream.Ensure(attemptCtx, js, streamSettings(cfg))
		cancel()
		if err == nil {
			logger.Info("stream ready", slog.String("stream", cfg.StreamName))
			return
		}
		logger.Debug("stream still not ready", slog.Any("error", err))
	}
}
