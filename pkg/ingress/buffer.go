package ingress

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
)

// Buffer keeps messages that JetStream could not store, to forward them
// later with their original Nats-Msg-Id.
type Buffer interface {
	// Store keeps every message on local disk, or returns an error when it
	// cannot keep all of them. Messages may carry the Nats-Expected-Stream
	// header of the failed publish, which a later forward should drop.
	Store(ctx context.Context, msgs []*nats.Msg) error
}

// buffer keeps a batch that JetStream did not store in the Buffer and
// responds 200, or 503 when the Buffer cannot keep it either. publishErr
// is why JetStream did not store it.
func (h *Handler) buffer(w http.ResponseWriter, r *http.Request, req *request, batch []pending, rejected int, publishErr error) (int, Result) {
	// The request's context may have ended with the publish timeout, so
	// the buffer gets a timeout of its own. It is at least 5s because
	// every buffered message waits for a disk sync, and those queue up
	// behind the forwarder's while it drains; a 503 here would defeat the
	// buffer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), max(h.cfg.PublishTimeout, 5*time.Second))
	defer cancel()
	msgs := make([]*nats.Msg, len(batch))
	for i := range batch {
		msgs[i] = batch[i].msg
	}
	if err := h.cfg.Buffer.Store(ctx, msgs); err != nil {
		h.logLimited(r.Context(), slog.LevelError, "publish and buffer failed", "publish and buffer failed",
			slog.String("request_id", req.id), slog.Int("messages", len(batch)),
			slog.Any("error", publishErr), slog.Any("buffer_error", err))
		writeUnavailable(w, h.cfg.RetryAfter,
			"the events could not be stored in JetStream ("+shortError(publishErr)+") nor in the local buffer: retry later; events already stored are not stored twice", nil)
		return http.StatusServiceUnavailable, Result{}
	}
	h.logLimited(r.Context(), slog.LevelWarn, "batch buffered", "batch buffered",
		slog.String("request_id", req.id), slog.Int("messages", len(batch)), slog.Any("error", publishErr))

	result := Result{Rejected: rejected, Buffered: len(batch) - rejected}
	for _, p := range batch {
		if p.eventType != "" {
			h.metrics.events.WithLabelValues(p.eventType, "buffered").Inc()
		}
	}
	writeJSON(w, http.StatusOK, result)
	return http.StatusOK, result
}
