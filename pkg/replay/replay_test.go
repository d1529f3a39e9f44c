package replay_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
)

// runToBuffer replays sel to JSON Lines and returns the events written.
func runToBuffer(t *testing.T, srv *natstest.Server, sel replay.Selection) ([]mailevent.Event, replay.Summary) {
	t.Helper()
	var out bytes.Buffer
	summary, err := replay.Run(natstest.Context(t, 20*time.Second), replay.Config{
		JS: srv.JS, Stream: testStream, Selection: sel, Target: replay.NewWriterTarget(&out),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return decodeLines(t, out.String()), summary
}

func TestRunAllSkipsNonCloudEvents(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 20, mailevent.ModeBinary)

	got, summary := runToBuffer(t, srv, replay.Selection{})

	if !slices.Equal(eventIDs(got), ids(events)) {
		t.Errorf("ids = %v, want %v", eventIDs(got), ids(events))
	}
	if summary.NotCloudEvents != 4 {
		t.Errorf("NotCloudEvents = %d, want 4", summary.NotCloudEvents)
	}
	if want := events[len(events)-1].seq; summary.LastSequence != want {
		t.Errorf("LastSequence = %d, want %d", summary.LastSequence, want)
	}
	if !strings.Contains(summary.String(), "resume with --from-seq") {
		t.Errorf("summary %q does not say how to resume", summary)
	}
	if n := consumerCount(t, srv); n != 0 {
		t.Errorf("consumers after the run = %d, want 0", n)
	}
}

func TestRunStructuredModeRoundTrip(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 6, mailevent.ModeStructured)

	got, _ := runToBuffer(t, srv, replay.Selection{})

	if len(got) != len(events) {
		t.Fatalf("got %d events, want %d", len(got), len(events))
	}
	for i := range got {
		if !got[i].Time.Equal(events[i].event.Time) || got[i].Subject != events[i].event.Subject {
			t.Errorf("event %d = %s %s, want %s %s", i, got[i].Time, got[i].Subject, events[i].event.Time, events[i].event.Subject)
		}
		if !bytes.Equal(got[i].Data, events[i].event.Data) {
			t.Errorf("event %d data = %s, want %s", i, got[i].Data, events[i].event.Data)
		}
	}
}

func TestRunBySubject(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 20, mailevent.ModeBinary)

	got, _ := runToBuffer(t, srv, replay.Selection{Subjects: []string{"mail.bounces.>", "mail.deliveries.failed"}})

	want := selectEvents(events, func(e stored) bool {
		return strings.HasPrefix(e.subject, "mail.bounces.") || e.subject == "mail.deliveries.failed"
	})
	if len(want) == 0 {
		t.Fatal("test data has no bounces")
	}
	if !slices.Equal(eventIDs(got), ids(want)) {
		t.Errorf("ids = %v, want %v", eventIDs(got), ids(want))
	}
}

func TestRunByTimeWindow(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 20, mailevent.ModeBinary)

	// A backfilled event happened inside the window but is stored last.
	late, subject, err := testBuilder().Build("bounces", "pro", record("2023-01-25 10:07:30", "late@example.jp", "1", "host unknown"))
	if err != nil {
		t.Fatal(err)
	}
	seq := publish(t, srv, mailevent.Encode(&late, subject, mailevent.ModeBinary), "")
	events = append(events, stored{seq: seq, subject: subject, event: late})

	since := time.Date(2023, 1, 25, 10, 5, 0, 0, tokyo)
	until := time.Date(2023, 1, 25, 10, 12, 0, 0, tokyo)
	got, summary := runToBuffer(t, srv, replay.Selection{Since: since, Until: until})

	want := selectEvents(events, func(e stored) bool {
		return !e.event.Time.Before(since) && e.event.Time.Before(until)
	})
	if len(want) != 8 {
		t.Fatalf("test data has %d events in the window, want 8", len(want))
	}
	if !slices.Equal(eventIDs(got), ids(want)) {
		t.Errorf("ids = %v, want %v", eventIDs(got), ids(want))
	}
	if summary.Filtered == 0 {
		t.Error("Filtered = 0, want the events outside the window counted")
	}
}

func TestRunBySequence(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 20, mailevent.ModeBinary)
	from, to := events[3].seq, events[12].seq

	got, summary := runToBuffer(t, srv, replay.Selection{FromSeq: from, ToSeq: to})

	want := events[3:13]
	if !slices.Equal(eventIDs(got), ids(want)) {
		t.Errorf("ids = %v, want %v", eventIDs(got), ids(want))
	}
	if summary.LastSequence != to {
		t.Errorf("LastSequence = %d, want %d", summary.LastSequence, to)
	}
}

func TestRunByRecipientTypeAndID(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 20, mailevent.ModeBinary)

	tests := []struct {
		name string
		sel  replay.Selection
		keep func(stored) bool
	}{
		{"recipient", replay.Selection{Recipients: []string{"USER07@example.jp"}},
			func(e stored) bool { return e.event.Subject == "user07@example.jp" }},
		{"domain", replay.Selection{Recipients: []string{"@example.jp"}},
			func(stored) bool { return true }},
		{"short type", replay.Selection{Types: []string{"bounce"}},
			func(e stored) bool { return e.event.Type == mailevent.TypeBounce }},
		{"type family", replay.Selection{Types: []string{"delivery"}},
			func(e stored) bool { return strings.HasPrefix(e.event.Type, mailevent.TypePrefix+"delivery.") }},
		{"id", replay.Selection{IDs: []string{events[4].event.ID, events[9].event.ID}},
			func(e stored) bool { return e.event.ID == events[4].event.ID || e.event.ID == events[9].event.ID }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := runToBuffer(t, srv, tt.sel)
			want := selectEvents(events, tt.keep)
			if len(want) == 0 {
				t.Fatal("no event in the test data matches")
			}
			if !slices.Equal(eventIDs(got), ids(want)) {
				t.Errorf("ids = %v, want %v", eventIDs(got), ids(want))
			}
		})
	}
}

func TestRunResumeFromSeq(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 20, mailevent.ModeBinary)
	sel := replay.Selection{Subjects: []string{"mail.deliveries.>"}}
	want := selectEvents(events, func(e stored) bool { return strings.HasPrefix(e.subject, "mail.deliveries.") })

	// The first run stops partway, as an interrupted one would.
	first := sel
	first.ToSeq = events[9].seq
	part1, summary1 := runToBuffer(t, srv, first)
	if summary1.LastSequence == 0 || len(part1) == 0 || len(part1) == len(want) {
		t.Fatalf("first run sent %d of %d events, last sequence %d: want a partial run", len(part1), len(want), summary1.LastSequence)
	}

	second := sel
	second.FromSeq = summary1.LastSequence + 1
	part2, _ := runToBuffer(t, srv, second)

	joined := append(eventIDs(part1), eventIDs(part2)...)
	if !slices.Equal(joined, ids(want)) {
		t.Errorf("ids of both runs = %v, want %v", joined, ids(want))
	}
}

func TestRunEmptySelectionEnds(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 4, mailevent.ModeBinary)

	got, summary := runToBuffer(t, srv, replay.Selection{Subjects: []string{"mail.blocks.>"}})

	if len(got) != 0 || summary.Read != 0 {
		t.Errorf("got %d events from %d messages, want none", len(got), summary.Read)
	}
	if summary.LastSequence != 0 {
		t.Errorf("LastSequence = %d, want 0", summary.LastSequence)
	}
}

func TestRunDryRunCounts(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 12, mailevent.ModeBinary)

	summary, err := replay.Run(natstest.Context(t, 10*time.Second), replay.Config{
		JS: srv.JS, Stream: testStream, DryRun: true, Selection: replay.Selection{Types: []string{"bounce"}},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	want := len(selectEvents(events, func(e stored) bool { return e.event.Type == mailevent.TypeBounce }))
	if summary.Selected != uint64(want) {
		t.Errorf("Selected = %d, want %d", summary.Selected, want)
	}
	if summary.Sent != 0 {
		t.Errorf("Sent = %d, want 0", summary.Sent)
	}
	if !strings.HasPrefix(summary.String(), "dry run: would send") {
		t.Errorf("summary = %q", summary)
	}
}

func TestRunRateCap(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 10, mailevent.ModeBinary)

	start := time.Now()
	summary, err := replay.Run(natstest.Context(t, 10*time.Second), replay.Config{
		JS: srv.JS, Stream: testStream, Rate: 20, Target: replay.NewWriterTarget(&bytes.Buffer{}),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// At 20 events/s, with a burst of 2 (a tenth of the rate), 10 events
	// take at least 8/20 s.
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
		t.Errorf("%d events took %s, want at least 400ms at 20/s", summary.Sent, elapsed)
	}
}

func TestRunInvalidSelection(t *testing.T) {
	t.Parallel()
	since := time.Date(2023, 1, 25, 0, 0, 0, 0, tokyo)
	_, err := replay.Run(context.Background(), replay.Config{
		JS: natstest.Start(t).JS, Stream: testStream, Target: replay.NewWriterTarget(&bytes.Buffer{}),
		Selection: replay.Selection{Since: since, Until: since},
	})
	if !errors.Is(err, replay.ErrInvalidConfig) {
		t.Errorf("err = %v, want ErrInvalidConfig", err)
	}
}

func TestSelectionRejectsUnknownType(t *testing.T) {
	t.Parallel()
	for _, eventType := range []string{"bounces", "delivery.failure", "jp.smtps.cmc.bouncee"} {
		s := replay.Selection{Types: []string{eventType}}
		if err := s.Validate(); !errors.Is(err, replay.ErrInvalidConfig) {
			t.Errorf("--type %s: err = %v, want ErrInvalidConfig", eventType, err)
		}
	}
	for _, eventType := range []string{"bounce", "delivery", "delivery.failed", "jp.smtps.cmc.block"} {
		s := replay.Selection{Types: []string{eventType}}
		if err := s.Validate(); err != nil {
			t.Errorf("--type %s: err = %v, want nil", eventType, err)
		}
	}
}
