package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

func runServe(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, "Usage: mailbridge serve\n\nRuns the webhook ingress. It takes no flags: see 'mailbridge help' for its environment variables.\n")
	}
	if err := flags.Parse(args); err != nil {
		return errUsage
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, flags.Args())
	}

	var cfg serveConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	logger, err := newLogger(cfg.LogConfig, stderr)
	if err != nil {
		return err
	}
	if err := tuneRuntime(logger); err != nil {
		return err
	}
	stopPprof, err := startPprof(logger)
	if err != nil {
		return err
	}
	defer stopPprof()
	return serve(ctx, cfg, logger, nil)
}

// serve runs the ingress until ctx ends. When ready is not nil it receives
// the HTTP listener's address once webhooks are accepted.
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger, ready chan<- net.Addr) error {
	builder, err := newBuilder(cfg)
	if err != nil {
		return err
	}
	mode, err := mailevent.ParseMode(cfg.CloudEventsMode)
	if err != nil {
		return fmt.Errorf("MAILBRIDGE_CLOUDEVENTS_MODE: %w", err)
	}

	// Connect to NATS, or start the embedded server, and set up the stream.
	setup, err := connectNATS(ctx, cfg.NATSConfig, "mailbridge ingress", logger)
	if err != nil {
		return err
	}
	defer setup.close(logger)

	js, err := jetstream.New(setup.conn, jetstream.WithPublishAsyncMaxPending(publishAsyncMaxPending))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	streamCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = stream.Ensure(streamCtx, js, streamSettings(cfg.StreamConfig))
	cancel()
	if err != nil {
		return err
	}
	logger.Info("stream ready", slog.String("stream", cfg.StreamConfig.StreamName),
		slog.String("subjects", builder.Subjects.All()), slog.Int("replicas", cfg.StreamConfig.StreamReplicas))
	publishers, closePublishers, err := connectPublishers(cfg, setup, logger)
	if err != nil {
		return err
	}
	defer closePublishers()

	// Build the HTTP ingress.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	auth := ingress.Auth{
		BasicUser:     cfg.WebhookBasicUser,
		BasicPassword: cfg.WebhookBasicPassword,
		APIKey:        cfg.WebhookAPIKey,
	}
	handler, err := ingress.New(setup.conn, js, ingress.Config{
		StreamName:     cfg.StreamConfig.StreamName,
		Builder:        builder,
		Mode:           mode,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		PublishTimeout: cfg.PublishTimeout,
		Auth:           auth,
		Logger:         logger,
		Registerer:     registry,
		Publishers:     publishers,
	})
	if err != nil {
		return err
	}
	if !auth.Enabled() {
		logger.Warn("webhook endpoint is open: set MAILBRIDGE_WEBHOOK_API_KEY or MAILBRIDGE_WEBHOOK_BASIC_USER and _PASSWORD to require authentication")
	}

	// Start the consumers that run beside the ingress, and wait for them to
	// stop after the HTTP server has.
	env := componentEnv{Conn: setup.conn, JS: js, Logger: logger, Registry: registry, Serve: cfg}
	var waits []func() error
	componentCtx, stopComponents := context.WithCancel(ctx)
	defer stopComponents()
	for _, component := range serveComponents {
		enabled, err := component.enabled(cfg)
		if err != nil {
			return err
		}
		if !enabled {
			continue
		}
		wait, err := component.start(componentCtx, env)
		if err != nil {
			return fmt.Errorf("start %s: %w", component.name, err)
		}
		logger.Info("component started", slog.String("component", component.name))
		waits = append(waits, wait)
	}

	httpErr := runHTTP(ctx, cfg, handler.Routes(registry), logger, ready)
	stopComponents()
	for _, wait := range waits {
		if err := wait(); err != nil && httpErr == nil {
			httpErr = err
		}
	}
	return httpErr
}

// runHTTP serves routes until ctx ends, then finishes the requests in
// flight within the shutdown timeout.
func runHTTP(ctx context.Context, cfg serveConfig, routes http.Handler, logger *slog.Logger, ready chan<- net.Addr) error {
	listener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on MAILBRIDGE_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           routes,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.PublishTimeout + 30*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("http ingress listening", slog.String("http_addr", listener.Addr().String()),
		slog.String("webhook_path", ingress.WebhookPath))
	if ready != nil {
		ready <- listener.Addr()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(listener) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}

	logger.Info("stopping: finishing webhooks in flight", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	logger.Info("http ingress stopped")
	return nil
}
