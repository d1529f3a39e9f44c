// Package function serves the mailbridge webhook ingress as an AWS Lambda
// function behind a function URL. It builds the handler with
// cmd/internal/app, as "mailbridge serve" does, and adapts it with the
// aws-lambda-go lambdaurl package, so a webhook is answered the same way
// by either. The function publishes to an external NATS cluster: it has
// no embedded server, because a Lambda instance keeps no disk and may be
// frozen between requests.
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdaurl"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
)

// Config is the function's configuration, read from the same MAILBRIDGE_
// variables as "mailbridge serve" except those of the HTTP listener and
// the embedded server.
type Config struct {
	app.IngressConfig
	app.NATSConfig
	app.StreamConfig
	app.LogConfig
}

// Handler is the function's request handler, with what it holds open.
type Handler struct {
	// Invoke answers one function URL request. Pass it to lambda.Start.
	Invoke func(context.Context, *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error)

	// HTTP is the handler that Invoke adapts: the ingress routes.
	HTTP http.Handler

	conn *nats.Conn
}

// New connects to NATS, creates or updates the stream and builds the
// ingress handler. tracerProvider may be nil for no tracing.
func New(ctx context.Context, cfg Config, logger *slog.Logger, tracerProvider trace.TracerProvider) (*Handler, error) {
	if cfg.URL == "" {
		return nil, errors.New("MAILBRIDGE_NATS_URL is missing: the Lambda function publishes to an external NATS cluster, so set it to the cluster's URLs")
	}
	// Check the ranges before connecting; NewIngress checks them again.
	if err := cfg.IngressConfig.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.StreamConfig.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.NATSConfig.Options("mailbridge lambda", logger)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.ClientURL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.URL, err)
	}
	logger.Info("connected to nats", slog.String("url", nc.ConnectedUrlRedacted()))

	js, err := app.PrepareStream(ctx, nc, cfg.StreamConfig, cfg.PublishTimeout, logger)
	if err != nil {
		nc.Close()
		return nil, err
	}
	ingressHandler, err := app.NewIngress(cfg.IngressConfig, cfg.StreamConfig, app.IngressDeps{
		Conn:   nc,
		JS:     js,
		Logger: logger,
		// A function instance may be frozen between invocations, so
		// it logs each webhook instead of a summary a minute.
		LogEveryWebhook: true,
		TracerProvider:  tracerProvider,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}

	// NOTE: /metrics is not served: a function instance lives too briefly
	// and too many run at once for a Prometheus scrape to mean anything.
	routes := withLambdaRequestID(ingressHandler.Routes(nil))
	routes = withTraceFlush(routes, tracerProvider, logger)
	return &Handler{Invoke: lambdaurl.Wrap(routes), HTTP: routes, conn: nc}, nil
}

// Close closes the NATS connection.
func (h *Handler) Close() {
	h.conn.Close()
}

// withLambdaRequestID sets X-Request-Id to the Lambda request id when the
// request has none, so that the ingress logs and keeps that id.
func withLambdaRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Request-Id") == "" {
			if req, ok := lambdaurl.RequestFromContext(r.Context()); ok && req.RequestContext.RequestID != "" {
				r.Header.Set("X-Request-Id", req.RequestContext.RequestID)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// forceFlusher is the part of the SDK's tracer provider that sends
// buffered spans at once.
type forceFlusher interface {
	ForceFlush(ctx context.Context) error
}

// withTraceFlush sends the request's spans before the invocation ends,
// because Lambda may freeze the instance right after it, with spans still
// in the batch processor's buffer.
func withTraceFlush(next http.Handler, provider trace.TracerProvider, logger *slog.Logger) http.Handler {
	flusher, ok := provider.(forceFlusher)
	if !ok {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if err := flusher.ForceFlush(r.Context()); err != nil {
			logger.Warn("trace flush failed", slog.Any("error", err))
		}
	})
}
