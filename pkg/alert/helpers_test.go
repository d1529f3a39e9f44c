package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
	"github.com/mailbridge/mailbridge/schemas"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// receiver is an HTTP server standing in for Slack or a webhook endpoint.
type receiver struct {
	*httptest.Server
	requests chan receivedRequest

	mu     sync.Mutex
	status []int // answers to give, in order; 200 once used up
}

type receivedRequest struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{requests: make(chan receivedRequest, 100), status: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := http.StatusOK
		if len(r.status) > 0 {
			status, r.status = r.status[0], r.status[1:]
		}
		r.mu.Unlock()
		if status == http.StatusOK {
			r.requests <- receivedRequest{header: req.Header.Clone(), body: body}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// next returns the next request, failing the test after timeout.
func (r *receiver) next(t *testing.T, timeout time.Duration) receivedRequest {
	t.Helper()
	select {
	case req := <-r.requests:
		return req
	case <-time.After(timeout):
		t.Fatalf("no request at %s within %s", r.URL, timeout)
	}
	return receivedRequest{}
}

// slackMessage reads the next Slack request.
func (r *receiver) slackMessage(t *testing.T) SlackPayload {
	t.Helper()
	var p SlackPayload
	if err := json.Unmarshal(r.next(t, 5*time.Second).body, &p); err != nil {
		t.Fatalf("slack body: %v", err)
	}
	return p
}

// testLogger routes log lines to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// bundle is one test's server, stream, clock and Slack stand-in.
type bundle struct {
	t     *testing.T
	srv   *natstest.Server
	clock *fakeClock
	slack *receiver
	rules Rules
	seq   int
}

func setup(t *testing.T, rules Rules) *bundle {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	return &bundle{t: t, srv: srv, clock: newFakeClock(), slack: newReceiver(t), rules: rules}
}

// start runs an Alerter until the returned stop is called or the test
// ends, and waits until it is ready.
func (b *bundle) start(extra ...Notifier) (*Alerter, func()) {
	t := b.t
	t.Helper()
	rules := b.rules
	a, err := New(b.srv.JS, Config{
		Stream:    "MAIL",
		Rules:     &rules,
		Notifiers: append([]Notifier{SlackNotifier{URL: b.slack.URL, Retry: Retry{Attempts: 2, Backoff: 10 * time.Millisecond}}}, extra...),
		Clock:     b.clock,
		// Long enough that only events and the test trigger evaluations.
		EvaluateInterval: time.Hour,
		EvaluateDelay:    time.Hour,
		Logger:           testLogger(t),
		Registerer:       prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("alerter stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("alerter not ready within 10s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("alerter run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("alerter did not stop within 15s")
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// spec describes one test event.
type spec struct {
	eventType   string
	composition string
	recipient   string
	messageID   string
	class       *mailevent.Classification
	bounceCode  int
}

func hardClass(reason string) *mailevent.Classification {
	return &mailevent.Classification{Reason: reason, Hard: true, SMTPCode: "550", EnhancedStatus: "5.1.1"}
}

func softClass(reason string) *mailevent.Classification {
	return &mailevent.Classification{Reason: reason, Hard: false, SMTPCode: "554", EnhancedStatus: "5.7.1"}
}

// encode builds the event of s as the ingress would, with a unique id.
func (b *bundle) encode(s spec) (mailevent.Event, string) {
	b.t.Helper()
	b.seq++
	if s.messageID == "" {
		s.messageID = fmt.Sprintf("<m%d@example.com>", b.seq)
	}
	if s.composition == "" {
		s.composition = "pro"
	}
	msg := mailevent.Message{
		Created: "2026-01-25 14:06:06", From: "info@example.com", To: s.recipient,
		MessageID: s.messageID, ServerComposition: s.composition, Classification: s.class,
	}
	subjects := mailevent.Subjects{Prefix: "mail"}
	var data any
	var subject string
	switch s.eventType {
	case mailevent.TypeBounce:
		code := s.bounceCode
		msg.Status = fmt.Sprint(code)
		data = mailevent.Bounce{Message: msg, BounceCode: &code, BounceName: mailevent.BounceName(msg.Status)}
		subject = subjects.Bounce(msg.Status)
	default:
		status := map[string]string{
			mailevent.TypeDeliverySucceeded: mailevent.StatusSucceeded,
			mailevent.TypeDeliveryFailed:    mailevent.StatusFailed,
			mailevent.TypeDeliveryDeferred:  mailevent.StatusDeferred,
			mailevent.TypeDeliveryQueued:    mailevent.StatusQueued,
		}[s.eventType]
		msg.Status = status
		data = mailevent.Delivery{Message: msg}
		subject = subjects.Delivery(status)
	}
	body, err := json.Marshal(data)
	if err != nil {
		b.t.Fatal(err)
	}
	return mailevent.Event{
		ID:              fmt.Sprintf("%s-%d", b.t.Name(), b.seq),
		Source:          mailevent.Source(s.composition),
		Type:            s.eventType,
		Subject:         s.recipient,
		Time:            time.Now().UTC(),
		DataContentType: "application/json",
		DataSchema:      mailevent.SchemaDelivery,
		Data:            body,
	}, subject
}

// publish stores the events and returns the last stream sequence.
func (b *bundle) publish(specs ...spec) uint64 {
	t := b.t
	t.Helper()
	ctx := natstest.Context(t, 30*time.Second)
	futures := make([]jetstream.PubAckFuture, 0, len(specs))
	for _, s := range specs {
		ev, subject := b.encode(s)
		f, err := b.srv.JS.PublishMsgAsync(mailevent.Encode(&ev, subject, mailevent.ModeBinary))
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	var last uint64
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			last = max(last, ack.Sequence)
		case err := <-f.Err():
			t.Fatalf("publish: %v", err)
		case <-ctx.Done():
			t.Fatal("pub acks timed out")
		}
	}
	return last
}

// waitAcked waits until the alerter's durable has acked sequence seq,
// so that every event up to it is counted.
func (b *bundle) waitAcked(seq uint64) {
	t := b.t
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		cons, err := b.srv.JS.Consumer(ctx, "MAIL", "alerter")
		if err == nil {
			info, err := cons.Info(ctx)
			if err == nil && info.AckFloor.Stream >= seq {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("durable did not ack sequence %d within 10s", seq)
		case <-ticker.C:
		}
	}
}

// alerts returns every alert CloudEvent on the stream, oldest first.
func (b *bundle) alerts() []Data {
	t := b.t
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	s, err := b.srv.JS.Stream(ctx, "MAIL")
	if err != nil {
		t.Fatal(err)
	}
	oc, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"mail.alerts.*"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []Data
	for {
		batch, err := oc.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			ev, err := mailevent.Decode(m.Headers(), m.Data())
			if err != nil {
				t.Fatalf("alert is not a CloudEvent: %v", err)
			}
			if ev.Type != TypeFiring && ev.Type != TypeResolved {
				t.Errorf("alert type = %q", ev.Type)
			}
			if err := schemas.Validate(ev.DataSchema, ev.Data); err != nil {
				t.Errorf("alert data does not match its schema: %v\n%s", err, ev.Data)
			}
			var d Data
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		if n == 0 {
			return out
		}
	}
}

// evaluate runs one evaluation and fails the test on error.
func evaluate(t *testing.T, a *Alerter) {
	t.Helper()
	if err := a.Evaluate(natstest.Context(t, 10*time.Second)); err != nil {
		t.Fatalf("evaluate: %v", err)
	}
}

// repeat returns n copies of s.
func repeat(n int, s spec) []spec {
	out := make([]spec, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// hardBounceBatch returns groups of 25 events: 3 hard failures first,
// then 22 successes, so every prefix of 200 or more runs at 12% or more.
// The failures go to three domains so that none reaches the domain
// rule's minimum of 50 sends in two batches of 10 groups.
func hardBounceBatch(groups int) []spec {
	var out []spec
	for range groups {
		for _, domain := range []string{"a.example", "b.example", "c.example"} {
			out = append(out, spec{eventType: mailevent.TypeDeliveryFailed, recipient: "gone@" + domain, class: hardClass("userunknown")})
		}
		out = append(out, repeat(22, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"})...)
	}
	return out
}

// consumerNames lists the consumers on the MAIL stream.
func (b *bundle) consumerNames() []string {
	b.t.Helper()
	ctx := natstest.Context(b.t, 5*time.Second)
	s, err := b.srv.JS.Stream(ctx, "MAIL")
	if err != nil {
		b.t.Fatalf("stream: %v", err)
	}
	var names []string
	lister := s.ConsumerNames(ctx)
	for name := range lister.Name() {
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		b.t.Fatalf("consumer names: %v", err)
	}
	return names
}
