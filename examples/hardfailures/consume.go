package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

// consume runs the durable consumer over bounces and failed deliveries
// and appends the hard failures to cfg.Output until ctx ends.
func consume(ctx context.Context, cfg config, logger *slog.Logger) error {
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("hardfailures"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "event ids that hardfailures has written",
		TTL:         cfg.Remember,
	})
	if err != nil {
		return fmt.Errorf("create KV bucket %s: %w", cfg.Bucket, err)
	}

	out, err := openCSV(cfg.Output)
	if err != nil {
		return err
	}
	defer out.Close()

	subjects := mailevent.Subjects{Prefix: cfg.SubjectPrefix}
	logger.Info("writing hard failures", slog.String("output", cfg.Output), slog.String("durable", cfg.Durable))
	return consumer.Run(ctx, js, consumer.Config{
		Stream:         cfg.Stream,
		Durable:        cfg.Durable,
		FilterSubjects: []string{subjects.Bounces(), subjects.Delivery(mailevent.StatusFailed)},
		SubjectPrefix:  cfg.SubjectPrefix,
		StartTime:      cfg.since,
		AckWait:        30 * time.Second,
		Logger:         logger,
	}, consumer.Idempotent(kv, out.handle))
}
