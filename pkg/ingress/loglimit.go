package ingress

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logLimitInterval is how often each failure message may be logged.
const logLimitInterval = time.Second

// logLimiter lets one line of each failure message through per interval,
// so that an outage at thousands of webhooks a second logs a few lines a
// second, not thousands. It counts the lines it leaves out.
type logLimiter struct {
	mu    sync.Mutex
	lines map[string]*limitedLine
}

// limitedLine is the state of one message.
type limitedLine struct {
	next    time.Time
	omitted int64
}

// allow reports whether a line with message may be logged at now, and how
// many lines with it were left out since the last one logged.
func (l *logLimiter) allow(message string, now time.Time) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines = map[string]*limitedLine{}
	}
	line := l.lines[message]
	if line == nil {
		line = &limitedLine{}
		l.lines[message] = line
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

// logFailure logs a Warn or Error line about one webhook. Unless Debug is
// on, each message is logged at most once a second, and the line carries how
// many like it were left out before it.
func (h *Handler) logFailure(ctx context.Context, level slog.Level, message string, attrs ...slog.Attr) {
	if !h.cfg.Logger.Enabled(ctx, level) {
		return
	}
	if !h.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		ok, omitted := h.lines.allow(message, time.Now())
		if !ok {
			return
		}
		if omitted > 0 {
			attrs = append(attrs, slog.Int64("omitted_lines", omitted))
		}
	}
	h.cfg.Logger.LogAttrs(ctx, level, message, attrs...)
}
