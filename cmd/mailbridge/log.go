package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
)

// newLogger builds the process logger from its configuration.
func newLogger(cfg LogConfig, w io.Writer) (*slog.Logger, error) { return app.NewLogger(cfg, w) }

// natsServerLogger passes the embedded NATS server's log lines to slog.
// The server's notices are Debug, because it prints a banner at start.
type natsServerLogger struct {
	logger *slog.Logger
}

func (l natsServerLogger) log(level slog.Level, format string, args []any) {
	l.logger.Log(nil, level, "nats server log", slog.String("server_message", fmt.Sprintf(format, args...)))
}

func (l natsServerLogger) Noticef(format string, v ...any) { l.log(slog.LevelDebug, format, v) }
func (l natsServerLogger) Warnf(format string, v ...any)   { l.log(slog.LevelWarn, format, v) }
func (l natsServerLogger) Fatalf(format string, v ...any)  { l.log(slog.LevelError, format, v) }
func (l natsServerLogger) Errorf(format string, v ...any)  { l.log(slog.LevelError, format, v) }
func (l natsServerLogger) Debugf(format string, v ...any)  { l.log(slog.LevelDebug, format, v) }
func (l natsServerLogger) Tracef(format string, v ...any)  { l.log(slog.LevelDebug-4, format, v) }
