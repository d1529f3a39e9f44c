package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// componentEnv is what serve hands to a component it runs beside the
// ingress.
type componentEnv struct {
	Conn           *nats.Conn
	JS             jetstream.JetStream
	Logger         *slog.Logger
	Registry       prometheus.Registerer
	TracerProvider trace.TracerProvider
	Serve          serveConfig
}

// telemetry returns where the component sends its metrics and spans.
func (e componentEnv) telemetry() telemetry {
	return telemetry{Registry: e.Registry, TracerProvider: e.TracerProvider}
}

// serveComponent is a consumer that serve runs in the same process, such as
// the suppression list or alerting. Each registers itself from an init
// function in its own file.
type serveComponent struct {
	name string

	// enabled reports whether serve runs the component with this
	// configuration.
	enabled func(cfg serveConfig) (bool, error)

	// start starts the component. It returns a function that blocks until
	// the component has stopped after ctx ended, returning its error.
	start func(ctx context.Context, env componentEnv) (wait func() error, err error)
}

// serveComponents are the components registered by init functions.
var serveComponents []serveComponent

// helpSection is one block of environment variables in 'mailbridge help'.
type helpSection struct {
	title  string
	config any // pointer to an envconfig struct
}

// helpSections are the variable blocks after serve's own; components
// register theirs from init functions.
var helpSections []helpSection
