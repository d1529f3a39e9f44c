package suppression

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// base is the time of the first event of most tests.
var base = time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)

// testLogger routes log lines to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// bundle is one test's server, stream and store.
type bundle struct {
	srv   *natstest.Server
	store *Store
	clock *fakeClock
}

// fakeClock is the clock of changes made through the API.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// setup starts a server with the MAIL stream and a store with policy.
func setup(t testing.TB, policy Policy) *bundle {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 30*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	clock := &fakeClock{now: base.Add(-time.Hour)}
	store, err := NewStore(ctx, srv.JS, Config{Policy: policy, Now: clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return &bundle{srv: srv, store: store, clock: clock}
}

// eventSpec describes a test event.
type eventSpec struct {
	id        string
	typ       string
	to        string
	messageID string
	at        time.Time
	// code is the CMC bounce code of a bounce.
	code int
	// classification, when not nil, is the verdict in the data.
	classification *mailevent.Classification
}

// event builds a CloudEvent with data as the ingress writes it.
func event(t testing.TB, spec eventSpec) (mailevent.Event, string) {
	t.Helper()
	message := mailevent.Message{
		Created: spec.at.Format("2006-01-02 15:04:05"), From: "info@example.com",
		To: spec.to, MessageID: spec.messageID, Subject: "test", ServerComposition: "pro",
		Classification: spec.classification,
	}
	var data any
	subjects := mailevent.Subjects{Prefix: "mail"}
	var subject string
	switch spec.typ {
	case mailevent.TypeBounce:
		code := spec.code
		message.Status = fmt.Sprint(code)
		data = mailevent.Bounce{Message: message, BounceCode: &code, BounceName: mailevent.BounceName(message.Status)}
		subject = subjects.Bounce(message.Status)
	case mailevent.TypeDeliveryFailed:
		message.Status = mailevent.StatusFailed
		data = mailevent.Delivery{Message: message}
		subject = subjects.Delivery(message.Status)
	case mailevent.TypeDeliveryDeferred:
		message.Status = mailevent.StatusDeferred
		data = mailevent.Delivery{Message: message}
		subject = subjects.Delivery(message.Status)
	case mailevent.TypeDeliverySucceeded:
		message.Status = mailevent.StatusSucceeded
		data = mailevent.Delivery{Message: message}
		subject = subjects.Delivery(message.Status)
	default:
		t.Fatalf("event type %s has no test data", spec.typ)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return mailevent.Event{
		ID: spec.id, Source: "/cmc/pro", Type: spec.typ, Subject: spec.to, Time: spec.at,
		DataContentType: "application/json", Data: raw,
	}, subject
}

// handle applies one event through HandleEvent as the consumer would.
func (b *bundle) handle(t testing.TB, spec eventSpec) {
	t.Helper()
	ev, subject := event(t, spec)
	msg := &consumer.Msg{Event: ev, Subject: subject, Delivered: 1, Stored: spec.at}
	if err := b.store.HandleEvent(natstest.Context(t, 10*time.Second), msg); err != nil {
		t.Fatalf("handle event %s: %v", spec.id, err)
	}
}

// record returns the record of an address, or nil when there is none.
func (b *bundle) record(t testing.TB, address string) *Record {
	t.Helper()
	parsed, err := ParseAddress(address)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := b.store.Record(natstest.Context(t, 10*time.Second), parsed)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("record of %s: %v", address, err)
	}
	return rec
}

// vendorEvents maps a vendor example file to its events, with classify as
// the builder's classifier.
func vendorEvents(t testing.TB, file string, classify func(diagnostic, bounceCode, status string) mailevent.Classification) []mailevent.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", file))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cmc.Decode("application/json", body, cmc.Limits{})
	if err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	builder := &mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}, Location: time.FixedZone("JST", 9*3600), Classify: classify}
	var events []mailevent.Event
	for _, raw := range batch.Entries {
		ev, _, err := builder.Build(batch.EventType, batch.ServerComposition, raw)
		if err != nil {
			t.Fatalf("build %s: %v", file, err)
		}
		events = append(events, ev)
	}
	return events
}

// waitFor polls cond every 10ms until it is true or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
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

// runConsumer runs the suppression consumer on srv until the test ends or
// the returned stop is called, which waits for it to return.
func runConsumer(t testing.TB, js jetstream.JetStream, store *Store, wrap func(consumer.Handler) consumer.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := consumer.Handler(store.HandleEvent)
	if wrap != nil {
		h = wrap(h)
	}
	done := make(chan error, 1)
	go func() {
		done <- consumer.Run(ctx, js, consumer.Config{
			Stream: "MAIL", Durable: "suppressor", FilterSubjects: FilterSubjects("mail"),
			AckWait: 5 * time.Second, MaxDeliver: 5, Logger: testLogger(t),
		}, h)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("consumer: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// publish stores an event in the stream with msgID as its JetStream
// message id (the event id when empty).
func publish(t testing.TB, js jetstream.JetStream, ev mailevent.Event, subject, msgID string) {
	t.Helper()
	msg := mailevent.Encode(&ev, subject, mailevent.ModeBinary)
	if msgID != "" {
		msg.Header.Set(mailevent.HeaderMsgID, msgID)
	}
	if _, err := js.PublishMsg(natstest.Context(t, 10*time.Second), msg); err != nil {
		t.Fatalf("publish %s: %v", ev.ID, err)
	}
}

// msgOf wraps an event as a first delivery.
func msgOf(ev mailevent.Event) *consumer.Msg {
	subjects := mailevent.Subjects{Prefix: "mail"}
	subject := subjects.Delivery("failed")
	if ev.Type == mailevent.TypeBounce {
		subject = subjects.Bounce("2")
	}
	return &consumer.Msg{Event: ev, Subject: subject, Delivered: 1, Stored: ev.Time}
}

func jetstreamOf(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func readTestdata(file string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", file))
}

// csvRecords parses CSV text and returns its records, one per line with
// fields joined by a tab, header first and the rest sorted.
func csvRecords(text string) (string, error) {
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		return "", err
	}
	lines := make([]string, len(rows))
	for i, row := range rows {
		lines[i] = fmt.Sprintf("%q", row)
	}
	if len(lines) > 1 {
		slices.Sort(lines[1:])
	}
	return strings.Join(lines, "\n"), nil
}
