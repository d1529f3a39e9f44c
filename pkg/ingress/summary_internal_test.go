package ingress

import (
	"bytes"
	"log/slog"
	"strings"
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
