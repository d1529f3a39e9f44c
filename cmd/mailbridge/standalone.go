package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// standaloneConfig is the configuration that a consumer run on its own,
// such as `mailbridge alerter`, shares with serve.
type standaloneConfig struct {
	// Name is the command, such as "alerter": the NATS connection is named
	// "mailbridge <Name>" and the spans' service "mailbridge-<Name>".
	Name            string
	CloudEventsMode string
	NATS            NATSConfig
	Stream          StreamConfig
	Log             LogConfig
	// Validate checks the command's own settings before connecting. Nil
	// checks none.
	Validate func() error
}

// standalone is a consumer command's logger, content mode, JetStream
// connection and telemetry.
type standalone struct {
	logger *slog.Logger
	mode   mailevent.Mode
	nc     *nats.Conn
	js     jetstream.JetStream
	tel    *standaloneTelemetry
}

// startStandalone checks cfg, connects to NATS and starts the telemetry.
// The caller closes the result.
func startStandalone(ctx context.Context, cfg standaloneConfig, stderr io.Writer) (*standalone, error) {
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return nil, err
	}
	warnUnknownVariables(logger, os.Environ())
	mode, err := mailevent.ParseMode(cfg.CloudEventsMode)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_CLOUDEVENTS_MODE: %w", err)
	}
	if err := mailevent.ValidatePrefix(cfg.Stream.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_SUBJECT_PREFIX: %w", err)
	}
	if err := cfg.Stream.Validate(); err != nil {
		return nil, err
	}
	if cfg.Validate != nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}

	opts, err := cfg.NATS.options("mailbridge "+cfg.Name, logger)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.NATS.clientURL(), opts...)
	if err != nil {
		return nil, connectError(cfg.NATS, err)
	}
	logger.Info("connected to nats", slog.String("url", nc.ConnectedUrlRedacted()))
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	tel, err := startStandaloneTelemetry(ctx, "mailbridge-"+cfg.Name, nc, js, cfg.Stream.StreamName, logger)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &standalone{logger: logger, mode: mode, nc: nc, js: js, tel: tel}, nil
}

// close stops the telemetry and closes the NATS connection.
func (s *standalone) close() {
	s.tel.stop()
	s.nc.Close()
}
