package app

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// NewLogger builds the process logger from its configuration.
func NewLogger(cfg LogConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_LOG_LEVEL %q is invalid: use debug, info, warn or error", cfg.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.Format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("MAILBRIDGE_LOG_FORMAT %q is invalid: use text or json", cfg.Format)
}
