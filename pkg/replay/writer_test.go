package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// eventTarget writes each item's decoded Event with AppendStructured, the
// general path that WriterTarget's direct writing must match.
type eventTarget struct {
	out  bytes.Buffer
	last uint64
}

func (t *eventTarget) Send(_ context.Context, item *replay.Item) error {
	t.out.Write(mailevent.AppendStructured(nil, &item.Event))
	t.out.WriteByte('\n')
	t.last = item.Sequence
	return nil
}

func (t *eventTarget) Close(context.Context) error { return nil }
func (t *eventTarget) Delivered() uint64           { return t.last }

// setupMixedStream stores events of both content modes, with non-ASCII
// recipients, extensions, times with and without fractions, text data and
// records that are not CloudEvents.
func setupMixedStream(t *testing.T) *natstest.Server {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: testStream, Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	builder := testBuilder()
	recipients := []string{"user@example.jp", "山田太郎@例え.jp", `"John Smith"@example.jp`, "100%@example.jp"}
	for i := range 24 {
		created := time.Date(2023, 1, 25, 10, i, 0, 0, tokyo).Format(time.DateTime)
		ev, subject, err := builder.Build("deliveries", "pro", record(created, recipients[i%len(recipients)], "failed", "550 5.1.1 user unknown"))
		if err != nil {
			t.Fatalf("build event %d: %v", i, err)
		}
		switch i % 6 {
		case 1:
			ev.Extensions = map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "region": "東京", "attempt": "2"}
		case 2:
			ev.Time = ev.Time.Add(120 * time.Millisecond).UTC()
		case 3:
			ev.DataContentType, ev.Data = "text/plain; charset=utf-8", []byte("550 ユーザー不明\n")
		case 4:
			publish(t, srv, nats.NewMsg("mail.rejected"), fmt.Sprintf("rejected %d", i))
		}
		mode := mailevent.ModeBinary
		if i%4 == 3 {
			mode = mailevent.ModeStructured
		}
		publish(t, srv, mailevent.Encode(&ev, subject, mode), "")
	}
	return srv
}

func TestWriterTargetMatchesGeneralPath(t *testing.T) {
	t.Parallel()
	srv := setupMixedStream(t)
	selections := map[string]replay.Selection{
		"everything":    {},
		"type filter":   {Types: []string{"delivery"}},
		"domain":        {Recipients: []string{"@例え.jp"}},
		"time window":   {Since: time.Date(2023, 1, 25, 10, 5, 0, 0, tokyo), Until: time.Date(2023, 1, 25, 10, 20, 0, 0, tokyo)},
		"from sequence": {FromSeq: 7},
	}
	for name, sel := range selections {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := natstest.Context(t, 20*time.Second)
			var direct bytes.Buffer
			directSummary, err := replay.Run(ctx, replay.Config{JS: srv.JS, Stream: testStream, Selection: sel, Target: replay.NewWriterTarget(&direct)})
			if err != nil {
				t.Fatalf("run with WriterTarget: %v", err)
			}
			general := &eventTarget{}
			generalSummary, err := replay.Run(ctx, replay.Config{JS: srv.JS, Stream: testStream, Selection: sel, Target: general})
			if err != nil {
				t.Fatalf("run with the general path: %v", err)
			}

			if direct.Len() == 0 {
				t.Fatal("WriterTarget wrote nothing")
			}
			if !bytes.Equal(direct.Bytes(), general.out.Bytes()) {
				t.Errorf("WriterTarget wrote\n%s\nthe general path wrote\n%s", direct.Bytes(), general.out.Bytes())
			}
			directSummary.Duration, generalSummary.Duration = 0, 0
			if directSummary != generalSummary {
				t.Errorf("summary = %+v, general path summary = %+v", directSummary, generalSummary)
			}
		})
	}
}
