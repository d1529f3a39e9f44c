package consumer_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

func TestRunRetriesThenAcks(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	seq := publish(t, srv.JS, failedDelivery(1), mailevent.ModeBinary)

	var mu sync.Mutex
	var delivered []uint64
	handler := func(_ context.Context, msg *consumer.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		delivered = append(delivered, msg.Delivered)
		if len(delivered) <= 2 {
			return errors.New("downstream unavailable")
		}
		return nil
	}
	cfg := fastConfig(t, "retry")
	runAsync(t, srv.JS, cfg, handler)

	waitFor(t, 10*time.Second, "the event to be acked", func() bool { return settled(t, srv.JS, "retry", seq) })

	mu.Lock()
	defer mu.Unlock()
	if want := []uint64{1, 2, 3}; !slices.Equal(delivered, want) {
		t.Errorf("handler saw deliveries %v, want %v", delivered, want)
	}
	info := consumerInfo(t, srv.JS, "retry")
	if info.Delivered.Stream != seq {
		t.Errorf("consumer delivered up to stream sequence %d, want %d", info.Delivered.Stream, seq)
	}
	if _, err := deadLetter(t, srv.JS, cfg.Durable); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("dead-letter lookup error = %v, want no dead letter", err)
	}
}

func TestRunDeadLettersAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	ev := failedDelivery(2)
	seq := publish(t, srv.JS, ev, mailevent.ModeBinary)

	var calls counter
	handler := func(context.Context, *consumer.Msg) error {
		calls.inc()
		return errors.New("always fails")
	}
	cfg := fastConfig(t, "dead")
	runAsync(t, srv.JS, cfg, handler)

	var dl *jetstream.RawStreamMsg
	waitFor(t, 10*time.Second, "the dead letter", func() bool {
		var err error
		dl, err = deadLetter(t, srv.JS, cfg.Durable)
		return err == nil
	})
	waitFor(t, 5*time.Second, "the original to be termed", func() bool { return settled(t, srv.JS, "dead", seq) })

	if got := calls.get(); got != cfg.MaxDeliver {
		t.Errorf("handler called %d times, want MaxDeliver %d", got, cfg.MaxDeliver)
	}
	wantHeaders := map[string]string{
		consumer.HeaderDeadLetterDurable:    "dead",
		consumer.HeaderDeadLetterError:      "always fails",
		consumer.HeaderDeadLetterDeliveries: strconv.Itoa(cfg.MaxDeliver),
		consumer.HeaderDeadLetterSubject:    subjects.Delivery(mailevent.StatusFailed),
		consumer.HeaderDeadLetterStream:     stream.DefaultName,
		consumer.HeaderDeadLetterSequence:   strconv.FormatUint(seq, 10),
		consumer.HeaderDeadLetterMsgID:      ev.ID,
	}
	for name, want := range wantHeaders {
		if got := dl.Header.Get(name); got != want {
			t.Errorf("dead letter header %s = %q, want %q", name, got, want)
		}
	}
	got, err := mailevent.Decode(dl.Header, dl.Data)
	if err != nil {
		t.Fatalf("dead letter does not decode as the original CloudEvent: %v", err)
	}
	if got.ID != ev.ID || string(got.Data) != string(ev.Data) {
		t.Errorf("dead letter is event %s with data %s, want %s with %s", got.ID, got.Data, ev.ID, ev.Data)
	}
}

func TestRunPermanentDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	seq := publish(t, srv.JS, failedDelivery(3), mailevent.ModeStructured)

	var calls counter
	handler := func(context.Context, *consumer.Msg) error {
		calls.inc()
		return consumer.Permanent(errors.New("recipient domain is not ours"))
	}
	cfg := fastConfig(t, "permanent")
	runAsync(t, srv.JS, cfg, handler)

	var dl *jetstream.RawStreamMsg
	waitFor(t, 10*time.Second, "the dead letter", func() bool {
		var err error
		dl, err = deadLetter(t, srv.JS, cfg.Durable)
		return err == nil
	})
	waitFor(t, 5*time.Second, "the original to be termed", func() bool { return settled(t, srv.JS, "permanent", seq) })

	if got := calls.get(); got != 1 {
		t.Errorf("handler called %d times, want 1", got)
	}
	if got := dl.Header.Get(consumer.HeaderDeadLetterDeliveries); got != "1" {
		t.Errorf("dead letter deliveries = %q, want 1", got)
	}
	if got := dl.Header.Get(consumer.HeaderDeadLetterError); got != "recipient domain is not ours" {
		t.Errorf("dead letter error = %q", got)
	}
}

func TestRunRecoversPanic(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	seq := publish(t, srv.JS, failedDelivery(4), mailevent.ModeBinary)

	var calls counter
	handler := func(context.Context, *consumer.Msg) error {
		if calls.inc() == 1 {
			panic("nil map")
		}
		return nil
	}
	runAsync(t, srv.JS, fastConfig(t, "panic"), handler)

	waitFor(t, 10*time.Second, "the event to be acked", func() bool { return settled(t, srv.JS, "panic", seq) })
	if got := calls.get(); got != 2 {
		t.Errorf("handler called %d times, want 2 (the panic, then the redelivery)", got)
	}
}

func TestRunResumesAfterRestart(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	for n := range 10 {
		publish(t, srv.JS, failedDelivery(100+n), mailevent.ModeBinary)
	}

	var mu sync.Mutex
	seen := make(map[string]int)
	record := func(msg *consumer.Msg) int {
		mu.Lock()
		defer mu.Unlock()
		seen[msg.Event.ID]++
		return len(seen)
	}

	// The first run stops itself after its fifth event.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := fastConfig(t, "restart")
	err := consumer.Run(ctx, srv.JS, cfg, func(_ context.Context, msg *consumer.Msg) error {
		if record(msg) == 5 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("first Run: %v", err)
	}
	mu.Lock()
	if len(seen) != 5 {
		t.Errorf("first run handled %d events, want 5", len(seen))
	}
	mu.Unlock()

	var last uint64
	for n := range 5 {
		last = publish(t, srv.JS, failedDelivery(200+n), mailevent.ModeBinary)
	}
	runAsync(t, srv.JS, cfg, func(_ context.Context, msg *consumer.Msg) error {
		record(msg)
		return nil
	})
	waitFor(t, 10*time.Second, "every event to be acked", func() bool { return settled(t, srv.JS, "restart", last) })

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 15 {
		t.Errorf("handled %d distinct events, want 15", len(seen))
	}
	for id, count := range seen {
		if count != 1 {
			t.Errorf("event %s handled %d times, want once", id, count)
		}
	}
}

func TestRunStopWaitsForHandler(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	seq := publish(t, srv.JS, failedDelivery(5), mailevent.ModeBinary)

	started := make(chan struct{})
	release := make(chan struct{})
	var done atomic.Bool
	handler := func(ctx context.Context, _ *consumer.Msg) error {
		close(started)
		<-release
		done.Store(true)
		// The handler's ctx must outlive the stop.
		return ctx.Err()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan error, 1)
	cfg := fastConfig(t, "graceful")
	cfg.AckWait = 5 * time.Second
	cfg.Backoff = nil
	go func() { returned <- consumer.Run(ctx, srv.JS, cfg, handler) }()

	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called within 10s")
	}
	cancel()
	close(release)

	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of the stop")
	}
	if !done.Load() {
		t.Error("Run returned before the handler in flight finished")
	}
	// Run acks with confirmation before it returns, so the ack is visible
	// at once.
	if !settled(t, srv.JS, "graceful", seq) {
		t.Error("event handled during the stop is not acked after Run returned")
	}
}

func TestRunSkipsNonEvents(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	ctx := natstest.Context(t, 10*time.Second)

	// Input the ingress kept on the rejected subject, a stray payload on an
	// event subject, then a real event.
	rejected := &nats.Msg{Subject: subjects.Rejected(), Header: nats.Header{}, Data: []byte(`{"to":"x"}`)}
	rejected.Header.Set("Mailbridge-Reject-Reason", "entry 0: missing recipient")
	if _, err := srv.JS.PublishMsg(ctx, rejected); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.Publish(ctx, subjects.Delivery(mailevent.StatusFailed), []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	publish(t, srv.JS, failedDelivery(6), mailevent.ModeBinary)

	var mu sync.Mutex
	var handled []string
	cfg := fastConfig(t, "skip")
	cfg.FilterSubjects = []string{subjects.All()}
	runAsync(t, srv.JS, cfg, func(_ context.Context, msg *consumer.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, msg.Event.ID)
		return nil
	})

	// The stray payload is dead-lettered into the same stream, and the
	// consumer, which reads all of it, must skip that dead letter too.
	var dl *jetstream.RawStreamMsg
	waitFor(t, 10*time.Second, "the stray payload's dead letter", func() bool {
		var err error
		dl, err = deadLetter(t, srv.JS, cfg.Durable)
		return err == nil
	})
	waitFor(t, 10*time.Second, "every message to be acked", func() bool {
		return settled(t, srv.JS, "skip", dl.Sequence)
	})

	mu.Lock()
	defer mu.Unlock()
	if want := []string{failedDelivery(6).ID}; !slices.Equal(handled, want) {
		t.Errorf("handler saw %v, want only %v", handled, want)
	}
	if got := dl.Header.Get(consumer.HeaderDeadLetterError); !strings.Contains(got, "not a CloudEvent") {
		t.Errorf("dead letter error = %q, want it to say the message is not a CloudEvent", got)
	}
	if got := dl.Header.Get(consumer.HeaderDeadLetterDeliveries); got != "1" {
		t.Errorf("dead letter deliveries = %q, want 1 (no redelivery of a message that cannot decode)", got)
	}
}

func TestRunStartTime(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	publish(t, srv.JS, failedDelivery(7), mailevent.ModeBinary)
	ctx := natstest.Context(t, 10*time.Second)
	s, err := srv.JS.Stream(ctx, stream.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := first.Time.Add(time.Millisecond)
	// The server's clock must pass start before the second event is stored.
	waitFor(t, 5*time.Second, "the clock to pass the first event", func() bool { return time.Now().After(start) })
	second := publish(t, srv.JS, failedDelivery(8), mailevent.ModeBinary)

	var mu sync.Mutex
	var handled []string
	cfg := fastConfig(t, "since")
	cfg.StartTime = start
	runAsync(t, srv.JS, cfg, func(_ context.Context, msg *consumer.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, msg.Event.ID)
		return nil
	})
	waitFor(t, 10*time.Second, "the second event to be acked", func() bool { return settled(t, srv.JS, "since", second) })

	mu.Lock()
	defer mu.Unlock()
	if want := []string{failedDelivery(8).ID}; !slices.Equal(handled, want) {
		t.Errorf("handler saw %v, want only the event stored after StartTime %v", handled, want)
	}
}

func TestRunConsumerConfig(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	cfg := consumer.Config{
		Stream:         stream.DefaultName,
		Durable:        "configured",
		FilterSubjects: subjects.Failures(),
		AckWait:        time.Second,
		MaxDeliver:     4,
		Backoff:        []time.Duration{2 * time.Second, 3 * time.Second},
		FetchMaxWait:   100 * time.Millisecond,
	}
	// The second run updates the durable that the first one created. An
	// acked event shows that Run got past the setup.
	for n := range 2 {
		seq := publish(t, srv.JS, failedDelivery(400+n), mailevent.ModeBinary)
		stop := runAsync(t, srv.JS, cfg, func(context.Context, *consumer.Msg) error { return nil })
		waitFor(t, 10*time.Second, "the event to be acked", func() bool { return settled(t, srv.JS, "configured", seq) })
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}

	got := consumerInfo(t, srv.JS, "configured").Config
	if got.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("AckPolicy = %v, want explicit", got.AckPolicy)
	}
	// JetStream replaces AckWait with the first backoff step.
	if got.AckWait != cfg.Backoff[0] {
		t.Errorf("AckWait = %s, want Backoff[0] %s", got.AckWait, cfg.Backoff[0])
	}
	if got.MaxDeliver != 4 {
		t.Errorf("MaxDeliver = %d, want 4", got.MaxDeliver)
	}
	if got.MaxAckPending != consumer.DefaultMaxAckPending {
		t.Errorf("MaxAckPending = %d, want %d", got.MaxAckPending, consumer.DefaultMaxAckPending)
	}
	if !slices.Equal(got.BackOff, cfg.Backoff) {
		t.Errorf("BackOff = %v, want %v", got.BackOff, cfg.Backoff)
	}
	if !slices.Equal(got.FilterSubjects, cfg.FilterSubjects) {
		t.Errorf("FilterSubjects = %v, want %v", got.FilterSubjects, cfg.FilterSubjects)
	}
}

func TestRunInvalidConfig(t *testing.T) {
	t.Parallel()
	valid := consumer.Config{Stream: "MAIL", Durable: "d", AckWait: time.Second}
	tests := []struct {
		name  string
		edit  func(*consumer.Config)
		field string
	}{
		{"no stream", func(c *consumer.Config) { c.Stream = "" }, "Stream"},
		{"no durable", func(c *consumer.Config) { c.Durable = "" }, "Durable"},
		{"durable with dot", func(c *consumer.Config) { c.Durable = "a.b" }, "Durable"},
		{"backoff under ack wait", func(c *consumer.Config) {
			c.Backoff = []time.Duration{time.Second, 500 * time.Millisecond}
		}, "Backoff[1]"},
		{"first backoff under ack wait", func(c *consumer.Config) {
			c.Backoff = []time.Duration{100 * time.Millisecond}
		}, "Backoff[0]"},
		{"more steps than deliveries", func(c *consumer.Config) {
			c.MaxDeliver = 2
			c.Backoff = []time.Duration{time.Second, time.Second, time.Second}
		}, "MaxDeliver"},
		{"unbounded deliveries", func(c *consumer.Config) { c.MaxDeliver = -1 }, "MaxDeliver"},
		{"negative ack wait", func(c *consumer.Config) { c.AckWait = -time.Second }, "AckWait"},
		{"wildcard dead-letter subject", func(c *consumer.Config) { c.DeadLetterSubject = "mail.dead.>" }, "DeadLetterSubject"},
		{"negative concurrency", func(c *consumer.Config) { c.Concurrency = -1 }, "Concurrency"},
		{"bad prefix", func(c *consumer.Config) { c.SubjectPrefix = "mail.*" }, "SubjectPrefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.edit(&cfg)
			// Validation comes before any request, so no server is needed.
			err := consumer.Run(context.Background(), nil, cfg, func(context.Context, *consumer.Msg) error { return nil })
			if !errors.Is(err, consumer.ErrInvalidConfig) {
				t.Fatalf("Run error = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name the field %s", err, tt.field)
			}
		})
	}
}

func TestRunNoDeadLetterStream(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	cfg := fastConfig(t, "nowhere")
	cfg.DeadLetterSubject = "elsewhere.deadletter"
	err := consumer.Run(natstest.Context(t, 10*time.Second), srv.JS, cfg, func(context.Context, *consumer.Msg) error { return nil })
	if !errors.Is(err, consumer.ErrNoDeadLetterStream) {
		t.Fatalf("Run error = %v, want ErrNoDeadLetterStream", err)
	}
	if _, err := srv.JS.Consumer(context.Background(), stream.DefaultName, "nowhere"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer lookup error = %v, want the durable not created", err)
	}
}

// deadLetter returns the last message on the durable's default dead-letter
// subject.
func deadLetter(t *testing.T, js jetstream.JetStream, durable string) (*jetstream.RawStreamMsg, error) {
	t.Helper()
	ctx := natstest.Context(t, 5*time.Second)
	s, err := js.Stream(ctx, stream.DefaultName)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return s.GetLastMsgForSubject(ctx, subjects.DeadLetter(durable))
}

func TestRunConcurrency(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	var last uint64
	for n := range 8 {
		last = publish(t, srv.JS, failedDelivery(300+n), mailevent.ModeBinary)
	}

	// Each handler waits until a second one runs beside it, which happens
	// only when Run runs more than one at a time.
	var inFlight, maxInFlight atomic.Int32
	var calls counter
	overlapped := make(chan struct{})
	var overlapOnce sync.Once
	handler := func(context.Context, *consumer.Msg) error {
		calls.inc()
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			current := maxInFlight.Load()
			if n <= current || maxInFlight.CompareAndSwap(current, n) {
				break
			}
		}
		if n >= 2 {
			overlapOnce.Do(func() { close(overlapped) })
		}
		select {
		case <-overlapped:
		case <-time.After(2 * time.Second):
		}
		return nil
	}
	cfg := fastConfig(t, "concurrent")
	cfg.Concurrency = 4
	cfg.AckWait = 5 * time.Second
	cfg.Backoff = nil
	runAsync(t, srv.JS, cfg, handler)

	waitFor(t, 10*time.Second, "every event to be acked", func() bool { return settled(t, srv.JS, "concurrent", last) })
	if got := maxInFlight.Load(); got < 2 || got > 4 {
		t.Errorf("at most %d handlers ran at once, want 2 to 4", got)
	}
	if got := calls.get(); got != 8 {
		t.Errorf("handler called %d times, want 8", got)
	}
}
