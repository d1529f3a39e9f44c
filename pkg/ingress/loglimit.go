package ingress

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logLimitInterval is how often each kind of failure line may be logged.
const logLimitInterval = time.Second

// logLimiter lets one line of each kind of failure through per interval,
// so that an outage at thousands of webhooks a second logs a few lines a
// second, not thousands. It counts the lines it leaves out.
type logLimiter struct {
	mu    sync.Mutex
	lines map[string]*limitedLine
}

// limitedLine is the state of one kind of line.
type limitedLine struct {
	next    time.Time
	omitted int64
}

// allow reports whether a line with key may be logged at now, and how
// many lines with it were left out since the last one logged.
func (l *logLimiter) allow(key string, now time.Time) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines = map[string]*limitedLine{}
	}
	line := l.lines[key]
	if line == nil {
		line = &limitedLine{}
		l.lines[key] = line
	}
	if now.Before(line.next) {
		line.omitted++
		return false, 0
	}
	omitted := line.omitted
	line.next, line.omitted = now.Add(logLimitInterval), 0
	return true, omitted
}

// takeOmitted returns the lines left out and not yet reported, and resets
// their counts.
func (l *logLimiter) takeOmitted() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var total int64
	for _, line := range l.lines {
		total += line.omitted
		line.omitted = 0
	}
	return total
}

// logLimited logs a line about one webhook. A line at Warn or above is
// logged at most once a second for each key, unless Debug is on or every
// webhook is logged, and then carries how many lines with its key were
// left out before it. The key is the message, with the status added for
// a message that every status shares, so that a flood of one failure
// does not hide another.
func (h *Handler) logLimited(ctx context.Context, level slog.Level, key, message string, attrs ...slog.Attr) {
	if !h.cfg.Logger.Enabled(ctx, level) {
		return
	}
	limited := level >= slog.LevelWarn && !h.cfg.LogEveryWebhook && !h.cfg.Logger.Enabled(ctx, slog.LevelDebug)
	if limited {
		ok, omitted := h.lines.allow(key, time.Now())
		if !ok {
			return
		}
		if omitted > 0 {
			attrs = append(attrs, slog.Int64("omitted_lines", omitted))
		}
	}
	h.cfg.Logger.LogAttrs(ctx, level, message, attrs...)
}
