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
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
	"github.com/mailbridge/mailbridge/pkg/suppression"
)

// SuppressorSettings is the configuration of the suppression list, read by
// "mailbridge suppressor", by serve when it runs the list, and by the
// "mailbridge suppressions" client commands. It is exported because
// envconfig skips the fields of an unexported embedded struct.
type SuppressorSettings struct {
	Enabled    string `envconfig:"SUPPRESSOR" default:"auto" desc:"whether serve runs the suppression list: auto (only with the embedded NATS server; with MAILBRIDGE_NATS_URL run 'mailbridge suppressor' instead), true or false"`
	AdminAddr  string `envconfig:"ADMIN_ADDR" default:"127.0.0.1:8081" desc:"listen address of the suppression admin API (host:port); an address other than loopback needs ADMIN_TOKEN"`
	AdminToken string `envconfig:"ADMIN_TOKEN" desc:"bearer token that the admin API requires and the suppressions commands send"`
	AdminURL   string `envconfig:"ADMIN_URL" desc:"admin API URL that the suppressions commands call; empty means http://ADMIN_ADDR"`

	Bucket            string        `envconfig:"SUPPRESSION_BUCKET" default:"suppressions" desc:"JetStream key-value bucket of the list, with STREAM_REPLICAS replicas"`
	Durable           string        `envconfig:"SUPPRESSION_DURABLE" default:"suppressor" desc:"durable consumer name; every suppressor process with this name shares the events"`
	SoftThreshold     int           `envconfig:"SUPPRESSION_SOFT_THRESHOLD" default:"3" desc:"soft failures of different messages within SUPPRESSION_SOFT_WINDOW that suppress an address"`
	SoftWindow        time.Duration `envconfig:"SUPPRESSION_SOFT_WINDOW" default:"168h" desc:"how far back soft failures count"`
	DeferralThreshold int           `envconfig:"SUPPRESSION_DEFERRAL_THRESHOLD" default:"0" desc:"deferred messages within SUPPRESSION_SOFT_WINDOW that suppress an address, counted apart from failures; 0 never counts deferrals"`
	SenderReasons     []string      `envconfig:"SUPPRESSION_SENDER_REASONS" desc:"comma-separated bounce reasons that blame the sender and never suppress the recipient; empty means authfailure, badreputation, blocked, contenterror, failedstarttls, mesgtoobig, norelaying, notcompliantrfc, policyviolation, rejected, requireptr, securityerror, spamdetected, speeding, toomanyconn, virusdetected"`
	AckWait           time.Duration `envconfig:"SUPPRESSION_ACK_WAIT" default:"30s" desc:"how long JetStream waits for the suppressor to ack an event before delivering it again"`
	MaxDeliver        int           `envconfig:"SUPPRESSION_MAX_DELIVER" default:"5" desc:"deliveries of an event before it goes to the dead-letter subject"`
	MetricsAddr       string        `envconfig:"SUPPRESSOR_METRICS_ADDR" desc:"listen address of /metrics for 'mailbridge suppressor' (serve exports the metrics on its own /metrics); empty for none"`
}

// suppressorConfig is the configuration of "mailbridge suppressor".
type suppressorConfig struct {
	CloudEventsMode string `envconfig:"CLOUDEVENTS_MODE" default:"binary" desc:"CloudEvents content mode of the change events: binary or structured"`

	SuppressorSettings
	NATSConfig
	StreamConfig
	LogConfig
}

func init() {
	serveComponents = append(serveComponents, serveComponent{
		name:    "suppressor",
		enabled: suppressorEnabled,
		start: func(ctx context.Context, env componentEnv) (func() error, error) {
			var settings SuppressorSettings
			if err := loadConfig(&settings); err != nil {
				return nil, err
			}
			mode, err := mailevent.ParseMode(env.Serve.CloudEventsMode)
			if err != nil {
				return nil, fmt.Errorf("MAILBRIDGE_CLOUDEVENTS_MODE: %w", err)
			}
			run, err := startSuppressor(ctx, env.JS, settings, env.Serve.StreamConfig, mode, env.Logger, env.telemetry())
			if err != nil {
				return nil, err
			}
			return run.wait, nil
		},
	})
	helpSections = append(helpSections, helpSection{
		title:  "Suppression list (mailbridge suppressor, serve, and the suppressions commands)",
		config: &SuppressorSettings{},
	})
}

// suppressorEnabled reads MAILBRIDGE_SUPPRESSOR for serve.
func suppressorEnabled(cfg serveConfig) (bool, error) {
	var settings SuppressorSettings
	if err := loadConfig(&settings); err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(settings.Enabled)) {
	case "auto", "":
		return cfg.NATSConfig.URL == "", nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("MAILBRIDGE_SUPPRESSOR %q is invalid: use auto, true or false", settings.Enabled)
}

func runSuppressor(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	flags := flag.NewFlagSet("suppressor", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, `Usage: mailbridge suppressor

Runs the suppression list on its own: the JetStream consumer that keeps the
list, and the admin API on MAILBRIDGE_ADMIN_ADDR. It connects to
MAILBRIDGE_NATS_URL, or to the embedded server of a 'mailbridge serve' at
MAILBRIDGE_EMBEDDED_NATS_ADDR. Run several for a shared workload. It takes
no flags: see 'mailbridge help' for its environment variables.
`)
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: suppressor takes no arguments, got %q", errUsage, flags.Args())
	}

	var cfg suppressorConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	standalone, err := startStandalone(ctx, standaloneConfig{
		Name: "suppressor", CloudEventsMode: cfg.CloudEventsMode,
		NATS: cfg.NATSConfig, Stream: cfg.StreamConfig, Log: cfg.LogConfig,
	}, stderr)
	if err != nil {
		return err
	}
	defer standalone.close()
	logger, tel := standalone.logger, standalone.tel

	if err := tel.serve(cfg.MetricsAddr, "MAILBRIDGE_SUPPRESSOR_METRICS_ADDR", logger); err != nil {
		return err
	}
	run, err := startSuppressor(ctx, standalone.js, cfg.SuppressorSettings, cfg.StreamConfig, standalone.mode, logger, tel.telemetry)
	if err != nil {
		return err
	}
	return run.wait()
}

// suppressorRun is a running suppressor.
type suppressorRun struct {
	adminAddr net.Addr
	done      chan struct{}
	err       error
}

// wait blocks until the suppressor has stopped after its ctx ended, or
// after its admin API failed, and returns the API's error.
func (r *suppressorRun) wait() error {
	<-r.done
	return r.err
}

// isLoopback reports whether a listen address accepts only local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startSuppressor creates the stream and the bucket when missing, and
// starts the index, the consumer and the admin API. The consumer and the
// index restart after an error, logged, until ctx ends.
func startSuppressor(ctx context.Context, js jetstream.JetStream, settings SuppressorSettings, streamCfg StreamConfig, mode mailevent.Mode, logger *slog.Logger, tel telemetry) (*suppressorRun, error) {
	if err := checkListenAddr("MAILBRIDGE_ADMIN_ADDR", settings.AdminAddr); err != nil {
		return nil, err
	}
	if settings.AdminToken == "" && !isLoopback(settings.AdminAddr) {
		return nil, fmt.Errorf("MAILBRIDGE_ADMIN_ADDR %s is not a loopback address and MAILBRIDGE_ADMIN_TOKEN is empty: set a token, or listen on 127.0.0.1", settings.AdminAddr)
	}
	if err := settings.validate(); err != nil {
		return nil, err
	}
	logger = logger.With(slog.String("component", "suppressor"))

	index := suppression.NewIndex()
	var metrics *suppression.Metrics
	if tel.Registry != nil {
		metrics = suppression.NewMetrics()
		if err := metrics.Register(tel.Registry, index); err != nil {
			return nil, fmt.Errorf("register suppression metrics: %w", err)
		}
	}

	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := stream.Ensure(setupCtx, js, streamSettings(streamCfg)); err != nil {
		return nil, err
	}
	store, err := suppression.NewStore(setupCtx, js, suppression.Config{
		Bucket:        settings.Bucket,
		Replicas:      streamCfg.StreamReplicas,
		SubjectPrefix: streamCfg.SubjectPrefix,
		Mode:          mode,
		Policy: suppression.Policy{
			SoftThreshold:     settings.SoftThreshold,
			SoftWindow:        settings.SoftWindow,
			DeferralThreshold: settings.DeferralThreshold,
			SenderReasons:     settings.SenderReasons,
		},
		Metrics: metrics,
		Logger:  logger,
	})
	if err != nil {
		return nil, err
	}

	listener, err := net.Listen("tcp", settings.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on MAILBRIDGE_ADMIN_ADDR %s: %w", settings.AdminAddr, err)
	}
	if settings.AdminToken == "" {
		logger.Warn("suppression admin api is open to local clients: set MAILBRIDGE_ADMIN_TOKEN to require a token")
	}

	// Each step is at least the ack wait, and JetStream takes at most
	// MaxDeliver steps.
	backoff := []time.Duration{settings.AckWait, 2 * settings.AckWait, 4 * settings.AckWait}
	backoff = backoff[:max(0, min(len(backoff), settings.MaxDeliver))]

	consumerCfg := consumer.Config{
		Stream:         streamCfg.StreamName,
		Durable:        settings.Durable,
		FilterSubjects: suppression.FilterSubjects(streamCfg.SubjectPrefix),
		AckWait:        settings.AckWait,
		MaxDeliver:     settings.MaxDeliver,
		Backoff:        backoff,
		SubjectPrefix:  streamCfg.SubjectPrefix,
		TracerProvider: tel.TracerProvider,
		Logger:         logger,
	}
	srv := &http.Server{
		Handler:           suppression.NewAPI(store, index, suppression.APIConfig{Token: settings.AdminToken, Metrics: metrics, Logger: logger}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	runCtx, stop := context.WithCancel(ctx)
	parts := make(chan struct{}, 2)
	go func() {
		keepRunning(runCtx, logger, "suppression index", func(ctx context.Context) error {
			return index.Run(ctx, store.Bucket(), logger)
		})
		parts <- struct{}{}
	}()
	go func() {
		keepRunning(runCtx, logger, "suppression consumer", func(ctx context.Context) error {
			return consumer.Run(ctx, js, consumerCfg, store.HandleEvent)
		})
		parts <- struct{}{}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(listener) }()
	logger.Info("suppression admin api listening", slog.String("admin_addr", listener.Addr().String()),
		slog.String("bucket", settings.Bucket), slog.String("durable", settings.Durable))

	run := &suppressorRun{adminAddr: listener.Addr(), done: make(chan struct{})}
	go func() {
		defer close(run.done)
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			run.err = fmt.Errorf("suppression admin api: %w", err)
		}
		stop()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) && run.err == nil {
			run.err = fmt.Errorf("suppression admin api shutdown: %w", err)
		}
		<-parts
		<-parts
		logger.Info("suppressor stopped")
	}()
	return run, nil
}

// keepRunning runs part until ctx ends, starting it again five seconds
// after it returns an error.
func keepRunning(ctx context.Context, logger *slog.Logger, name string, part func(context.Context) error) {
	for ctx.Err() == nil {
		err := part(ctx)
		if ctx.Err() != nil {
			return
		}
		logger.Error(name+" stopped; restarting in 5s", slog.Any("error", err))
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}
