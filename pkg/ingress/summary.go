package ingress

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// tally counts webhooks between two summary lines. One lock keeps each
// line's counts from a single set of webhooks.
type tally struct {
	mu     sync.Mutex
	counts tallyCounts
}

// tallyCounts are the counts of one summary line.
type tallyCounts struct {
	requests   int64
	failed     int64 // responses with status 4xx or 5xx
	accepted   int64
	duplicates int64
	rejected   int64
	buffered   int64
}

func (t *tally) add(status int, result Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts.requests++
	if status >= 400 {
		t.counts.failed++
	}
	t.counts.accepted += int64(result.Accepted)
	t.counts.duplicates += int64(result.Duplicates)
	t.counts.rejected += int64(result.Rejected)
	t.counts.buffered += int64(result.Buffered)
}

// take returns the counts and starts again from zero.
func (t *tally) take() tallyCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	counts := t.counts
	t.counts = tallyCounts{}
	return counts
}

// defaultSummaryInterval is the interval of LogSummaries when it is given
// none.
const defaultSummaryInterval = time.Minute

// LogSummaries logs one Info line with the counts of every interval that
// had webhooks, until ctx ends, and then logs the counts not yet logged.
// An interval of zero or less means one minute. A webhook gets a line of
// its own at Debug, or at Warn and Error when it fails. At thousands of
// webhooks a second, a line each would flood the log and use a noticeable
// share of the ingress's CPU.
func (h *Handler) LogSummaries(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = defaultSummaryInterval
	}
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
	counts := h.tally.take()
	if counts.requests == 0 {
		return false
	}
	// slog handlers drop the zero Attr, so only a summary after left-out
	// failure lines counts them.
	var omittedAttr slog.Attr
	if omitted := h.lines.takeOmitted(); omitted > 0 {
		omittedAttr = slog.Int64("omitted_lines", omitted)
	}
	h.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "webhooks handled",
		slog.Int64("requests", counts.requests),
		slog.Int64("failed", counts.failed),
		slog.Int64("accepted", counts.accepted),
		slog.Int64("duplicates", counts.duplicates),
		slog.Int64("rejected", counts.rejected),
		slog.Int64("buffered", counts.buffered),
		slog.Duration("period", time.Since(since).Round(time.Second)),
		omittedAttr,
	)
	return true
}
