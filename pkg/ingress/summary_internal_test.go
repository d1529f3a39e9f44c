package ingress

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSummarySkipsQuietPeriods(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := &Handler{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}}

	if h.logSummary(time.Now()) {
		t.Fatalf("summary without webhooks reported a line: %s", logs.String())
	}
	if logs.Len() != 0 {
		t.Fatalf("summary without webhooks logged: %s", logs.String())
	}

	h.tally.add(200, Result{Accepted: 3, Duplicates: 1})
	h.tally.add(503, Result{})
	if !h.logSummary(time.Now()) {
		t.Fatal("summary after two webhooks logged nothing")
	}
	want := "requests=2 failed=1 accepted=3 duplicates=1 rejected=0 buffered=0"
	if !strings.Contains(logs.String(), want) {
		t.Errorf("summary = %q, want it to contain %q", logs.String(), want)
	}

	// The counts start again from zero.
	logs.Reset()
	if h.logSummary(time.Now()) || logs.Len() != 0 {
		t.Errorf("second summary without new webhooks logged: %s", logs.String())
	}
}

func TestSummaryCountsStayTogether(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := &Handler{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}}

	// Every webhook fails with one accepted event, so every line must
	// count as many failures and accepted events as requests.
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5000 {
				h.tally.add(500, Result{Accepted: 1})
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	var lines, total int64
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		counts := h.tally.take()
		if counts.requests != counts.failed || counts.requests != counts.accepted {
			t.Fatalf("one summary counts %d requests, %d failed, %d accepted; want all equal", counts.requests, counts.failed, counts.accepted)
		}
		lines++
		total += counts.requests
	}
	if total != 20000 {
		t.Errorf("summaries count %d requests in %d takes, want 20000", total, lines)
	}
}

func TestLogLimiterOneLinePerInterval(t *testing.T) {
	t.Parallel()
	var l logLimiter
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

	if ok, omitted := l.allow("publish failed", start); !ok || omitted != 0 {
		t.Fatalf("first line: allow = %v, %d; want true, 0", ok, omitted)
	}
	for i := range 3 {
		if ok, _ := l.allow("publish failed", start.Add(time.Duration(i+1)*100*time.Millisecond)); ok {
			t.Fatalf("line %d within the interval was let through", i+2)
		}
	}
	if ok, _ := l.allow("webhook handled", start.Add(100*time.Millisecond)); !ok {
		t.Error("another message was held back by the first one's interval")
	}
	ok, omitted := l.allow("publish failed", start.Add(logLimitInterval))
	if !ok || omitted != 3 {
		t.Errorf("line after the interval: allow = %v, %d; want true, 3", ok, omitted)
	}

	l.allow("publish failed", start.Add(logLimitInterval+time.Millisecond))
	if n := l.takeOmitted(); n != 1 {
		t.Errorf("takeOmitted = %d, want 1", n)
	}
	if n := l.takeOmitted(); n != 0 {
		t.Errorf("second takeOmitted = %d, want 0", n)
	}
}
