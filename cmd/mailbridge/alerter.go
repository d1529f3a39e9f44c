package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/alert"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// AlertConfig is the alerter's own configuration, shared by serve and
// "mailbridge alerter".
type AlertConfig struct {
	Alerter string `envconfig:"ALERTER" default:"auto" desc:"run the alerter inside serve: auto (on with the embedded NATS server, off when NATS_URL is set), true or false"`

	Rules string `envconfig:"ALERT_RULES" desc:"path of a YAML rule file; when set it replaces the ALERT_HARD_BOUNCE_*, ALERT_DOMAIN_FAILURE_*, ALERT_DEFERRAL_*, ALERT_SILENCE_* and ALERT_COOLDOWN variables"`

	HardBounceWarning   alert.Ratio   `envconfig:"ALERT_HARD_BOUNCE_WARNING" default:"5%" desc:"hard bounce rate (hard failures / sends, per server composition) that fires a warning; 0 skips the level"`
	HardBounceCritical  alert.Ratio   `envconfig:"ALERT_HARD_BOUNCE_CRITICAL" default:"10%" desc:"hard bounce rate that fires a critical alert; 0 skips the level"`
	HardBounceWindow    time.Duration `envconfig:"ALERT_HARD_BOUNCE_WINDOW" default:"24h" desc:"sliding window of the hard bounce rate"`
	HardBounceMinVolume int64         `envconfig:"ALERT_HARD_BOUNCE_MIN_SENT" default:"200" desc:"sends in the window below which the hard bounce rate never fires"`

	DomainFailureWarning   alert.Ratio   `envconfig:"ALERT_DOMAIN_FAILURE_WARNING" default:"20%" desc:"failure rate at one recipient domain (failures / sends) that fires a warning; 0 skips the level"`
	DomainFailureCritical  alert.Ratio   `envconfig:"ALERT_DOMAIN_FAILURE_CRITICAL" default:"50%" desc:"failure rate at one recipient domain that fires a critical alert; 0 skips the level"`
	DomainFailureWindow    time.Duration `envconfig:"ALERT_DOMAIN_FAILURE_WINDOW" default:"1h" desc:"sliding window of the domain failure rate"`
	DomainFailureMinVolume int64         `envconfig:"ALERT_DOMAIN_FAILURE_MIN_SENT" default:"50" desc:"sends to the domain in the window below which its failure rate never fires"`

	DeferralWarning   alert.Ratio   `envconfig:"ALERT_DEFERRAL_WARNING" default:"20%" desc:"deferral rate (deferrals / delivery attempts, per server composition) that fires a warning; 0 skips the level"`
	DeferralCritical  alert.Ratio   `envconfig:"ALERT_DEFERRAL_CRITICAL" default:"50%" desc:"deferral rate that fires a critical alert; 0 skips the level"`
	DeferralWindow    time.Duration `envconfig:"ALERT_DEFERRAL_WINDOW" default:"1h" desc:"sliding window of the deferral rate"`
	DeferralMinVolume int64         `envconfig:"ALERT_DEFERRAL_MIN_ATTEMPTS" default:"50" desc:"delivery attempts in the window below which the deferral rate never fires"`

	SilenceAfter         time.Duration `envconfig:"ALERT_SILENCE_AFTER" default:"0" desc:"time without any event that fires a warning, such as 30m; 0 turns the silence rule off"`
	SilenceCriticalAfter time.Duration `envconfig:"ALERT_SILENCE_CRITICAL_AFTER" default:"0" desc:"time without any event that fires a critical alert; 0 skips the level"`

	Cooldown time.Duration `envconfig:"ALERT_COOLDOWN" default:"4h" desc:"shortest time between two notifications of an alert that stays at the same level; a higher level and a resolve are sent at once"`

	SlackURL       string        `envconfig:"ALERT_SLACK_URL" desc:"Slack-compatible incoming webhook URL that receives a readable message per alert"`
	WebhookURL     string        `envconfig:"ALERT_WEBHOOK_URL" desc:"HTTP endpoint that receives each alert as a CloudEvent (HTTP binding, binary mode)"`
	NotifyTimeout  time.Duration `envconfig:"ALERT_NOTIFY_TIMEOUT" default:"10s" desc:"time limit of one request to the Slack or webhook URL"`
	NotifyAttempts int           `envconfig:"ALERT_NOTIFY_ATTEMPTS" default:"5" desc:"tries per alert and URL, with backoff from 1s doubling to 30s, on network errors, 429 and 5xx"`

	Bucket           string        `envconfig:"ALERT_KV_BUCKET" default:"alerts" desc:"JetStream KV bucket of the alert states"`
	Durable          string        `envconfig:"ALERT_DURABLE" default:"alerter" desc:"name of the alerter's durable consumer"`
	EvaluateInterval time.Duration `envconfig:"ALERT_EVALUATE_INTERVAL" default:"30s" desc:"how often the rules are checked when no event arrives (events trigger a check 1s after they arrive)"`
	MetricsAddr      string        `envconfig:"ALERT_METRICS_ADDR" desc:"listen address of /metrics for 'mailbridge alerter' (serve exports the metrics on its own /metrics); empty for none"`
}

// alerterCommandConfig is the configuration of "mailbridge alerter".
type alerterCommandConfig struct {
	AlertConfig
	CloudEventsMode string `envconfig:"CLOUDEVENTS_MODE" default:"binary"`
	NATSConfig
	StreamConfig
	LogConfig
}

func init() {
	serveComponents = append(serveComponents, serveComponent{
		name:    "alerter",
		enabled: alerterEnabled,
		start:   startAlerterComponent,
	})
	helpSections = append(helpSections, helpSection{
		title:  "Alerting (mailbridge alerter, and serve unless MAILBRIDGE_ALERTER=false)",
		config: &AlertConfig{},
	})
}

// alerterEnabled reads MAILBRIDGE_ALERTER for serve.
func alerterEnabled(cfg serveConfig) (bool, error) {
	var ac AlertConfig
	if err := loadConfig(&ac); err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(ac.Alerter)) {
	case "auto", "":
		return cfg.NATSConfig.URL == "", nil
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("MAILBRIDGE_ALERTER %q is invalid: use auto, true or false", ac.Alerter)
}

func startAlerterComponent(ctx context.Context, env componentEnv) (func() error, error) {
	var ac AlertConfig
	if err := loadConfig(&ac); err != nil {
		return nil, err
	}
	mode, err := mailevent.ParseMode(env.Serve.CloudEventsMode)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_CLOUDEVENTS_MODE: %w", err)
	}
	a, err := newAlerter(ac, env.JS, env.Serve.StreamConfig, mode, env.Logger, env.telemetry())
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() error { return <-done }, nil
}

// newAlerter builds the Alerter of a configuration.
func newAlerter(ac AlertConfig, js jetstream.JetStream, sc StreamConfig, mode mailevent.Mode, logger *slog.Logger, tel telemetry) (*alert.Alerter, error) {
	if err := ac.validate(); err != nil {
		return nil, err
	}
	rules, err := alertRules(ac)
	if err != nil {
		return nil, err
	}
	retry := alert.Retry{Attempts: ac.NotifyAttempts, Timeout: ac.NotifyTimeout}
	var notifiers []alert.Notifier
	if ac.SlackURL != "" {
		notifiers = append(notifiers, alert.SlackNotifier{URL: ac.SlackURL, Retry: retry})
	}
	if ac.WebhookURL != "" {
		notifiers = append(notifiers, alert.WebhookNotifier{URL: ac.WebhookURL, Retry: retry})
	}
	logger = logger.With(slog.String("component", "alerter"))
	return alert.New(js, alert.Config{
		Stream:           sc.StreamName,
		Subjects:         mailevent.Subjects{Prefix: sc.SubjectPrefix},
		Durable:          ac.Durable,
		Bucket:           ac.Bucket,
		Replicas:         sc.StreamReplicas,
		Rules:            &rules,
		Mode:             mode,
		Notifiers:        notifiers,
		EvaluateInterval: ac.EvaluateInterval,
		Logger:           logger,
		Registerer:       tel.Registry,
		TracerProvider:   tel.TracerProvider,
	})
}

// alertRules returns the rule file's rules when MAILBRIDGE_ALERT_RULES is
// set, else the rules of the variables.
func alertRules(ac AlertConfig) (alert.Rules, error) {
	if ac.Rules != "" {
		f, err := os.Open(ac.Rules)
		if err != nil {
			return alert.Rules{}, fmt.Errorf("MAILBRIDGE_ALERT_RULES: %w", err)
		}
		defer f.Close()
		rules, err := alert.ParseRules(f)
		if err != nil {
			return alert.Rules{}, fmt.Errorf("MAILBRIDGE_ALERT_RULES %s: %w", ac.Rules, err)
		}
		return rules, nil
	}
	rules := alert.Rules{
		Cooldown: ac.Cooldown,
		HardBounceRate: alert.RateRule{
			Enabled: true, Warning: ac.HardBounceWarning, Critical: ac.HardBounceCritical,
			Window: ac.HardBounceWindow, MinVolume: ac.HardBounceMinVolume,
		},
		DomainFailureRate: alert.RateRule{
			Enabled: true, Warning: ac.DomainFailureWarning, Critical: ac.DomainFailureCritical,
			Window: ac.DomainFailureWindow, MinVolume: ac.DomainFailureMinVolume,
		},
		DeferralRate: alert.RateRule{
			Enabled: true, Warning: ac.DeferralWarning, Critical: ac.DeferralCritical,
			Window: ac.DeferralWindow, MinVolume: ac.DeferralMinVolume,
		},
		Silence: alert.SilenceRule{
			Enabled: ac.SilenceAfter > 0 || ac.SilenceCriticalAfter > 0,
			Warning: ac.SilenceAfter, Critical: ac.SilenceCriticalAfter,
		},
	}
	if err := rules.Validate(); err != nil {
		return alert.Rules{}, fmt.Errorf("MAILBRIDGE_ALERT_* variables: %w", err)
	}
	return rules, nil
}

func runAlerter(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	flags := flag.NewFlagSet("alerter", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, `Usage: mailbridge alerter

Runs the alerting consumer on its own, against MAILBRIDGE_NATS_URL (or the
embedded server of a running 'mailbridge serve'). It takes no flags: see
'mailbridge help' for its environment variables.

Example:
  MAILBRIDGE_NATS_URL=nats://nats-1:4222 MAILBRIDGE_ALERT_SLACK_URL=https://hooks.slack.com/services/... mailbridge alerter
`)
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: alerter takes no arguments, got %q", errUsage, flags.Args())
	}

	var cfg alerterCommandConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	run, err := startStandalone(ctx, standaloneConfig{
		Name: "alerter", CloudEventsMode: cfg.CloudEventsMode,
		NATS: cfg.NATSConfig, Stream: cfg.StreamConfig, Log: cfg.LogConfig,
		Validate: cfg.AlertConfig.validate,
	}, stderr)
	if err != nil {
		return err
	}
	defer run.close()
	logger, tel := run.logger, run.tel

	a, err := newAlerter(cfg.AlertConfig, run.js, cfg.StreamConfig, run.mode, logger, tel.telemetry)
	if err != nil {
		return err
	}
	if err := tel.serve(cfg.MetricsAddr, "MAILBRIDGE_ALERT_METRICS_ADDR", logger); err != nil {
		return err
	}
	logger.Info("alerter starting", slog.String("stream", cfg.StreamConfig.StreamName))
	return a.Run(ctx)
}
