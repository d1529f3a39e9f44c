package ingress

import (
	"context"
	"errors"
	"log/slog"
)

// storageError is a failure of Config.StorageCheck: JetStream cannot store
// events, whatever the request sends.
type storageError struct{ err error }

func (e *storageError) Error() string { return e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

// checkStorage runs Config.StorageCheck and logs a change of its result.
// It returns a *storageError, or nil when storage works or no check is
// configured.
func (h *Handler) checkStorage(ctx context.Context) error {
	if h.cfg.StorageCheck == nil {
		return nil
	}
	err := h.cfg.StorageCheck()
	wasFailing := h.storageFailing.Swap(err != nil)
	switch {
	case err != nil && !wasFailing:
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "jetstream cannot store events, so webhooks and /readyz get 503 until it can",
			slog.Any("error", err))
	case err == nil && wasFailing:
		h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "jetstream stores events again")
	}
	if err != nil {
		return &storageError{err: err}
	}
	return nil
}

// storageReason returns the message of the storage error in err's chain,
// or "" when there is none.
func storageReason(err error) string {
	var storageErr *storageError
	if errors.As(err, &storageErr) {
		return storageErr.Error()
	}
	return ""
}
