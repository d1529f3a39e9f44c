package consumer_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/tracing"
)

func TestRunStopTimeoutCancelsHandler(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	seq := publish(t, srv.JS, failedDelivery(500), mailevent.ModeBinary)

	started := make(chan struct{})
	handlerReturned := make(chan error, 1)
	stuck := func(ctx context.Context, _ *consumer.Msg) error {
		close(started)
		<-ctx.Done()
		handlerReturned <- ctx.Err()
		return ctx.Err()
	}

	cfg := fastConfig(t, "stuck")
	cfg.AckWait = time.Second
	cfg.Backoff = nil
	cfg.StopTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan error, 1)
	go func() { returned <- consumer.Run(ctx, srv.JS, cfg, stuck) }()

	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called within 10s")
	}
	cancel()

	var runErr error
	select {
	case runErr = <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of a stop with a stuck handler")
	}
	if !errors.Is(runErr, consumer.ErrStopTimeout) {
		t.Fatalf("Run error = %v, want ErrStopTimeout", runErr)
	}
	if want := "stream sequence " + strconv.FormatUint(seq, 10); !strings.Contains(runErr.Error(), want) {
		t.Errorf("Run error = %q, want it to name %q", runErr, want)
	}
	select {
	case err := <-handlerReturned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx error = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler ctx not canceled within 10s of the stop timeout")
	}

	// The message stays unacked, so a second run gets it again.
	delivered := make(chan uint64, 4)
	cfg.StopTimeout = 0
	runAsync(t, srv.JS, cfg, func(_ context.Context, msg *consumer.Msg) error {
		delivered <- msg.Delivered
		return nil
	})
	select {
	case n := <-delivered:
		if n != 2 {
			t.Errorf("redelivered event has delivery count %d, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event left by the stuck handler not delivered again within 10s")
	}
	waitFor(t, 10*time.Second, "the redelivered event to be acked", func() bool { return settled(t, srv.JS, "stuck", seq) })
	if _, err := deadLetter(t, srv.JS, "stuck"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("dead letter lookup = %v, want none for a canceled handler", err)
	}
}

func TestRunDefaultFilterSkipsBridgeEvents(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	ctx := natstest.Context(t, 10*time.Second)

	// A suppression change and an alert, stored before a CMC record.
	for _, own := range []struct{ subject, eventType string }{
		{subjects.Prefix + ".suppressions.added", "jp.smtps.cmc.mailbridge.suppression.added"},
		{subjects.Prefix + ".alerts.hard_bounce_rate", "jp.smtps.cmc.mailbridge.alert"},
	} {
		ev := mailevent.Event{
			ID: "own-" + own.eventType, Source: "/mailbridge", Type: own.eventType,
			Time: time.Now(), DataContentType: "application/json", Data: []byte(`{}`),
		}
		if _, err := srv.JS.PublishMsg(ctx, mailevent.Encode(&ev, own.subject, mailevent.ModeBinary)); err != nil {
			t.Fatal(err)
		}
	}
	seq := publish(t, srv.JS, failedDelivery(501), mailevent.ModeBinary)

	var mu sync.Mutex
	var handled []string
	cfg := fastConfig(t, "records")
	runAsync(t, srv.JS, cfg, func(_ context.Context, msg *consumer.Msg) error {
		if _, err := msg.Data(); err != nil {
			return consumer.Permanent(err)
		}
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, msg.Event.ID)
		return nil
	})
	waitFor(t, 10*time.Second, "the record to be acked", func() bool { return settled(t, srv.JS, "records", seq) })

	if got := consumerInfo(t, srv.JS, "records").Config.FilterSubjects; !slices.Equal(got, subjects.Events()) {
		t.Errorf("FilterSubjects = %v, want the record subjects %v", got, subjects.Events())
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{failedDelivery(501).ID}; !slices.Equal(handled, want) {
		t.Errorf("handler saw %v, want only %v", handled, want)
	}
	if _, err := deadLetter(t, srv.JS, "records"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("dead letter lookup = %v, want none", err)
	}
}

func TestRunContinuesEventTrace(t *testing.T) {
	t.Parallel()
	srv := setup(t)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parentID = "00f067aa0ba902b7"
	ev := failedDelivery(502)
	ev.Extensions = map[string]string{tracing.ExtensionTraceparent: "00-" + traceID + "-" + parentID + "-01"}
	seq := publish(t, srv.JS, ev, mailevent.ModeBinary)

	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	handlerSpan := make(chan trace.SpanContext, 1)
	cfg := fastConfig(t, "traced")
	cfg.TracerProvider = provider
	runAsync(t, srv.JS, cfg, func(ctx context.Context, _ *consumer.Msg) error {
		handlerSpan <- trace.SpanContextFromContext(ctx)
		return nil
	})
	waitFor(t, 10*time.Second, "the event to be acked", func() bool { return settled(t, srv.JS, "traced", seq) })

	got := <-handlerSpan
	if got.TraceID().String() != traceID {
		t.Errorf("handler span trace id = %s, want the event's %s", got.TraceID(), traceID)
	}
	var ended []sdktrace.ReadOnlySpan
	waitFor(t, 5*time.Second, "the process span to end", func() bool {
		ended = recorder.Ended()
		return len(ended) == 1
	})
	span := ended[0]
	if span.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("span kind = %v, want consumer", span.SpanKind())
	}
	if span.Parent().SpanID().String() != parentID {
		t.Errorf("span parent = %s, want the traceparent's span %s", span.Parent().SpanID(), parentID)
	}
	if span.SpanContext().SpanID() != got.SpanID() {
		t.Errorf("handler ctx carries span %s, want the process span %s", got.SpanID(), span.SpanContext().SpanID())
	}
}
