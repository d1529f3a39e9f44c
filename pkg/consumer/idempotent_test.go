package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func TestIdempotentSkipsDuplicateID(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	ctx := natstest.Context(t, 10*time.Second)
	kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "processed", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	// The same event twice, the second copy without its Nats-Msg-Id, as
	// when it is sent again after the stream's duplicate window.
	ev := failedDelivery(9)
	publish(t, srv.JS, ev, mailevent.ModeBinary)
	again := mailevent.Encode(&ev, subjects.Delivery(mailevent.StatusFailed), mailevent.ModeStructured)
	again.Header.Del(mailevent.HeaderMsgID)
	ack, err := srv.JS.PublishMsg(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate {
		t.Fatal("second copy was dropped as a duplicate; the test needs it stored")
	}

	var calls counter
	h := consumer.Idempotent(kv, func(context.Context, *consumer.Msg) error {
		calls.inc()
		return nil
	})
	runAsync(t, srv.JS, fastConfig(t, "idempotent"), h)
	waitFor(t, 10*time.Second, "both copies to be acked", func() bool { return settled(t, srv.JS, "idempotent", ack.Sequence) })

	if got := calls.get(); got != 1 {
		t.Errorf("handler called %d times for one event id, want 1", got)
	}
	if _, err := kv.Get(ctx, ev.ID); err != nil {
		t.Errorf("event id not recorded in the bucket: %v", err)
	}
}

func TestIdempotentRetriesFailure(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	ctx := natstest.Context(t, 10*time.Second)
	kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "processed", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ev := failedDelivery(10)
	ev.ID = "urn:uuid:6f1c2a4e-0000-4000-8000-000000000000" // not a valid KV key as it is
	seq := publish(t, srv.JS, ev, mailevent.ModeBinary)

	var calls counter
	h := consumer.Idempotent(kv, func(context.Context, *consumer.Msg) error {
		if calls.inc() == 1 {
			return errors.New("first try fails")
		}
		return nil
	})
	runAsync(t, srv.JS, fastConfig(t, "idempotent-retry"), h)
	waitFor(t, 10*time.Second, "the event to be acked", func() bool { return settled(t, srv.JS, "idempotent-retry", seq) })

	if got := calls.get(); got != 2 {
		t.Errorf("handler called %d times, want 2: a failure must not record the id", got)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for range keys.Keys() {
		n++
	}
	if n != 1 {
		t.Errorf("bucket holds %d keys, want 1", n)
	}
}
