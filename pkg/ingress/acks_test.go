package ingress

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

func TestReadPubAck(t *testing.T) {
	t.Parallel()
	noResponders := &nats.Msg{Header: nats.Header{"Status": []string{"503"}}}
	cases := []struct {
		name      string
		msg       *nats.Msg
		duplicate bool
		err       error
	}{
		{"stored", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7}`)}, false, nil},
		{"stored with domain", &nats.Msg{Data: []byte(`{"stream":"MAIL","domain":"hub","seq":7}`)}, false, nil},
		{"duplicate as nats-server writes it", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7,"duplicate": true}`)}, true, nil},
		{"duplicate compact", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7,"duplicate":true}`)}, true, nil},
		{"duplicate false", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7,"duplicate":false}`)}, false, nil},
		{"duplicate other order", &nats.Msg{Data: []byte(`{"seq":7, "duplicate" : true, "stream":"MAIL"}`)}, true, nil},
		{"no responders", noResponders, false, jetstream.ErrNoStreamResponse},
		{"empty", &nats.Msg{}, false, jetstream.ErrInvalidJSAck},
		{"not JSON", &nats.Msg{Data: []byte(`+OK`)}, false, jetstream.ErrInvalidJSAck},
		{"no stream", &nats.Msg{Data: []byte(`{"seq":7}`)}, false, jetstream.ErrInvalidJSAck},
	}
	for _, c := range cases {
		duplicate, err := readPubAck(c.msg)
		if duplicate != c.duplicate {
			t.Errorf("%s: duplicate = %v, want %v", c.name, duplicate, c.duplicate)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}

	// An error answer is returned as JetStream's API error.
	_, err := readPubAck(&nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"MAIL","seq":0}`)})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10077 {
		t.Errorf("error ack: err = %v, want the API error 10077", err)
	}
}

func TestAckCollectorStoresAndMarksDuplicates(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: "ACKS", Subjects: []string{"acks.>"}}); err != nil {
		t.Fatal(err)
	}
	collector, err := newAckCollector(srv.Conn, "ACKS")
	if err != nil {
		t.Fatal(err)
	}

	batch := func(ids ...string) []pending {
		var out []pending
		for _, id := range ids {
			msg := nats.NewMsg("acks.test")
			msg.Header.Set(nats.MsgIdHdr, id)
			msg.Data = []byte(id)
			out = append(out, pending{msg: msg})
		}
		return out
	}

	first := batch("a", "b", "c")
	if err := collector.publish(ctx, first); err != nil {
		t.Fatalf("first publish: %v", err)
	}
	for i, p := range first {
		if !p.stored || p.duplicate {
			t.Errorf("first batch message %d: stored %v, duplicate %v; want stored, not duplicate", i, p.stored, p.duplicate)
		}
	}

	second := batch("c", "d")
	if err := collector.publish(ctx, second); err != nil {
		t.Fatalf("second publish: %v", err)
	}
	if !second[0].duplicate || second[1].duplicate {
		t.Errorf("second batch duplicates = %v, %v; want true, false", second[0].duplicate, second[1].duplicate)
	}

	s, err := srv.JS.Stream(ctx, "ACKS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Errorf("stream holds %d messages, want 4", info.State.Msgs)
	}
}

func TestAckCollectorFailsWithoutStream(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	collector, err := newAckCollector(srv.Conn, "ACKS")
	if err != nil {
		t.Fatal(err)
	}

	batch := []pending{{msg: nats.NewMsg("nowhere.test")}}
	err = collector.publish(ctx, batch)
	if !errors.Is(err, jetstream.ErrNoStreamResponse) || !errors.Is(err, errNotStored) {
		t.Errorf("publish without a stream: err = %v, want no stream response and not stored", err)
	}
	if batch[0].stored {
		t.Error("message marked stored without a stream")
	}
}

func TestAckCollectorTimesOut(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	// A plain subscriber on the subject keeps the request from failing
	// with no responders, but never sends a pub ack.
	if _, err := srv.Conn.SubscribeSync("silent.test"); err != nil {
		t.Fatal(err)
	}
	collector, err := newAckCollector(srv.Conn, "ACKS")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = collector.publish(ctx, []pending{{msg: nats.NewMsg("silent.test")}})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errNotStored) {
		t.Errorf("publish without pub ack: err = %v, want deadline exceeded and not stored", err)
	}
	collector.mu.Lock()
	left := len(collector.requests)
	collector.mu.Unlock()
	if left != 0 {
		t.Errorf("%d requests still registered after the timeout, want 0", left)
	}
}

func TestReplySubjects(t *testing.T) {
	c := &ackCollector{prefix: "_INBOX.abc."}
	for _, n := range []int{1, 9, 10, 11, 100, 101, 1234} {
		replies := c.replySubjects(42, n)
		for i := range n {
			want := "_INBOX.abc.42." + strconv.Itoa(i)
			if got := replies.at(i); got != want {
				t.Fatalf("n=%d: reply %d is %q, want %q", n, i, got, want)
			}
		}
		if last := replies.at(n - 1); !strings.HasSuffix(replies.all, last) {
			t.Fatalf("n=%d: the subjects end in %q, not in the last reply %q", n, replies.all[len(replies.all)-8:], last)
		}
	}
}
