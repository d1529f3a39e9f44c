package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// A billing service reads every bounce and failed delivery until it is
// interrupted. Restarted, it resumes after the last event it acked.
func ExampleRun() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}

	err = consumer.Run(ctx, js, consumer.Config{
		Stream:         "MAIL",
		Durable:        "billing",
		FilterSubjects: mailevent.Subjects{Prefix: "mail"}.Failures(),
	}, func(ctx context.Context, msg *consumer.Msg) error {
		data, err := msg.Data()
		if err != nil {
			return consumer.Permanent(err)
		}
		switch d := data.(type) {
		case *mailevent.Bounce:
			fmt.Println("bounce", d.BounceName, "message", d.MessageID)
		case *mailevent.Delivery:
			fmt.Println("delivery", d.Status, "message", d.MessageID)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Idempotent remembers handled event ids in a KV bucket for a week, so
// that a replay or a copy sent again does not charge twice.
func ExampleIdempotent() {
	ctx := context.Background()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}

	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "billing-processed",
		TTL:    7 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := consumer.Idempotent(kv, func(ctx context.Context, msg *consumer.Msg) error {
		fmt.Println("charging once for event", msg.Event.ID)
		return nil
	})
	if err := consumer.Run(ctx, js, consumer.Config{Stream: "MAIL", Durable: "billing"}, handler); err != nil {
		log.Fatal(err)
	}
}

// A handler returns Permanent for an error that redelivery cannot fix: the
// event goes to the dead-letter subject at once instead of after
// MaxDeliver tries. Any other error is retried after the backoff.
func ExamplePermanent() {
	errUnknownCustomer := errors.New("no customer for this sender")
	lookup := func(from string) error { return errUnknownCustomer }

	handler := func(ctx context.Context, msg *consumer.Msg) error {
		data, err := msg.Data()
		if err != nil {
			return consumer.Permanent(err)
		}
		bounce, ok := data.(*mailevent.Bounce)
		if !ok {
			return nil
		}
		if err := lookup(bounce.From); errors.Is(err, errUnknownCustomer) {
			return consumer.Permanent(err)
		} else if err != nil {
			return err // a database outage, say: try again later
		}
		return nil
	}
	_ = handler
}

// A handler that works longer than the ack wait calls InProgress, so that
// JetStream does not deliver the event again meanwhile.
func ExampleMsg_InProgress() {
	handler := func(ctx context.Context, msg *consumer.Msg) error {
		for range 3 {
			time.Sleep(10 * time.Second) // a slow step, such as a report
			if err := msg.InProgress(); err != nil {
				return err
			}
		}
		return nil
	}
	_ = handler
}
