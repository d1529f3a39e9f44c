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
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/pkg/ingress"
)

func runServe(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, "Usage: mailbridge serve\n\nRuns the webhook ingress. It takes no flags: see 'mailbridge help' for its environment variables.\n")
	}
	if err := parseFlags(flags, args); err != nil {
		return err
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
	warnUnknownVariables(logger, os.Environ())
	if err := tuneRuntime(logger, cfg.NATSConfig.URL == ""); err != nil {
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
	// Check the configuration before anything starts.
	if err := cfg.validate(); err != nil {
		return err
	}
	if _, err := newBuilder(cfg); err != nil {
		return err
	}
	if err := checkListenAddr("MAILBRIDGE_HTTP_ADDR", cfg.HTTPAddr); err != nil {
		return err
	}
	if cfg.NATSConfig.URL == "" && cfg.StreamReplicas > 1 {
		return fmt.Errorf("MAILBRIDGE_STREAM_REPLICAS=%d needs a NATS cluster: use 1 with the embedded server, or set MAILBRIDGE_NATS_URL", cfg.StreamReplicas)
	}
	if (cfg.WebhookBasicUser == "") != (cfg.WebhookBasicPassword == "") {
		return errors.New("MAILBRIDGE_WEBHOOK_BASIC_USER and MAILBRIDGE_WEBHOOK_BASIC_PASSWORD must be set together: set both to the ID and password entered in CMC, or neither")
	}
	// Take the webhook port first, so that a port in use fails before the
	// NATS server and the consumers start.
	listener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on MAILBRIDGE_HTTP_ADDR %s: %w: stop the program that uses it, or set MAILBRIDGE_HTTP_ADDR to a free address", cfg.HTTPAddr, err)
	}
	defer listener.Close()
	tracingCfg, err := app.LoadTracingConfig()
	if err != nil {
		return err
	}
	tracerProvider, stopTracing, err := app.StartTracing(ctx, tracingCfg, "mailbridge", version, logger)
	if err != nil {
		return err
	}
	defer flushTraces(stopTracing, logger)

	buffered, err := bufferEnabled(cfg)
	if err != nil {
		return err
	}
	// In buffer mode the ingress must start during an outage too.
	cfg.NATSConfig.RetryConnect = buffered

	// Connect to NATS, or start the embedded server, and set up the stream.
	setup, err := connectNATS(ctx, cfg.NATSConfig, "mailbridge ingress", logger)
	if err != nil {
		return err
	}
	defer setup.close(logger)

	js, err := app.NewJetStream(setup.conn, cfg.PublishTimeout)
	if err != nil {
		return err
	}
	// A buffering ingress that starts during an outage does not wait for
	// the stream.
	err = nats.ErrDisconnected
	if !buffered || setup.conn.IsConnected() {
		err = app.EnsureStream(ctx, js, cfg.StreamConfig, logger)
	}
	switch {
	case err != nil && !buffered:
		return err
	case err != nil:
		logger.Warn("stream not ready; buffering webhooks until it is", slog.String("stream", cfg.StreamConfig.StreamName), slog.Any("error", err))
		go ensureStreamLater(ctx, js, cfg.StreamConfig, logger)
	}
	var buf ingress.Buffer
	if buffered {
		var stopBuffer func()
		buf, stopBuffer, err = startBuffer(ctx, cfg, setup, js, logger)
		if err != nil {
			return err
		}
		defer stopBuffer()
	}
	publishers, closePublishers, err := connectPublishers(cfg, setup, logger)
	if err != nil {
		return err
	}
	defer closePublishers()

	// Build the HTTP ingress and the metrics of the NATS side.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := registerNATSMetrics(registry, setup.conn, js, cfg.StreamConfig.StreamName, logger); err != nil {
		return err
	}
	handler, err := app.NewIngress(cfg.IngressConfig, cfg.StreamConfig, app.IngressDeps{
		Conn:           setup.conn,
		JS:             js,
		Buffer:         buf,
		Logger:         logger,
		Registerer:     registry,
		TracerProvider: tracerProvider,
		Publishers:     publishers,
		StorageCheck:   setup.storageCheck(cfg.NATSConfig, cfg.StreamConfig.StreamName),
	})
	if err != nil {
		return err
	}

	// Start the consumers that run beside the ingress, and wait for them to
	// stop after the HTTP server has.
	env := componentEnv{Conn: setup.conn, JS: js, Logger: logger, Registry: registry, TracerProvider: tracerProvider, Serve: cfg}
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

	// One Info line a minute sums up the webhooks; each has its own line
	// at Debug. The last line is written after the HTTP server stops.
	summaryCtx, stopSummaries := context.WithCancel(context.Background())
	summariesDone := make(chan struct{})
	go func() {
		defer close(summariesDone)
		handler.LogSummaries(summaryCtx, summaryInterval)
	}()

	httpErr := runHTTP(ctx, cfg, listener, handler.Routes(registry), logger, ready)
	stopSummaries()
	<-summariesDone
	stopComponents()
	for _, wait := range waits {
		if err := wait(); err != nil && httpErr == nil {
			httpErr = err
		}
	}
	return httpErr
}

// summaryInterval is how often serve logs the count of webhooks handled.
const summaryInterval = time.Minute

// runHTTP serves routes on listener until ctx ends, then finishes the
// requests in flight within the shutdown timeout.
func runHTTP(ctx context.Context, cfg serveConfig, listener net.Listener, routes http.Handler, logger *slog.Logger, ready chan<- net.Addr) error {
	srv := &http.Server{
		Handler:           routes,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
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
