package replay_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
)

func TestSummaryString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		summary replay.Summary
		want    []string
		notWant []string
	}{
		{
			name:    "dry run of one event",
			summary: replay.Summary{DryRun: true, Read: 1, Selected: 1},
			want:    []string{"would send 1 event in", "read 1 message:"},
		},
		{
			name:    "complete",
			summary: replay.Summary{Read: 30, Selected: 20, Sent: 20, Filtered: 8, NotCloudEvents: 2, LastSequence: 30},
			want:    []string{"sent 20 events", "read 30 messages", "resume with --from-seq 31"},
		},
		{
			name:    "stopped before the first delivery",
			summary: replay.Summary{Read: 8, Selected: 8, Sent: 8, ResumeSeq: 1},
			want:    []string{"stopped after queuing 8 events for the target", "first selected event was not delivered", "resume with --from-seq 1"},
			notWant: []string{"sent 8"},
		},
		{
			name:    "stopped after some deliveries",
			summary: replay.Summary{Read: 30, Selected: 30, Sent: 30, LastSequence: 2, ResumeSeq: 3},
			want:    []string{"every event up to sequence 2 was delivered", "resume with --from-seq 3"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			line := c.summary.String()
			for _, part := range c.want {
				if !strings.Contains(line, part) {
					t.Errorf("summary %q does not contain %q", line, part)
				}
			}
			for _, part := range c.notWant {
				if strings.Contains(line, part) {
					t.Errorf("summary %q contains %q", line, part)
				}
			}
		})
	}
}

// TestHTTPTargetResumesAtLowestFailure stops a concurrent replay on a 4xx
// while an earlier event is still in flight, which is then never
// delivered: the resume point is that earlier event, not the rejected one.
func TestHTTPTargetResumesAtLowestFailure(t *testing.T) {
	t.Parallel()
	srv, events := setupStream(t, 12, mailevent.ModeBinary)
	slow, rejected := events[1].event.ID, events[8].event.ID
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("ce-id") {
		case rejected:
			w.WriteHeader(http.StatusBadRequest)
		case slow:
			// Held until the replay stops and cancels the request. The
			// server notices a closed connection once the body is read.
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(endpoint.Close)

	summary, err := runHTTP(t, srv, replay.HTTPConfig{URL: endpoint.URL, Concurrency: 4, MaxRetries: -1}, replay.Selection{})

	var targetErr *replay.TargetError
	if !errors.As(err, &targetErr) || targetErr.Sequence != events[8].seq {
		t.Fatalf("err = %v, want the rejection of stream sequence %d", err, events[8].seq)
	}
	// The event before the slow one may still be in flight too, so the
	// resume point is the slow event's sequence or an earlier one.
	if summary.ResumeSeq == 0 || summary.ResumeSeq > events[1].seq {
		t.Errorf("ResumeSeq = %d, want 1 to %d, at or before the event in flight", summary.ResumeSeq, events[1].seq)
	}
	if summary.ResumeSeq != summary.LastSequence+1 {
		t.Errorf("ResumeSeq = %d, want the one after LastSequence %d", summary.ResumeSeq, summary.LastSequence)
	}
	if want := fmt.Sprintf("resume with --from-seq %d", summary.ResumeSeq); !strings.Contains(summary.String(), want) {
		t.Errorf("summary %q does not contain %q", summary, want)
	}
}

func TestRunProgressMatchesSummary(t *testing.T) {
	t.Parallel()
	srv, _ := setupStream(t, 12, mailevent.ModeBinary)
	var progress, out bytes.Buffer

	summary, err := replay.Run(natstest.Context(t, 20*time.Second), replay.Config{
		JS: srv.JS, Stream: testStream, Selection: replay.Selection{Types: []string{"bounce"}},
		Target: replay.NewWriterTarget(&out), Progress: &progress,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	lines := strings.Split(strings.TrimSpace(progress.String()), "\r")
	last := lines[len(lines)-1]
	if want := fmt.Sprintf("%d/%d messages read", summary.Read, summary.Read); !strings.Contains(last, want) {
		t.Errorf("progress %q does not contain %q", last, want)
	}
	if want := fmt.Sprintf("%d events sent", summary.Sent); !strings.Contains(last, want) {
		t.Errorf("progress %q does not contain %q", last, want)
	}
	if summary.Sent == summary.Read {
		t.Errorf("every message was sent: the selection must leave some out for this test")
	}
}
