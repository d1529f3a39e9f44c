package ingress

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// tally counts webhooks between two summary lines.
type tally struct {
	requests   atomic.Int64
	failed     atomic.Int64 // responses with status 4xx or 5xx
	accepted   atomic.Int64
	duplicates atomic.Int64
	rejected   atomic.Int64
	buffered   atomic.Int64
}

func (t *tally) add(status int, result Result) {
	t.requests.Add(1)
	if status >= 400 {
		t.failed.Add(1)
	}
	if result.Accepted != 0 {
		t.accepted.Add(int64(result.Accepted))
	}
	if result.Duplicates != 0 {
		t.duplicates.Add(int64(result.Duplicates))
	}
	if result.Rejected != 0 {
		t.rejected.Add(int64(result.Rejected))
	}
	if result.Buffered != 0 {
		t.buffered.Add(int64(result.Buffered))
	}
}

// LogSummaries logs one Info line with the counts of every interval that
// had webhooks, until ctx ends, and then logs the counts not yet logged.
// A webhook gets a line of its own at Debug, or at Warn and Error when it
// fails. At thousands of webhooks a second, a line each would flood the
// log and use a noticeable share of the ingress's CPU.
func (h *Handler) LogSummaries(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	since := time.Now()
	for {
		select {
		case <-ctx.Done():
			h.logSummary(since)
			return
		case <-ticker.C:
			if h.logSummary(since) {
				since = time.Now()
			}
		}
	}
}

// logSummary logs and resets the counts gathered since the given time,
// when there were any webhooks, and reports whether it logged a line.
func (h *Handler) logSummary(since time.Time) bool {
	requests := h.tally.requests.Swap(0)
	if requests == 0 {
		return false
	}
	h.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "webhooks handled",
		slog.Int64("requests", requests),
		slog.Int64("failed", h.tally.failed.Swap(0)),
		slog.Int64("accepted", h.tally.accepted.Swap(0)),
		slog.Int64("duplicates", h.tally.duplicates.Swap(0)),
		slog.Int64("rejected", h.tally.rejected.Swap(0)),
		slog.Int64("buffered", h.tally.buffered.Swap(0)),
		slog.Duration("period", time.Since(since).Round(time.Second)),
	)
	return true
}
