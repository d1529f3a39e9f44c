package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

var subjects = mailevent.Subjects{Prefix: mailevent.DefaultPrefix}

// setup starts a JetStream server with the MAIL stream on "mail.>".
func setup(t *testing.T) *natstest.Server {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Subjects: []string{subjects.All()}}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	return srv
}

// testLogger routes the consumer's log lines to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// fastConfig returns a Config with short waits so that redeliveries
// happen within a test's time.
func fastConfig(t *testing.T, durable string) consumer.Config {
	return consumer.Config{
		Stream:       stream.DefaultName,
		Durable:      durable,
		AckWait:      200 * time.Millisecond,
		MaxDeliver:   3,
		Backoff:      []time.Duration{200 * time.Millisecond},
		FetchMaxWait: 100 * time.Millisecond,
		Logger:       testLogger(t),
	}
}

// failedDelivery returns a failed delivery event with a classification,
// numbered n so that every event has its own id.
func failedDelivery(n int) mailevent.Event {
	data := fmt.Sprintf(`{"created":"2023-01-25 14:06:06","to":"user%d@example.jp","status":"failed",`+
		`"reason":"550 5.1.1 user unknown","smtp_code":"550","enhanced_status":"5.1.1",`+
		`"classification":{"reason":"userunknown","hard":true,"smtp_code":"550","enhanced_status":"5.1.1"}}`, n)
	return mailevent.Event{
		ID:              fmt.Sprintf("test-event-%d", n),
		Source:          mailevent.Source("pro"),
		Type:            mailevent.TypeDeliveryFailed,
		Subject:         fmt.Sprintf("user%d@example.jp", n),
		Time:            time.Date(2023, 1, 25, 5, 6, 6, 0, time.UTC),
		DataContentType: "application/json",
		DataSchema:      mailevent.SchemaDelivery,
		Data:            []byte(data),
	}
}

// publish stores ev on its delivery subject and returns its stream
// sequence.
func publish(t *testing.T, js jetstream.JetStream, ev mailevent.Event, mode mailevent.Mode) uint64 {
	t.Helper()
	ctx := natstest.Context(t, 5*time.Second)
	ack, err := js.PublishMsg(ctx, mailevent.Encode(&ev, subjects.Delivery(mailevent.StatusFailed), mode))
	if err != nil {
		t.Fatalf("publish %s: %v", ev.ID, err)
	}
	return ack.Sequence
}

// runAsync starts consumer.Run in a goroutine. The returned stop cancels it
// and returns Run's error; the test fails if Run has not returned after
// 10 seconds.
func runAsync(t *testing.T, js jetstream.JetStream, cfg consumer.Config, h consumer.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- consumer.Run(ctx, js, cfg, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of the stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond every 10ms until it is true, and fails the test when
// it is still false after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-ticker.C
	}
}

// consumerInfo returns the durable's current state.
func consumerInfo(t *testing.T, js jetstream.JetStream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := natstest.Context(t, 5*time.Second)
	cons, err := js.Consumer(ctx, stream.DefaultName, durable)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s info: %v", durable, err)
	}
	return info
}

// settled reports whether the durable exists, has no message pending an
// ack, and its ack floor has reached seq.
func settled(t *testing.T, js jetstream.JetStream, durable string, seq uint64) bool {
	t.Helper()
	ctx := natstest.Context(t, 5*time.Second)
	cons, err := js.Consumer(ctx, stream.DefaultName, durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s info: %v", durable, err)
	}
	return info.NumAckPending == 0 && info.AckFloor.Stream >= seq
}

// counter counts calls safely across handler goroutines.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
