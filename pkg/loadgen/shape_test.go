package loadgen_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/loadgen"
)

func TestSampleShapeMatchesStream(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}

	// Nine messages on three subjects, with data of 100 to 900 bytes and
	// a ce-subject header that grows with them.
	subjects := []string{"mail.deliveries.failed", "mail.bounces.user_unknown", "mail.deliveries.queued"}
	wantTotal := 0
	for i := range 9 {
		msg := nats.NewMsg(subjects[i%3])
		msg.Header.Set(nats.MsgIdHdr, "id-"+strconv.Itoa(i))
		msg.Header.Set(jetstream.ExpectedStreamHeader, "MAIL")
		msg.Header.Set("ce-subject", strings.Repeat("u", i+1)+"@example.jp")
		msg.Data = []byte(strings.Repeat("d", 100*(i+1)))
		if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatalf("publish: %v", err)
		}
		wantTotal += len(msg.Subject) + loadgen.HeaderSize(msg.Header) + len(msg.Data)
	}
	// Not events: a rejected body and an alert, which are left out.
	for _, subject := range []string{"mail.rejected", "mail.alerts.hard_bounce_rate"} {
		if _, err := srv.JS.Publish(ctx, subject, []byte("{}")); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	shape, err := loadgen.SampleShape(ctx, srv.JS, "MAIL", loadgen.EventFilters("mail"), 0)
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	if shape.Sampled != 9 {
		t.Errorf("sampled %d messages, want 9", shape.Sampled)
	}
	if shape.Subjects != 3 {
		t.Errorf("counted %d subjects, want 3", shape.Subjects)
	}
	if shape.Size != wantTotal/9 {
		t.Errorf("average size %d, want %d", shape.Size, wantTotal/9)
	}
	if got := shape.Header.Get("ce-subject"); got != "uuuuu@example.jp" {
		t.Errorf("median header has ce-subject %q, want the fifth message's", got)
	}

	// The message nats bench would publish with these flags has the
	// stream's average size, give or take the length of its message id.
	args := shape.NATSBenchArgs("bench.ceiling", "benchstream")
	msg := nats.NewMsg("bench.ceiling")
	msg.Header.Set(nats.MsgIdHdr, "1a2437d0c08-0-123456")
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--multisubject":
		case "--multisubjectmax":
			i++
			if args[i] != "3" {
				t.Errorf("--multisubjectmax %s, want 3", args[i])
			}
			msg.Subject += ".1"
		case "--size":
			i++
			size, err := strconv.Atoi(strings.TrimSuffix(args[i], "B"))
			if err != nil {
				t.Fatalf("--size %q: %v", args[i], err)
			}
			msg.Data = make([]byte, size)
		case "--header":
			i++
			key, value, ok := strings.Cut(args[i], ":")
			if !ok || key == nats.MsgIdHdr {
				t.Fatalf("--header %q", args[i])
			}
			msg.Header.Add(key, value)
		default:
			t.Fatalf("unexpected argument %q in %q", args[i], args)
		}
	}
	if got := msg.Header.Get(jetstream.ExpectedStreamHeader); got != "benchstream" {
		t.Errorf("Nats-Expected-Stream %q, want benchstream", got)
	}
	if size := len(msg.Subject) + loadgen.HeaderSize(msg.Header) + len(msg.Data); size != shape.Size {
		t.Errorf("nats bench's message would be %d bytes, want %d", size, shape.Size)
	}
}

func TestSampleShapeEmptyStream(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := loadgen.SampleShape(ctx, srv.JS, "MAIL", loadgen.EventFilters("mail"), 10); err == nil || !strings.Contains(err.Error(), "post some webhooks first") {
		t.Fatalf("err = %v, want one that says the stream is empty", err)
	}
}

func TestStreamCounterCountsEventsOnly(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	subjects := []string{"mail.deliveries.queued", "mail.bounces.user_unknown", "mail.blocks.blocked",
		"mail.rejected", "mail.alerts.hard_bounce_rate", "mail.suppressions.added"}
	for _, subject := range subjects {
		if _, err := srv.JS.Publish(ctx, subject, []byte("{}")); err != nil {
			t.Fatalf("publish to %s: %v", subject, err)
		}
	}

	counter := loadgen.StreamCounter{JS: srv.JS, Stream: "MAIL", Filters: loadgen.EventFilters("mail")}
	n, err := counter.Count(ctx)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	if n != 3 {
		t.Errorf("counted %d events, want 3: one delivery, one bounce, one block", n)
	}
}
