package replay_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

const testStream = "MAIL"

var tokyo = mustLocation("Asia/Tokyo")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// stored is one event as the tests published it.
type stored struct {
	seq     uint64
	subject string
	event   mailevent.Event
}

// testBuilder builds events whose failures carry a classification, as the
// ingress writes them once the bounce classifier runs.
func testBuilder() *mailevent.Builder {
	return &mailevent.Builder{
		Subjects: mailevent.Subjects{Prefix: "mail"},
		Location: tokyo,
		Classify: func(diagnostic, bounceCode, status string) mailevent.Classification {
			if strings.Contains(diagnostic, "5.1.1") {
				return mailevent.Classification{Reason: "userunknown", Hard: true, SMTPCode: "550", EnhancedStatus: "5.1.1"}
			}
			return mailevent.Classification{Reason: "undefined"}
		},
	}
}

// record returns a CMC record as JSON.
func record(created, to, status, reason string) json.RawMessage {
	raw, err := json.Marshal(map[string]string{
		"created": created, "to": to, "status": status, "reason": reason,
		"from": "info@example.com", "returnPath": "info@return.pro.smtps.jp",
		"messageId": "<" + to + "." + created[11:13] + created[14:16] + "@example.com>",
		"subject":   "テスト", "apiData": "", "senderIp": "", "sourceIp": "",
	})
	if err != nil {
		panic(err)
	}
	return raw
}

// setupStream starts a server with the MAIL stream and stores n events in
// stream order: deliveries of every status and user-unknown bounces, one
// minute apart from 2023-01-25 10:00 in Tokyo. Every fifth message is a
// rejected record, which is not a CloudEvent.
func setupStream(t *testing.T, n int, mode mailevent.Mode) (*natstest.Server, []stored) {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: testStream, Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}

	builder := testBuilder()
	statuses := []string{"queued", "succeeded", "failed", "deferred"}
	var events []stored
	for i := range n {
		created := time.Date(2023, 1, 25, 10, i, 0, 0, tokyo).Format("2006-01-02 15:04:05")
		to := fmt.Sprintf("user%02d@example.jp", i)
		eventType, status, reason := cmc.EventTypeDeliveries, statuses[i%4], ""
		if i%3 == 2 {
			eventType, status, reason = cmc.EventTypeBounces, "2", "550 5.1.1 <"+to+">: user unknown"
		}
		if i%5 == 4 {
			publish(t, srv, nats.NewMsg("mail.rejected"), "rejected-"+fmt.Sprint(i))
		}
		ev, subject, err := builder.Build(eventType, "pro", record(created, to, status, reason))
		if err != nil {
			t.Fatalf("build event %d: %v", i, err)
		}
		msg := mailevent.Encode(&ev, subject, mode)
		// The ingress stores each event with the stream it expects.
		msg.Header.Set(jetstream.ExpectedStreamHeader, testStream)
		seq := publish(t, srv, msg, "")
		events = append(events, stored{seq: seq, subject: subject, event: ev})
	}
	return srv, events
}

// publish stores msg and returns its stream sequence. A non-empty body is
// the payload of a message that is not a CloudEvent.
func publish(t *testing.T, srv *natstest.Server, msg *nats.Msg, body string) uint64 {
	t.Helper()
	if body != "" {
		msg.Data = []byte(body)
		msg.Header.Set("Mailbridge-Reject-Reason", "entry 0: missing recipient")
	}
	ack, err := srv.JS.PublishMsg(natstest.Context(t, 5*time.Second), msg)
	if err != nil {
		t.Fatalf("publish %s: %v", msg.Subject, err)
	}
	return ack.Sequence
}

// ids returns the event ids in order.
func ids(events []stored) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.event.ID
	}
	return out
}

// selectEvents returns the events for which keep is true, in order.
func selectEvents(events []stored, keep func(stored) bool) []stored {
	var out []stored
	for _, e := range events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// decodeLines reads JSON Lines of structured CloudEvents.
func decodeLines(t *testing.T, output string) []mailevent.Event {
	t.Helper()
	var out []mailevent.Event
	for line := range strings.SplitSeq(strings.TrimSpace(output), "\n") {
		if line == "" {
			continue
		}
		ev, err := mailevent.Decode(nats.Header{"content-type": {mailevent.StructuredContentType}}, []byte(line))
		if err != nil {
			t.Fatalf("line %q is not a structured CloudEvent: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

func eventIDs(events []mailevent.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// consumerCount returns the number of consumers on the test stream.
func consumerCount(t *testing.T, srv *natstest.Server) int {
	t.Helper()
	ctx := natstest.Context(t, 5*time.Second)
	s, err := srv.JS.Stream(ctx, testStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Consumers
}
