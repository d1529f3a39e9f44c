package replay_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
)

// receiver is an HTTP endpoint that reads each request with sdk-go's
// HTTP binding and answers what answer returns for the event id and the
// attempt number, starting at 1.
type receiver struct {
	t      *testing.T
	answer func(id string, attempt int) int

	mu       sync.Mutex
	accepted []mailevent.Event
	attempts map[string]int
	binary   int
}

func newReceiver(t *testing.T, answer func(id string, attempt int) int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, answer: answer, attempts: make(map[string]int)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	msg := cehttp.NewMessageFromHttpRequest(req)
	encoding := msg.ReadEncoding()
	ce, err := binding.ToEvent(req.Context(), msg)
	if err != nil {
		r.t.Errorf("sdk-go cannot read the request: %v", err)
		http.Error(w, `{"error": "not a CloudEvent"}`, http.StatusBadRequest)
		return
	}
	if err := ce.Validate(); err != nil {
		r.t.Errorf("sdk-go finds the event invalid: %v", err)
	}

	r.mu.Lock()
	r.attempts[ce.ID()]++
	status := r.answer(ce.ID(), r.attempts[ce.ID()])
	if status < 300 {
		r.accepted = append(r.accepted, mailevent.FromCloudEvent(*ce))
		if encoding == binding.EncodingBinary {
			r.binary++
		}
	}
	r.mu.Unlock()

	w.WriteHeader(status)
	if status >= 400 {
		w.Write([]byte(`{"error": "type not handled here"}`))
	}
}

func (r *receiver) acceptedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return eventIDs(r.accepted)
}

func runHTTP(t *testing.T, srv *natstest.Server, cfg replay.HTTPConfig, sel replay.Selection) (replay.Summary, error) {
	t.Helper()
	target, err := replay.NewHTTPTarget(cfg)
	if err != nil {
		t.Fatalf("new HTTP target: %v", err)
	}
	return replay.Run(natstest.Context(t, 20*time.Second), replay.Config{
		JS: srv.JS, Stream: testStream, Selection: sel, Target: target,
	})
}

func TestHTTPTargetSDKReceiverAccepts(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 12, mailevent.ModeBinary)
	recv, endpoint := newReceiver(t, func(string, int) int { return http.StatusAccepted })

	summary, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 1}, replay.Selection{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	if !slices.Equal(recv.acceptedIDs(), ids(events)) {
		t.Errorf("ids = %v, want %v", recv.acceptedIDs(), ids(events))
	}
	if recv.binary != len(events) {
		t.Errorf("%d of %d requests were in binary mode, want all", recv.binary, len(events))
	}
	for i, got := range recv.accepted {
		want := events[i].event
		if got.Type != want.Type || got.Source != want.Source || got.Subject != want.Subject || !got.Time.Equal(want.Time) {
			t.Errorf("event %d attributes = %s %s %s %s, want %s %s %s %s", i,
				got.Type, got.Source, got.Subject, got.Time, want.Type, want.Source, want.Subject, want.Time)
		}
		if got.DataSchema != want.DataSchema {
			t.Errorf("event %d dataschema = %q, want %q", i, got.DataSchema, want.DataSchema)
		}
		if !bytes.Equal(got.Data, want.Data) {
			t.Errorf("event %d data = %s, want %s", i, got.Data, want.Data)
		}
	}
	if summary.LastSequence != events[len(events)-1].seq {
		t.Errorf("LastSequence = %d, want %d", summary.LastSequence, events[len(events)-1].seq)
	}
}

func TestHTTPTargetRetries5xx(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 8, mailevent.ModeBinary)
	// Every event fails twice with 503, then succeeds.
	recv, endpoint := newReceiver(t, func(_ string, attempt int) int {
		if attempt <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})

	_, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 3, RetryBackoff: time.Millisecond}, replay.Selection{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	got := recv.acceptedIDs()
	slices.Sort(got)
	want := ids(events)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("accepted ids = %v, want %v", got, want)
	}
	for id, n := range recv.attempts {
		if n != 3 {
			t.Errorf("event %s was sent %d times, want 3", id, n)
		}
	}
}

func TestHTTPTargetGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 3, mailevent.ModeBinary)
	recv, endpoint := newReceiver(t, func(string, int) int { return http.StatusBadGateway })

	_, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 1, MaxRetries: 2, RetryBackoff: time.Millisecond}, replay.Selection{})

	if !errors.Is(err, replay.ErrTargetUnavailable) {
		t.Fatalf("err = %v, want ErrTargetUnavailable", err)
	}
	if !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("err = %q, want the status and the attempt count", err)
	}
	if len(recv.attempts) != 1 {
		t.Errorf("%d events were tried, want only the first", len(recv.attempts))
	}
}

func TestHTTPTargetStopsOn4xx(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 12, mailevent.ModeBinary)
	bad := events[5]
	recv, endpoint := newReceiver(t, func(id string, _ int) int {
		if id == bad.event.ID {
			return http.StatusUnprocessableEntity
		}
		return http.StatusOK
	})

	summary, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 1}, replay.Selection{})

	var targetErr *replay.TargetError
	if !errors.As(err, &targetErr) {
		t.Fatalf("err = %v, want a *TargetError", err)
	}
	if !errors.Is(err, replay.ErrTargetRejected) {
		t.Errorf("err = %v, want ErrTargetRejected", err)
	}
	if targetErr.EventID != bad.event.ID || targetErr.Sequence != bad.seq {
		t.Errorf("failing event = %s at %d, want %s at %d", targetErr.EventID, targetErr.Sequence, bad.event.ID, bad.seq)
	}
	for _, part := range []string{"422", "type not handled here", bad.event.ID} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("err = %q, want it to contain %q", err, part)
		}
	}
	if !bytes.Contains(targetErr.Event, []byte(`"id":"`+bad.event.ID+`"`)) {
		t.Errorf("Event = %s, want the failing event's JSON", targetErr.Event)
	}
	if recv.attempts[bad.event.ID] != 1 {
		t.Errorf("rejected event was sent %d times, want 1", recv.attempts[bad.event.ID])
	}
	if !slices.Equal(recv.acceptedIDs(), ids(events[:5])) {
		t.Errorf("accepted ids = %v, want the 5 before the rejected one", recv.acceptedIDs())
	}
	if summary.LastSequence != events[4].seq {
		t.Errorf("LastSequence = %d, want %d", summary.LastSequence, events[4].seq)
	}
}

func TestHTTPTargetResumeAfter4xx(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 12, mailevent.ModeBinary)
	bad := events[7].event.ID
	fixed := false
	recv, endpoint := newReceiver(t, func(id string, _ int) int {
		if id == bad && !fixed {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})

	summary, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 1}, replay.Selection{})
	if !errors.Is(err, replay.ErrTargetRejected) {
		t.Fatalf("first run err = %v, want ErrTargetRejected", err)
	}

	recv.mu.Lock()
	fixed = true
	recv.mu.Unlock()
	if _, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 4}, replay.Selection{FromSeq: summary.LastSequence + 1}); err != nil {
		t.Fatalf("resumed run: %v", err)
	}

	got := recv.acceptedIDs()
	slices.Sort(got[7:]) // the resumed run sent concurrently
	want := ids(events)
	slices.Sort(want[7:])
	if !slices.Equal(got, want) {
		t.Errorf("accepted ids = %v, want each event once: %v", got, want)
	}
}

func TestHTTPTargetInvalidURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "ftp://example.com/x", "http://"} {
		if _, err := replay.NewHTTPTarget(replay.HTTPConfig{URL: url}); !errors.Is(err, replay.ErrInvalidConfig) {
			t.Errorf("NewHTTPTarget(%q) err = %v, want ErrInvalidConfig", url, err)
		}
	}
}

func TestNATSTargetCoreNATS(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 10, mailevent.ModeBinary)
	sub, err := srv.Conn.SubscribeSync("replay.mail.>")
	if err != nil {
		t.Fatal(err)
	}
	ctx := natstest.Context(t, 20*time.Second)
	_, err = replay.NewNATSTarget(ctx, replay.NATSConfig{
		Conn: srv.Conn, JS: srv.JS, Prefix: "replay.mail", SourcePrefix: "mail", SourceStream: testStream,
	})
	if !errors.Is(err, replay.ErrNoTargetStream) {
		t.Fatalf("new NATS target without a stream: %v, want ErrNoTargetStream", err)
	}
	target, err := replay.NewNATSTarget(ctx, replay.NATSConfig{
		Conn: srv.Conn, JS: srv.JS, Prefix: "replay.mail", SourcePrefix: "mail", SourceStream: testStream,
		AllowCoreNATS: true,
	})
	if err != nil {
		t.Fatalf("new NATS target: %v", err)
	}
	if target.JetStream() {
		t.Fatal("JetStream() = true, want core NATS when no stream stores replay.mail.>")
	}

	if _, err := replay.Run(ctx, replay.Config{JS: srv.JS, Stream: testStream, Target: target}); err != nil {
		t.Fatalf("run: %v", err)
	}

	for i, want := range events {
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if wantSubject := "replay." + want.subject; msg.Subject != wantSubject {
			t.Errorf("message %d subject = %s, want %s", i, msg.Subject, wantSubject)
		}
		if id := msg.Header.Get(mailevent.HeaderMsgID); id != want.event.ID {
			t.Errorf("message %d Nats-Msg-Id = %s, want %s", i, id, want.event.ID)
		}
		ev, err := mailevent.Decode(msg.Header, msg.Data)
		if err != nil || ev.ID != want.event.ID {
			t.Errorf("message %d decodes to %q, %v; want event %s", i, ev.ID, err, want.event.ID)
		}
	}
}

func TestNATSTargetJetStreamDropsRepeats(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 10, mailevent.ModeBinary)
	ctx := natstest.Context(t, 20*time.Second)
	if _, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "REPLAY", Subjects: []string{"replay.>"}}); err != nil {
		t.Fatal(err)
	}

	// Two runs publish every event twice; the ids make JetStream keep one.
	for run := range 2 {
		target, err := replay.NewNATSTarget(ctx, replay.NATSConfig{
			Conn: srv.Conn, JS: srv.JS, Prefix: "replay.mail", SourcePrefix: "mail", SourceStream: testStream,
		})
		if err != nil {
			t.Fatalf("new NATS target: %v", err)
		}
		if !target.JetStream() {
			t.Fatal("JetStream() = false, want true when stream REPLAY stores replay.>")
		}
		summary, err := replay.Run(ctx, replay.Config{JS: srv.JS, Stream: testStream, Target: target})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if summary.LastSequence != events[len(events)-1].seq {
			t.Errorf("run %d LastSequence = %d, want %d", run, summary.LastSequence, events[len(events)-1].seq)
		}
	}

	s, err := srv.JS.Stream(ctx, "REPLAY")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != uint64(len(events)) {
		t.Errorf("REPLAY holds %d messages, want %d", n, len(events))
	}
}

func TestNATSTargetRejectsLoop(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{"mail.>", "copy.>"}}); err != nil {
		t.Fatal(err)
	}

	for _, prefix := range []string{"mail", "mail.replay", "copy"} {
		_, err := replay.NewNATSTarget(ctx, replay.NATSConfig{
			Conn: srv.Conn, JS: srv.JS, Prefix: prefix, SourcePrefix: "mail", SourceStream: testStream,
		})
		if !errors.Is(err, replay.ErrInvalidConfig) {
			t.Errorf("prefix %s: err = %v, want ErrInvalidConfig", prefix, err)
		}
	}
}
