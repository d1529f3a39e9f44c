package suppression

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/schemas"
)

func TestSameEventDeliveredThreeTimes(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	ev, subject := event(t, eventSpec{id: "once", typ: mailevent.TypeDeliveryFailed, to: "twice@example.jp", messageID: "<m1>", at: base, classification: softVerdict("mailboxfull")})
	for delivered := uint64(1); delivered <= 3; delivered++ {
		msg := &consumer.Msg{Event: ev, Subject: subject, Delivered: delivered, Stored: base}
		if err := b.store.HandleEvent(t.Context(), msg); err != nil {
			t.Fatalf("delivery %d: %v", delivered, err)
		}
	}
	rec := b.record(t, "twice@example.jp")
	if rec.Failures != 1 || rec.SoftCount != 1 || len(rec.Applied) != 1 {
		t.Errorf("failures %d, soft count %d, applied %v; want 1, 1, one id", rec.Failures, rec.SoftCount, rec.Applied)
	}
}

func TestEventSentAgainOutsideDuplicateWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	var mu sync.Mutex
	var handled []uint64
	runConsumer(t, b.srv.JS, b.store, func(h consumer.Handler) consumer.Handler {
		return func(ctx context.Context, msg *consumer.Msg) error {
			err := h(ctx, msg)
			mu.Lock()
			handled = append(handled, msg.Sequence)
			mu.Unlock()
			return err
		}
	})

	// The same bounce a day later is a new stream message: JetStream no
	// longer remembers its id, which a second message id stands for here.
	ev, subject := event(t, eventSpec{id: "bounce-1", typ: mailevent.TypeBounce, to: "soft@example.jp", messageID: "<m1>", at: base, code: 5})
	publish(t, b.srv.JS, ev, subject, "")
	publish(t, b.srv.JS, ev, subject, "bounce-1-a-day-later")
	waitFor(t, 5*time.Second, "both messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	})

	rec := b.record(t, "soft@example.jp")
	if rec.Failures != 1 || rec.SoftCount != 1 {
		t.Errorf("failures %d, soft count %d; want 1 and 1 for one bounce sent twice", rec.Failures, rec.SoftCount)
	}
}

func TestChangeEventsPublishedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	ev, subject := event(t, eventSpec{id: "hard-1", typ: mailevent.TypeBounce, to: "gone@example.jp", messageID: "<m1>", at: base, code: 2})
	for delivered := uint64(1); delivered <= 3; delivered++ {
		msg := &consumer.Msg{Event: ev, Subject: subject, Delivered: delivered, Stored: base}
		if err := b.store.HandleEvent(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	ctx := natstest.Context(t, 10*time.Second)
	info, err := b.srv.JS.Stream(ctx, "MAIL")
	if err != nil {
		t.Fatal(err)
	}
	state := info.CachedInfo().State
	if state.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1 change event", state.Msgs)
	}
	raw, err := info.GetLastMsgForSubject(ctx, ChangeSubject("mail", ChangeAdded))
	if err != nil {
		t.Fatalf("no added event: %v", err)
	}
	change, err := mailevent.Decode(raw.Header, raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	if change.Type != TypePrefix+ChangeAdded || change.Subject != "gone@example.jp" || change.Source != EventSource {
		t.Errorf("change event type %q, subject %q, source %q", change.Type, change.Subject, change.Source)
	}
	if err := change.Validate(); err != nil {
		t.Error(err)
	}
	if err := schemas.Validate(change.DataSchema, change.Data); err != nil {
		t.Errorf("change event data against its schema: %v", err)
	}
}

// burst returns events for 20 addresses: hard bounces, soft failures that
// reach the threshold, and copies of some events under other message ids.
func burst(t testing.TB) [][2]any {
	var out [][2]any
	for a := range 20 {
		address := fmt.Sprintf("user%02d@example.jp", a)
		for i := range 5 {
			spec := eventSpec{id: fmt.Sprintf("%s-%d", address, i), typ: mailevent.TypeDeliveryFailed, to: address,
				messageID: fmt.Sprintf("<%d-%d>", a, i), at: base.Add(time.Duration(i) * time.Hour), classification: softVerdict("mailboxfull")}
			if a%4 == 0 && i == 4 {
				spec.typ, spec.code, spec.classification = mailevent.TypeBounce, 2, hardVerdict("userunknown")
			}
			ev, subject := event(t, spec)
			out = append(out, [2]any{ev, subject})
			if i%2 == 0 {
				out = append(out, [2]any{ev, subject + "#again"})
			}
		}
	}
	return out
}

// runBurst publishes the burst and runs instances consumers on it until
// every message is handled, then returns the records by address.
func runBurst(t *testing.T, instances int) map[string]Suppression {
	b := setup(t, Policy{})
	var mu sync.Mutex
	handled := 0
	count := func(h consumer.Handler) consumer.Handler {
		return func(ctx context.Context, msg *consumer.Msg) error {
			err := h(ctx, msg)
			if err == nil {
				mu.Lock()
				handled++
				mu.Unlock()
			}
			return err
		}
	}
	for range instances {
		// Each instance has its own connection and store.
		nc := b.srv.Connect(t)
		js := jetstreamOf(t, nc)
		store, err := NewStore(t.Context(), js, Config{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, js, store, count)
	}

	events := burst(t)
	for i, e := range events {
		ev, subject := e[0].(mailevent.Event), e[1].(string)
		msgID := ""
		if s, again := cutAgain(subject); again {
			subject, msgID = s, fmt.Sprint("again-", i)
		}
		publish(t, b.srv.JS, ev, subject, msgID)
	}
	waitFor(t, 20*time.Second, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled == len(events)
	})

	records := make(map[string]Suppression)
	for a := range 20 {
		address := fmt.Sprintf("user%02d@example.jp", a)
		rec := b.record(t, address)
		if rec == nil {
			t.Fatalf("%s has no record", address)
		}
		view := rec.View()
		// Which event came last depends on the order of processing.
		view.LastEventID, view.LastEventSubject, view.SuppressedAt = "", "", time.Time{}
		slices.SortFunc(view.Recent, func(x, y Failure) int { return x.Time.Compare(y.Time) })
		records[address] = view
	}
	return records
}

func cutAgain(subject string) (string, bool) {
	const suffix = "#again"
	if len(subject) > len(suffix) && subject[len(subject)-len(suffix):] == suffix {
		return subject[:len(subject)-len(suffix)], true
	}
	return subject, false
}

func TestTwoInstancesEndAsOne(t *testing.T) {
	t.Parallel()
	one := runBurst(t, 1)
	two := runBurst(t, 2)
	for address, want := range one {
		got := two[address]
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("%s:\n two instances %+v\n one instance  %+v", address, got, want)
		}
	}
	if rec := one["user00@example.jp"]; !rec.Suppressed || rec.Reason != "userunknown" || rec.Failures != 5 {
		t.Errorf("user00 after the burst: %+v; want suppressed userunknown with 5 failures", rec)
	}
	if rec := one["user01@example.jp"]; !rec.Suppressed || rec.Reason != "mailboxfull" || rec.Failures != 5 {
		t.Errorf("user01 after the burst: %+v; want suppressed mailboxfull with 5 failures", rec)
	}
}

func TestConsumerRestartMissesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{SoftThreshold: 100})
	var mu sync.Mutex
	seen := map[uint64]int{}
	track := func(h consumer.Handler) consumer.Handler {
		return func(ctx context.Context, msg *consumer.Msg) error {
			err := h(ctx, msg)
			if err == nil {
				mu.Lock()
				seen[msg.Sequence]++
				mu.Unlock()
			}
			return err
		}
	}
	handledCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	publishFailures := func(from, to int) {
		for i := from; i < to; i++ {
			ev, subject := event(t, eventSpec{id: fmt.Sprint("r", i), typ: mailevent.TypeDeliveryFailed, to: "restart@example.jp",
				messageID: fmt.Sprint("<m", i, ">"), at: base.Add(time.Duration(i) * time.Minute), classification: softVerdict("mailboxfull")})
			publish(t, b.srv.JS, ev, subject, "")
		}
	}

	stop := runConsumer(t, b.srv.JS, b.store, track)
	publishFailures(0, 10)
	waitFor(t, 5*time.Second, "10 events handled", func() bool { return handledCount() == 10 })
	stop()

	// Events stored while no consumer runs, then a restart of the server.
	publishFailures(10, 20)
	b.srv.Restart(t)
	store, err := NewStore(t.Context(), b.srv.JS, Config{Policy: Policy{SoftThreshold: 100}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	b.store = store
	runConsumer(t, b.srv.JS, store, track)
	waitFor(t, 10*time.Second, "20 events handled", func() bool { return handledCount() == 20 })

	mu.Lock()
	for seq, n := range seen {
		if n != 1 {
			t.Errorf("stream sequence %d handled %d times", seq, n)
		}
	}
	mu.Unlock()
	if rec := b.record(t, "restart@example.jp"); rec.Failures != 20 {
		t.Errorf("failures %d, want 20", rec.Failures)
	}
}
