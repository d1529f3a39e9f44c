package main

import (
	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// newBuilder returns the event builder for cfg. The Lambda function builds
// its own with the same app.NewBuilder.
func newBuilder(cfg serveConfig) (*mailevent.Builder, error) {
	return app.NewBuilder(cfg.IngressConfig, cfg.StreamConfig)
}

// streamSettings returns the stream configuration.
func streamSettings(c StreamConfig) stream.Config { return c.StreamSettings() }
